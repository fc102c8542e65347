import { ArmError } from "./armError.js";
import type { EmulatorContext } from "./context.js";
import { KqlError, parseKql, runKql, typeRestriction } from "./kql.js";
import { VM_TYPE, powerStateOf, subscriptionFact } from "./resourceTypes.js";
import type { JsonObject, StoredResource } from "./store.js";

type Row = Record<string, unknown>;

const SUBSCRIPTION_KEY = "microsoft.resources/subscriptions";
const RESOURCE_GROUP_KEY = "microsoft.resources/resourcegroups";
/** ARG's name for resource groups differs from their ARM type. */
const RESOURCE_GROUP_ROW_TYPE = "microsoft.resources/subscriptions/resourcegroups";

/** Which Resource Graph table a stored type appears in; everything else is `resources`. */
export function tableOf(typeKey: string): string {
  if (typeKey === SUBSCRIPTION_KEY || typeKey === RESOURCE_GROUP_KEY) return "resourcecontainers";
  if (typeKey === "microsoft.insights/datacollectionruleassociations") return "insightsresources";
  if (typeKey.startsWith("microsoft.security/")) return "securityresources";
  if (typeKey.startsWith("microsoft.authorization/policy")) return "policyresources";
  if (typeKey.startsWith("microsoft.authorization/")) return "authorizationresources";
  return "resources";
}

const TABLES = new Set(["resources", "resourcecontainers", "insightsresources", "securityresources", "policyresources", "authorizationresources"]);
const MAX_TOP = 1000;
const CACHED_RESULTS = 32;

/**
 * POST /providers/Microsoft.ResourceGraph/resources. A query's full result is computed once and kept
 * under the `$skipToken` it hands out, so paging 100,000 rows costs one evaluation, as in real ARG.
 */
export class ResourceGraph {
  private readonly results = new Map<string, Row[]>();
  private readonly rows = new WeakMap<StoredResource, Row>();
  private nextResultId = 1;

  constructor(private readonly ctx: EmulatorContext) {}

  reset(): void {
    this.results.clear();
  }

  query(body: unknown): JsonObject {
    const request = (body ?? {}) as JsonObject;
    if (typeof request.query !== "string") throw badQuery("The request must contain a 'query' string.");
    const options = (request.options as JsonObject | undefined) ?? {};
    const top = Math.min(Number(options.$top ?? MAX_TOP), MAX_TOP);
    if (!Number.isInteger(top) || top < 1) throw badQuery("$top must be an integer between 1 and 1000.");
    if (options.resultFormat !== undefined && options.resultFormat !== "objectArray") {
      throw badQuery("Only resultFormat 'objectArray' is supported by the local emulator.");
    }

    const token = typeof options.$skipToken === "string" ? decodeToken(options.$skipToken) : undefined;
    let resultId = token?.resultId;
    let rows = resultId ? this.results.get(resultId) : undefined;
    if (!rows) {
      rows = this.evaluate(request.query, request.subscriptions);
      resultId = String(this.nextResultId++);
      this.results.set(resultId, rows);
      if (this.results.size > CACHED_RESULTS) this.results.delete(this.results.keys().next().value as string);
    }
    const offset = token?.offset ?? Number(options.$skip ?? 0);
    const data = rows.slice(offset, offset + top);
    const end = offset + data.length;
    return {
      totalRecords: rows.length,
      count: data.length,
      data,
      resultTruncated: "false",
      ...(end < rows.length ? { $skipToken: encodeToken(resultId as string, end) } : {}),
      facets: [],
    };
  }

  private evaluate(text: string, subscriptions: unknown): Row[] {
    let parsed;
    try {
      parsed = parseKql(text);
    } catch (e) {
      if (e instanceof KqlError) throw badQuery(e.message);
      throw e;
    }
    if (!TABLES.has(parsed.table)) throw badQuery(`unknown table '${parsed.table}'`);
    const subs =
      Array.isArray(subscriptions) && subscriptions.length > 0 ? subscriptions.map(String) : this.allSubscriptions();
    const types = typeRestriction(parsed)?.map((t) => (t === RESOURCE_GROUP_ROW_TYPE ? RESOURCE_GROUP_KEY : t));
    return runKql(parsed, this.tableRows(parsed.table, subs, types));
  }

  private allSubscriptions(): string[] {
    return this.ctx.store.listByContainer("", SUBSCRIPTION_KEY).map((e) => e.subscriptionId ?? "");
  }

  private *tableRows(table: string, subscriptions: string[], types: string[] | undefined): Iterable<Row> {
    for (const sub of subscriptions) {
      for (const type of types ?? this.ctx.store.typesInSubscription(sub)) {
        if (tableOf(type) !== table) continue;
        for (const entry of this.ctx.store.listBySubscription(sub, type)) yield this.rowOf(entry);
      }
    }
  }

  /** Rows are cached per stored entry; the store replaces entries on every write, so they never go stale. */
  private rowOf(entry: StoredResource): Row {
    let row = this.rows.get(entry);
    if (!row) {
      row = buildRow(entry, this.tenantOf(entry.subscriptionId));
      this.rows.set(entry, row);
    }
    return row;
  }

  private tenantOf(subscriptionId: string | undefined): string {
    const sub = subscriptionId ? this.ctx.store.get(`/subscriptions/${subscriptionId}`) : undefined;
    return subscriptionFact(sub, "tenantId") ?? this.ctx.tenantId;
  }
}

function buildRow(entry: StoredResource, tenantId: string): Row {
  const r = entry.resource;
  const type = entry.typeKey === RESOURCE_GROUP_KEY ? RESOURCE_GROUP_ROW_TYPE : entry.typeKey;
  let properties = (r.properties as JsonObject | undefined) ?? {};
  if (entry.typeKey === VM_TYPE) {
    // ARG has no instanceView on VMs; it synthesises properties.extended.instanceView.powerState.
    const { instanceView: _omit, ...rest } = properties;
    const state = powerStateOf(r);
    const displayStatus = { running: "VM running", deallocated: "VM deallocated", stopped: "VM stopped" }[state];
    properties = { ...rest, extended: { instanceView: { powerState: { code: `PowerState/${state}`, displayStatus } } } };
  }
  if (entry.typeKey === SUBSCRIPTION_KEY) properties = { state: subscriptionFact(r, "state") ?? "Enabled" };
  return {
    id: r.id,
    name: entry.typeKey === SUBSCRIPTION_KEY ? (subscriptionFact(r, "displayName") ?? r.name) : r.name,
    type,
    tenantId,
    kind: r.kind ?? "",
    location: r.location ?? "",
    resourceGroup: entry.resourceGroup ?? "",
    subscriptionId: entry.subscriptionId ?? "",
    managedBy: r.managedBy ?? "",
    sku: r.sku ?? null,
    plan: r.plan ?? null,
    properties,
    tags: r.tags ?? {},
    identity: r.identity ?? null,
  };
}

function badQuery(message: string): ArmError {
  return new ArmError(400, "BadRequest", "Please provide below info when asking for support: query is invalid.", {}, [
    { code: "InvalidQuery", message: `Query is invalid. ${message}` },
  ]);
}

function encodeToken(resultId: string, offset: number): string {
  return Buffer.from(JSON.stringify({ r: resultId, o: offset })).toString("base64url");
}

function decodeToken(token: string): { resultId: string; offset: number } {
  try {
    const { r, o } = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { r: string; o: number };
    if (typeof r === "string" && Number.isInteger(o) && o >= 0) return { resultId: r, offset: o };
  } catch {
    // fall through to the error below
  }
  throw badQuery("The $skipToken is not valid.");
}
