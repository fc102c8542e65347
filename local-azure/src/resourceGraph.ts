import { randomUUID } from "node:crypto";
import { ArmError } from "./armError.js";
import { lower, parseArmPath } from "./armPath.js";
import type { EmulatorContext } from "./context.js";
import { GraphLag, type GraphLagOptions } from "./graphLag.js";
import { KqlError, isOrdered, isSummarized, parseKql, runKql, typeRestriction, type KqlQuery } from "./kql.js";
import { MANAGEMENT_GROUP_TYPE, ancestorsOf } from "./managementGroups.js";
import { mulberry32 } from "./random.js";
import { ChangeLog, type ChangeAttributes, type ChangeTable, type ChangeType } from "./resourceChanges.js";
import { VM_TYPE, powerStateOf, subscriptionFact } from "./resourceTypes.js";
import type { JsonObject, StoredResource } from "./store.js";

type Row = Record<string, unknown>;

const SUBSCRIPTION_KEY = "microsoft.resources/subscriptions";
const RESOURCE_GROUP_KEY = "microsoft.resources/resourcegroups";
/** ARG's name for resource groups differs from their ARM type. */
const RESOURCE_GROUP_ROW_TYPE = "microsoft.resources/subscriptions/resourcegroups";

/**
 * The Resource Graph table of each stored type, from Microsoft's table reference
 * (articles/governance/resource-graph/reference/supported-tables-resources.md). A type not listed there
 * is in no table: `microsoft.security/autoprovisioningsettings` and `workspacesettings` are not in
 * securityresources, so ARG never returns them. (The reference spells the insights table
 * "insightresources"; queries and Microsoft's samples use `insightsresources`.)
 */
const TABLE_OF: Readonly<Record<string, string>> = {
  [SUBSCRIPTION_KEY]: "resourcecontainers",
  [RESOURCE_GROUP_KEY]: "resourcecontainers",
  [MANAGEMENT_GROUP_TYPE]: "resourcecontainers",
  "microsoft.insights/datacollectionruleassociations": "insightsresources",
  "microsoft.security/pricings": "securityresources",
  "microsoft.authorization/policyassignments": "policyresources",
  "microsoft.authorization/policydefinitions": "policyresources",
  "microsoft.authorization/policysetdefinitions": "policyresources",
  "microsoft.authorization/policyexemptions": "policyresources",
  "microsoft.authorization/roleassignments": "authorizationresources",
  "microsoft.authorization/roledefinitions": "authorizationresources",
  "microsoft.compute/virtualmachines": "resources",
  "microsoft.compute/virtualmachines/extensions": "resources",
  "microsoft.hybridcompute/machines": "resources",
  "microsoft.hybridcompute/machines/extensions": "resources",
  "microsoft.insights/datacollectionrules": "resources",
  "microsoft.operationalinsights/workspaces": "resources",
  "microsoft.operationsmanagement/solutions": "resources",
  "microsoft.managedidentity/userassignedidentities": "resources",
  "microsoft.sqlvirtualmachine/sqlvirtualmachines": "resources",
  "microsoft.storage/storageaccounts": "resources",
  "microsoft.eventgrid/systemtopics": "resources",
};

/** Which Resource Graph table a stored type appears in; undefined when it is in none. */
export function tableOf(typeKey: string): string | undefined {
  return TABLE_OF[typeKey];
}

/** Resource Graph keeps change history for the `resources` and `resourcecontainers` tables (resourceChanges.ts). */
const CHANGE_TABLE_OF: Readonly<Record<string, ChangeTable>> = { resources: "resourcechanges", resourcecontainers: "resourcecontainerchanges" };
const CHANGE_TABLES = new Set<string>(Object.values(CHANGE_TABLE_OF));
const TABLES = new Set([...Object.values(TABLE_OF), ...CHANGE_TABLES]);
/** Tables whose rows can sit at a management group, where `authorizationScopeFilter` decides what a query sees. */
const AUTHORIZATION_TABLES = new Set(["policyresources", "authorizationresources"]);
const SCOPE_FILTERS = ["AtScopeAndBelow", "AtScopeAndAbove", "AtScopeExact", "AtScopeAboveAndBelow"] as const;
type ScopeFilter = (typeof SCOPE_FILTERS)[number];
const MAX_TOP = 1000;
const CACHED_RESULTS = 32;
/** ARG's response limit: "Response payload size is N, and has exceeded the limit of 16777216". */
const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface ResourceGraphOptions {
  /** A response whose JSON is larger fails with 400 ResponsePayloadTooLarge; default 16 MiB, as in Azure. */
  maxResponseBytes?: number;
  /** Seeds the order unordered results come back in (a new order on every page request); default 1. */
  seed?: number;
  /**
   * VM rows carry `properties.extended.instanceView.powerState`, a preview feature of Resource Graph;
   * false models estates where it is absent. Default true.
   */
  extendedProperties?: boolean;
  /**
   * Resource Graph learns of ARM's changes late (graphLag.ts): options switch the lag on (omitted ones keep their
   * values), false (the default) switches it off, so queries see every change at once.
   */
  lag?: GraphLagOptions | false;
}

/** Which rows a request may see: its subscriptions, and management groups whose own rows are included. */
interface Scope {
  subscriptions: string[];
  /** Authorization rows: everything inside the subscriptions (true) or only those at them. */
  below: boolean;
  managementGroups: string[];
}

interface GraphRequest {
  query: KqlQuery;
  scope: Scope;
  top: number;
  token?: { resultId?: string; offset: number };
  skip: number;
}

/** A query's rows; ordered results are cached under `id` so that paging them costs one evaluation. */
interface Result {
  id?: string;
  rows: Row[];
  firstPageOnly: boolean;
}

/**
 * POST /providers/Microsoft.ResourceGraph/resources. An ordered query's full result is computed once and
 * kept under the `$skipToken` it hands out, so paging 100,000 rows costs one evaluation. An unordered
 * one is evaluated again for every page and comes back in a new order each time, because Azure makes no
 * promise about it: "Without sorting, results are random and not repeatable" (concepts/paging-results.md),
 * so paging it yields duplicates and gaps.
 */
export class ResourceGraph {
  private readonly results = new Map<string, Row[]>();
  private rows = new WeakMap<StoredResource, Row>();
  private readonly rowBytes = new WeakMap<Row, number>();
  private nextResultId = 1;
  private options: Required<Omit<ResourceGraphOptions, "lag">> = defaultOptions();
  private random = mulberry32(this.options.seed);
  private readonly changes = new ChangeLog();
  private readonly lag = new GraphLag();

  constructor(private readonly ctx: EmulatorContext) {}

  configure({ lag, ...options }: ResourceGraphOptions): void {
    if (lag !== undefined) this.lag.configure(lag);
    this.options = { ...this.options, ...options };
    this.random = mulberry32(this.options.seed);
    this.rows = new WeakMap();
  }

  /** ARM seconds per wall second for the lag, the throttle's `timeScale`. */
  setTimeScale(timeScale: number): void {
    this.lag.setTimeScale(timeScale);
  }

  /** Cached results, the change history and pending lags go; options stay. */
  reset(): void {
    this.results.clear();
    this.changes.clear();
    this.lag.reset();
    this.random = mulberry32(this.options.seed);
  }

  /** A store change ARM served (before: undefined when created; after: undefined when deleted), which Resource Graph hears of late when the lag is on. */
  armChanged(before: StoredResource | undefined, after: StoredResource | undefined): void {
    const key = (after ?? before)?.key;
    if (key !== undefined) this.lag.record(key, before, after);
  }

  /** A control-API change stands for the estate as it was: Resource Graph shows it at once. */
  controlChanged(id: string): void {
    this.lag.forget(lower(parseArmPath(id).path));
  }

  /**
   * A create, update or delete the emulator served, as a row of the change table of the target's table;
   * types in other tables (associations, pricings, policy and role assignments) and management groups have
   * no change history. `before`: the resource as it was, for an Update.
   */
  recordChange(changeType: ChangeType, target: StoredResource, attributes: ChangeAttributes, before?: JsonObject): void {
    const table = CHANGE_TABLE_OF[tableOf(target.typeKey) ?? ""];
    if (!table || target.typeKey === MANAGEMENT_GROUP_TYPE) return;
    const targetType = target.typeKey === RESOURCE_GROUP_KEY ? RESOURCE_GROUP_ROW_TYPE : target.typeKey;
    this.changes.record({ table, changeType, target, targetType, tenantId: this.tenantOf(target.subscriptionId), ...attributes, ...(before ? { before } : {}) });
  }

  query(body: unknown): JsonObject {
    const request = this.parseRequest((body ?? {}) as JsonObject);
    const result = this.result(request);
    const offset = request.token?.offset ?? request.skip;
    const data = result.rows.slice(offset, offset + request.top);
    const end = offset + data.length;
    const more = end < result.rows.length;
    this.checkSize(data);
    return {
      totalRecords: result.rows.length,
      count: data.length,
      data,
      // summarize answers its first page only ("Simplified first page only", concepts/query-language.md).
      resultTruncated: more && result.firstPageOnly ? "true" : "false",
      ...(more && !result.firstPageOnly ? { $skipToken: encodeToken(result.id, end) } : {}),
      facets: [],
    };
  }

  private parseRequest(request: JsonObject): GraphRequest {
    if (typeof request.query !== "string") throw badQuery("The request must contain a 'query' string.");
    const options = (request.options as JsonObject | undefined) ?? {};
    const top = Math.min(Number(options.$top ?? MAX_TOP), MAX_TOP);
    if (!Number.isInteger(top) || top < 1) throw badQuery("$top must be an integer between 1 and 1000.");
    if (options.resultFormat !== undefined && options.resultFormat !== "objectArray") {
      throw badQuery("Only resultFormat 'objectArray' is supported by the local emulator.");
    }
    const query = parse(request.query);
    if (!TABLES.has(query.table)) throw badQuery(`unknown table '${query.table}'`);
    return {
      query,
      scope: this.scopeOf(request.subscriptions, options.authorizationScopeFilter),
      top,
      token: typeof options.$skipToken === "string" ? decodeToken(options.$skipToken) : undefined,
      skip: Number(options.$skip ?? 0),
    };
  }

  /**
   * A subscription list sees what is inside those subscriptions; `authorizationScopeFilter`
   * (QueryRequestOptions, default AtScopeAndBelow) adds the management groups above them ("Above") or
   * narrows authorization rows to those at the subscriptions ("Exact"). No list is the whole tenant,
   * management groups included.
   */
  private scopeOf(subscriptions: unknown, filterOption: unknown): Scope {
    const filter = (filterOption ?? "AtScopeAndBelow") as ScopeFilter;
    if (!SCOPE_FILTERS.includes(filter)) throw badQuery(`authorizationScopeFilter must be one of ${SCOPE_FILTERS.join(", ")}.`);
    if (!Array.isArray(subscriptions) || subscriptions.length === 0) {
      const groups = this.ctx.store.listByContainer("", MANAGEMENT_GROUP_TYPE).map((g) => g.resource.id);
      return { subscriptions: this.allSubscriptions(), below: true, managementGroups: groups };
    }
    const ids = subscriptions.map(String);
    const above = filter === "AtScopeAndAbove" || filter === "AtScopeAboveAndBelow";
    const groups = above ? ids.flatMap((id) => ancestorsOf(this.ctx.store, id).map((g) => g.id)) : [];
    return { subscriptions: ids, below: filter === "AtScopeAndBelow" || filter === "AtScopeAboveAndBelow", managementGroups: [...new Set(groups)] };
  }

  private result(request: GraphRequest): Result {
    const cached = request.token?.resultId ? this.results.get(request.token.resultId) : undefined;
    if (cached) return { id: request.token?.resultId, rows: cached, firstPageOnly: false };
    const rows = runKql(request.query, this.tableRows(request.query, request.scope));
    const firstPageOnly = isSummarized(request.query);
    if (!isOrdered(request.query)) return { rows: this.shuffle(rows), firstPageOnly };
    const id = String(this.nextResultId++);
    this.results.set(id, rows);
    if (this.results.size > CACHED_RESULTS) this.results.delete(this.results.keys().next().value as string);
    return { id, rows, firstPageOnly };
  }

  /** Fisher–Yates with the emulator's seeded generator, so a test sees the same "random" order every run. */
  private shuffle(rows: Row[]): Row[] {
    const shuffled = [...rows];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j] as Row, shuffled[i] as Row];
    }
    return shuffled;
  }

  /** The response must fit ARG's payload limit; row sizes are measured once per row object. */
  private checkSize(data: Row[]): void {
    let bytes = 0;
    for (const row of data) {
      let size = this.rowBytes.get(row);
      if (size === undefined) {
        size = Buffer.byteLength(JSON.stringify(row)) + 1;
        this.rowBytes.set(row, size);
      }
      bytes += size;
    }
    if (bytes > this.options.maxResponseBytes) {
      throw graphError(
        "ResponsePayloadTooLarge",
        `Response payload size is ${bytes}, and has exceeded the limit of ${this.options.maxResponseBytes}. ` +
          "Please consider querying less data at a time and make paginated call if needed.",
      );
    }
  }

  private allSubscriptions(): string[] {
    return this.ctx.store.listByContainer("", SUBSCRIPTION_KEY).map((e) => e.subscriptionId ?? "");
  }

  /** The table's rows in scope, each resource as Resource Graph has seen it (see `lag`). */
  private *tableRows(query: KqlQuery, scope: Scope): Iterable<Row> {
    if (CHANGE_TABLES.has(query.table)) {
      for (const sub of scope.subscriptions) yield* this.changes.list(query.table as ChangeTable, sub);
      return;
    }
    const rowScope = this.rowScopeOf(query, scope);
    this.lag.settle();
    for (const entry of this.storedEntries(rowScope)) {
      const seen = this.lag.view(entry);
      if (seen) yield this.rowOf(seen);
    }
    for (const gone of this.lag.deleted()) if (inRowScope(gone, rowScope)) yield this.rowOf(gone);
  }

  private rowScopeOf(query: KqlQuery, scope: Scope): RowScope {
    return {
      ...scope,
      table: query.table,
      types: typeRestriction(query)?.map((t) => (t === RESOURCE_GROUP_ROW_TYPE ? RESOURCE_GROUP_KEY : t)),
      exactOnly: AUTHORIZATION_TABLES.has(query.table) && !scope.below,
    };
  }

  /** What the store holds in a row scope, found through its indexes (`inRowScope` decides the same for one entry). */
  private *storedEntries(rowScope: RowScope): Iterable<StoredResource> {
    const inTable = (type: string): boolean => tableOf(type) === rowScope.table;
    for (const sub of rowScope.subscriptions) {
      const subscriptionKey = lower(`/subscriptions/${sub}`);
      for (const type of rowScope.types ?? this.ctx.store.typesInSubscription(sub)) {
        if (!inTable(type)) continue;
        for (const entry of this.ctx.store.listBySubscription(sub, type)) {
          if (!rowScope.exactOnly || entry.containerKey === subscriptionKey) yield entry;
        }
      }
    }
    const groupTypes = (rowScope.types ?? Object.keys(TABLE_OF)).filter((type) => inTable(type));
    for (const group of rowScope.managementGroups) {
      const own = this.ctx.store.entry(group);
      if (own && groupTypes.includes(MANAGEMENT_GROUP_TYPE)) yield own;
      for (const type of groupTypes) yield* this.ctx.store.listByContainer(group, type);
    }
  }

  /**
   * Rows are cached per stored entry; the store replaces entries on every write, so they never go stale.
   * Subscription rows are built afresh: their management-group chain lives in other entries.
   */
  private rowOf(entry: StoredResource): Row {
    if (entry.typeKey === SUBSCRIPTION_KEY) return this.buildRow(entry);
    let row = this.rows.get(entry);
    if (!row) {
      row = this.buildRow(entry);
      this.rows.set(entry, row);
    }
    return row;
  }

  private buildRow(entry: StoredResource): Row {
    const r = entry.resource;
    return {
      id: r.id,
      name: entry.typeKey === SUBSCRIPTION_KEY ? (subscriptionFact(r, "displayName") ?? r.name) : r.name,
      // ARG returns types lower-cased; ids keep the casing they were written with.
      type: entry.typeKey === RESOURCE_GROUP_KEY ? RESOURCE_GROUP_ROW_TYPE : entry.typeKey,
      tenantId: this.tenantOf(entry.subscriptionId),
      kind: r.kind ?? "",
      location: r.location ?? "",
      resourceGroup: entry.resourceGroup ?? "",
      subscriptionId: entry.subscriptionId ?? "",
      managedBy: r.managedBy ?? "",
      sku: r.sku ?? null,
      plan: r.plan ?? null,
      properties: this.propertiesOf(entry),
      tags: r.tags ?? {},
      identity: r.identity ?? null,
    };
  }

  private propertiesOf(entry: StoredResource): JsonObject {
    const r = entry.resource;
    const properties = (r.properties as JsonObject | undefined) ?? {};
    if (entry.typeKey === VM_TYPE) return this.vmProperties(entry, properties);
    if (entry.typeKey !== SUBSCRIPTION_KEY) return properties;
    // Nearest group first, as `tostring(properties.managementGroupAncestorsChain[0].name)` is the parent in
    // Microsoft's samples (articles/governance/management-groups/resource-graph-samples.md).
    const chain = ancestorsOf(this.ctx.store, entry.subscriptionId ?? "").map((g) => ({
      name: g.name,
      displayName: String(g.properties?.displayName ?? g.name),
    }));
    return { state: subscriptionFact(r, "state") ?? "Enabled", managementGroupAncestorsChain: chain };
  }

  /** ARG has no instanceView on VMs; it synthesises properties.extended.instanceView.powerState (preview). */
  private vmProperties(entry: StoredResource, properties: JsonObject): JsonObject {
    const { instanceView: _omit, ...rest } = properties;
    if (!this.options.extendedProperties) return rest;
    const state = powerStateOf(entry.resource);
    const displayStatus = { running: "VM running", deallocated: "VM deallocated", stopped: "VM stopped" }[state];
    return { ...rest, extended: { instanceView: { powerState: { code: `PowerState/${state}`, displayStatus } } } };
  }

  private tenantOf(subscriptionId: string | undefined): string {
    const sub = subscriptionId ? this.ctx.store.get(`/subscriptions/${subscriptionId}`) : undefined;
    return subscriptionFact(sub, "tenantId") ?? this.ctx.tenantId;
  }
}

/** Which stored resources a query of a resource table reads: its table, the types it names, and its scope. */
interface RowScope extends Scope {
  table: string;
  /** The types the query restricts itself to (store keys), if any. */
  types?: string[];
  /** Authorization rows at the subscriptions only (AtScopeExact). */
  exactOnly: boolean;
}

/** Whether one stored resource is in a row scope: what `storedEntries` finds through the indexes. */
function inRowScope(entry: StoredResource, rowScope: RowScope): boolean {
  if (tableOf(entry.typeKey) !== rowScope.table || (rowScope.types && !rowScope.types.includes(entry.typeKey))) return false;
  if (entry.subscriptionId === undefined) return rowScope.managementGroups.some((group) => lower(group) === entry.key || lower(group) === entry.containerKey);
  const sub = lower(entry.subscriptionId);
  if (!rowScope.subscriptions.some((s) => lower(s) === sub)) return false;
  return !rowScope.exactOnly || entry.containerKey === lower(`/subscriptions/${sub}`);
}

function defaultOptions(): Required<Omit<ResourceGraphOptions, "lag">> {
  return { maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES, seed: 1, extendedProperties: true };
}

function parse(text: string): KqlQuery {
  try {
    return parseKql(text);
  } catch (e) {
    if (e instanceof KqlError) throw badQuery(e.message);
    throw e;
  }
}

/** ARG's error shape: 400 BadRequest naming timestamp and correlation id, one detail with the specific code. */
function graphError(code: string, message: string): ArmError {
  const support = `Please provide below info when asking for support: timestamp = ${new Date().toISOString()}, correlationId = ${randomUUID()}.`;
  return new ArmError(400, "BadRequest", support, {}, [{ code, message }]);
}

function badQuery(message: string): ArmError {
  return graphError("InvalidQuery", `Query is invalid. ${message}`);
}

function encodeToken(resultId: string | undefined, offset: number): string {
  return Buffer.from(JSON.stringify({ r: resultId, o: offset })).toString("base64url");
}

function decodeToken(token: string): { resultId?: string; offset: number } {
  try {
    const { r, o } = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { r?: string; o: number };
    if ((r === undefined || typeof r === "string") && Number.isInteger(o) && o >= 0) return { resultId: r, offset: o };
  } catch {
    // fall through to the error below
  }
  throw badQuery("The $skipToken is not valid.");
}
