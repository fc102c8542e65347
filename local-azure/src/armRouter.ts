import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import {
  ArmError,
  anotherOperationInProgress,
  parentResourceNotFound,
  resourceGroupNotFound,
  resourceNotFound,
  subscriptionNotFound,
  tooManyRequests,
} from "./armError.js";
import { RESOURCE_GROUP_TYPE, SUBSCRIPTION_TYPE, lower, normalisePath, parseArmPath, type ArmPath } from "./armPath.js";
import type { EmulatorContext } from "./context.js";
import type { ArmEventType } from "./events.js";
import { mergeIdentity } from "./identity.js";
import { policyDenial } from "./policyDeny.js";
import { assignmentsForSubscription } from "./managementGroups.js";
import type { Operation } from "./lro.js";
import { rbacActionFor } from "./rbac.js";
import type { RequestKind, RequestLog } from "./requestLog.js";
import type { ResourceGraph } from "./resourceGraph.js";
import type { ChangeAttributes } from "./resourceChanges.js";
import { VM_TYPE, behaviourOf, etagOf, withPowerState, type PowerState, type TypeBehaviour, type WriteInput } from "./resourceTypes.js";
import type { ArmResource, JsonObject, StoredResource } from "./store.js";
import { formatDuration } from "./throttle.js";

export interface ArmRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; `invalidJson` when the bytes were not JSON. */
  body: unknown;
  invalidJson?: boolean;
}

export interface ArmResponse {
  status: number;
  body?: unknown;
  headers: Record<string, string>;
  /** Faults: destroy the connection instead of answering / answer after this delay. */
  drop?: boolean;
  delayMs?: number;
}

/** What ARM's event for an operation says of the request that started it. */
interface RequestOrigin {
  method: string;
  url: string;
  correlationId: string;
  /** The If-Match header, for types with optimistic concurrency. */
  ifMatch?: string;
}

/** VM power actions (`POST {vm}/<action>`) and the power state each leaves. */
const POWER_ACTIONS: Record<string, PowerState> = { start: "running", restart: "running", deallocate: "deallocated", poweroff: "stopped" };
const TAGS_TYPE = "microsoft.resources/tags";

/** What a request is about, known before it is authorised, throttled or served. */
interface RequestInfo {
  kind: RequestKind;
  resourceType: string;
  action: string;
  subscriptionId?: string;
  parsed?: ArmPath;
  graph?: boolean;
}

const GRAPH_PATH = "/providers/microsoft.resourcegraph/resources";
const OPERATION_TYPE = /\/locations\/(operations|operationstatus|operationresults)$/i;
const PRINCIPAL_OBJECT_ID = "00000000-0000-0000-0000-00000000c11e";
/** Assignments a subscription inherits from the management groups above it. */
const INHERITED_TYPES = new Set(["microsoft.authorization/policyassignments", "microsoft.authorization/roleassignments"]);

/**
 * The ARM front door: authentication, api-version, throttling, faults and RBAC, then the resource
 * semantics. HTTP-free so that the HTTPS server stays a thin adapter.
 */
export class ArmRouter {
  constructor(
    private readonly ctx: EmulatorContext,
    private readonly graph: ResourceGraph,
    private readonly log: RequestLog,
    private readonly token: string,
  ) {}

  handle(req: ArmRequest): ArmResponse {
    const started = performance.now();
    this.ctx.operations.settle();
    const fault = this.ctx.faults.forRequest();
    const headers: Record<string, string> = {
      "x-ms-request-id": randomUUID(),
      "x-ms-correlation-request-id":
        header(req.headers, "x-ms-correlation-request-id") ?? header(req.headers, "x-ms-client-request-id") ?? randomUUID(),
    };
    let info: RequestInfo = { kind: "read", resourceType: "", action: "" };
    let response: { status: number; body?: unknown; headers?: Record<string, string> };
    try {
      info = describe(req);
      response = this.serve(req, info, fault.status, headers);
    } catch (error) {
      const armError =
        error instanceof ArmError ? error : new ArmError(500, "InternalServerError", `Emulator error: ${String(error)}`);
      response = { status: armError.status, body: armError.body(), headers: armError.headers };
    }
    const merged = { ...headers, ...response.headers };
    const code = (response.body as { error?: { code?: string } } | undefined)?.error?.code;
    this.log.add({
      method: req.method,
      path: req.url.pathname,
      apiVersion: req.url.searchParams.get("api-version") ?? undefined,
      resourceType: info.resourceType,
      action: info.action,
      status: fault.drop ? 0 : response.status,
      ...(code && response.status >= 400 ? { code } : {}),
      subscriptionId: info.subscriptionId,
      timeMs: Math.round((performance.now() - started) * 1000) / 1000,
      kind: info.kind,
    });
    return { status: response.status, body: response.body, headers: merged, drop: fault.drop, delayMs: fault.delayMs };
  }

  private serve(
    req: ArmRequest,
    info: RequestInfo,
    faultStatus: number | undefined,
    headers: Record<string, string>,
  ): { status: number; body?: unknown; headers?: Record<string, string> } {
    this.authenticate(req);
    const apiVersion = req.url.searchParams.get("api-version");
    if (!apiVersion) {
      throw new ArmError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
      );
    }
    this.throttle(info, headers);
    if (faultStatus === 429) throw tooManyRequests(1);
    if (faultStatus === 500) throw new ArmError(500, "InternalServerError", "Encountered internal server error.");
    if (faultStatus === 503) {
      throw new ArmError(503, "ServiceUnavailable", "The service is temporarily unavailable.", { "retry-after": "1" });
    }
    const scope = info.parsed?.path ?? "/";
    if (this.ctx.faults.forbids(scope, info.action)) {
      throw new ArmError(
        403,
        "AuthorizationFailed",
        `The client 'local-azure-client' with object id '${PRINCIPAL_OBJECT_ID}' does not have authorization to ` +
          `perform action '${info.action}' over scope '${scope}' or the scope is invalid. If access was recently ` +
          "granted, please refresh your credentials.",
      );
    }
    if (req.invalidJson) throw new ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.");
    if (info.graph) {
      if (req.method !== "POST") throw methodNotAllowed(req.method);
      return { status: 200, body: this.graph.query(req.body) };
    }
    const parsed = info.parsed as ArmPath;
    if (info.kind === "poll") return this.poll(parsed, req);
    this.checkScope(parsed);
    const origin: RequestOrigin = {
      method: req.method,
      url: `https://management.azure.com${req.url.pathname}${req.url.search}`,
      correlationId: headers["x-ms-correlation-request-id"] as string,
      ...(header(req.headers, "if-match") ? { ifMatch: header(req.headers, "if-match") } : {}),
    };
    if (req.method === "POST") return this.act(parsed, apiVersion, origin);
    if (lower(parsed.type) === TAGS_TYPE && parsed.name !== undefined) return this.tags(req.method, parsed, asObject(req.body), origin);
    if (parsed.name === undefined) {
      if (req.method !== "GET") throw methodNotAllowed(req.method);
      return { status: 200, body: this.list(parsed, req.url) };
    }
    switch (req.method) {
      case "GET":
        return { status: 200, body: this.get(parsed, req.url.searchParams) };
      case "PUT":
      case "PATCH":
        return this.write(req.method, parsed, asObject(req.body), apiVersion, req.url.searchParams, origin);
      case "DELETE":
        return this.remove(parsed, req.url.searchParams, origin);
      default:
        throw methodNotAllowed(req.method);
    }
  }

  private authenticate(req: ArmRequest): void {
    const authorization = header(req.headers, "authorization");
    if (!authorization) {
      throw new ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
    }
    if (authorization !== `Bearer ${this.token}`) {
      throw new ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.");
    }
  }

  /** ARM buckets per subscription × principal; Resource Graph has its own per-principal quota. */
  private throttle(info: RequestInfo, headers: Record<string, string>): void {
    if (info.graph) {
      const quota = this.ctx.throttle.takeQuery(this.token);
      if (Number.isFinite(quota.remaining)) {
        headers["x-ms-user-quota-remaining"] = String(quota.remaining);
        headers["x-ms-user-quota-resets-after"] = formatDuration(quota.resetsAfterMs);
      }
      if (!quota.ok) {
        throw tooManyRequests(Math.max(1, Math.ceil(quota.resetsAfterMs / 1000)), "RateLimiting", "Please provide below info when asking for support: the user quota was exceeded.");
      }
      return;
    }
    const writes = info.kind === "write" || info.kind === "delete";
    const taken = this.ctx.throttle.takeArm(writes ? "writes" : "reads", lower(info.subscriptionId ?? "tenant"), this.token);
    const headerName = `x-ms-ratelimit-remaining-subscription-${writes ? "writes" : "reads"}`;
    if (!taken.ok) {
      headers[headerName] = "0";
      throw tooManyRequests(taken.retryAfterSeconds);
    }
    if (Number.isFinite(taken.remaining)) {
      headers[headerName] = String(taken.remaining);
      if (info.kind === "delete") headers["x-ms-ratelimit-remaining-subscription-deletes"] = String(taken.remaining);
    }
  }

  /** The subscription and resource group a path lives in must exist, with ARM's error codes. */
  private checkScope(parsed: ArmPath): void {
    const { store } = this.ctx;
    const isSubscription = parsed.type === SUBSCRIPTION_TYPE;
    if (parsed.subscriptionId !== undefined && !isSubscription && !store.has(`/subscriptions/${parsed.subscriptionId}`)) {
      throw subscriptionNotFound(parsed.subscriptionId);
    }
    const isGroupItself = parsed.type === RESOURCE_GROUP_TYPE;
    if (parsed.resourceGroup !== undefined && !isGroupItself) {
      if (!store.has(`/subscriptions/${parsed.subscriptionId}/resourceGroups/${parsed.resourceGroup}`)) {
        throw resourceGroupNotFound(parsed.resourceGroup);
      }
    }
  }

  /** Nested resources need their parent; extension resources need the resource they extend. */
  private checkContainer(parsed: ArmPath): void {
    if (!parsed.container.includes("/providers/") || this.ctx.store.has(parsed.container)) return;
    const isExtensionResource = parsed.path.slice(parsed.container.length).startsWith("/providers/");
    if (!isExtensionResource) throw parentResourceNotFound(parsed.container);
    const target = parseArmPath(parsed.container);
    throw resourceNotFound(target.type, target.name ?? "", target.resourceGroup);
  }

  private notFound(parsed: ArmPath): ArmError {
    if (parsed.type === RESOURCE_GROUP_TYPE) return resourceGroupNotFound(parsed.name ?? "");
    if (parsed.type === SUBSCRIPTION_TYPE) return subscriptionNotFound(parsed.name ?? "");
    return resourceNotFound(parsed.type, parsed.name ?? "", parsed.resourceGroup);
  }

  private get(parsed: ArmPath, query: URLSearchParams): ArmResource {
    const behaviour = behaviourOf(parsed.type);
    if (behaviour.lro === "body") this.ctx.operations.pollResource(lower(parsed.path));
    const resource = this.ctx.store.get(parsed.path) ?? behaviour.fallback?.(parsed);
    if (!resource) throw this.notFound(parsed);
    return behaviour.view ? behaviour.view(resource, query) : resource;
  }

  private list(parsed: ArmPath, url: URL): JsonObject {
    const { store } = this.ctx;
    const type = lower(parsed.type);
    let entries;
    if (type === "microsoft.insights/datacollectionrules/associations") {
      if (!store.has(parsed.container)) throw this.notFound(parseArmPath(parsed.container));
      entries = store.listAssociationsOf(parsed.container);
    } else if (parsed.container === "" || parsed.container.includes("/providers/") || parsed.resourceGroup !== undefined) {
      this.checkContainer(parsed);
      entries = store.listByContainer(parsed.container, parsed.type);
    } else if (type === lower(RESOURCE_GROUP_TYPE)) {
      entries = store.listByContainer(parsed.container, parsed.type);
    } else if (INHERITED_TYPES.has(type)) {
      entries = assignmentsForSubscription(store, parsed.subscriptionId as string, type, url.searchParams.get("$filter"));
    } else {
      entries = store.listBySubscription(parsed.subscriptionId as string, parsed.type);
    }
    const behaviour = behaviourOf(type === "microsoft.insights/datacollectionrules/associations" ? "microsoft.insights/datacollectionruleassociations" : parsed.type);
    const view = (r: ArmResource): ArmResource => (behaviour.view ? behaviour.view(r, url.searchParams) : r);
    if (behaviour.unpaged) return { value: entries.map((e) => view(e.resource)) };
    const offset = Number(url.searchParams.get("$skipToken") ?? 0);
    if (!Number.isInteger(offset) || offset < 0) throw new ArmError(400, "InvalidSkipToken", "The $skipToken is not valid.");
    const page = entries.slice(offset, offset + this.ctx.pageSize).map((e) => view(e.resource));
    const end = offset + page.length;
    if (end >= entries.length) return { value: page };
    const next = new URL(this.ctx.endpoint + encodePath(parsed.path));
    url.searchParams.forEach((value, key) => next.searchParams.set(key, value));
    next.searchParams.set("$skipToken", String(end));
    return { value: page, nextLink: next.toString() };
  }

  private write(
    method: "PUT" | "PATCH",
    parsed: ArmPath,
    body: JsonObject,
    apiVersion: string,
    query: URLSearchParams,
    origin: RequestOrigin,
  ): { status: number; body: unknown; headers?: Record<string, string> } {
    const { store, operations } = this.ctx;
    if (parsed.type === SUBSCRIPTION_TYPE) throw methodNotAllowed(method);
    const behaviour = behaviourOf(parsed.type);
    const existing = store.get(parsed.path);
    if (method === "PATCH" && !existing) throw this.notFound(parsed);
    if (behaviour.etag && origin.ifMatch !== undefined && origin.ifMatch !== "*" && (!existing || etagOf(existing) !== origin.ifMatch)) {
      throw new ArmError(412, "PreconditionFailed", `The resource '${parsed.name}' has changed: If-Match ${origin.ifMatch} does not match its current etag.`);
    }
    this.checkContainer(parsed);
    if (method === "PUT" && existing?.location && typeof body.location === "string" && !sameLocation(existing.location, body.location)) {
      throw new ArmError(
        409,
        "InvalidResourceLocation",
        `The resource '${parsed.name}' already exists in location '${existing.location}' in resource group ` +
          `'${parsed.resourceGroup ?? ""}'. A resource with the same name cannot be created in location '${body.location}'. ` +
          "Please select a new resource name.",
      );
    }
    const merged = method === "PUT" ? { ...body } : mergePatch(existing as ArmResource, body);
    let resource: ArmResource = {
      ...merged,
      id: parsed.path,
      name: existing?.name ?? (parsed.name as string),
      type: existing?.type ?? parsed.type,
    };
    if (method === "PUT" && existing?.location) resource.location = existing.location;
    // Azure Policy judges the resource as the write would leave it, before the resource provider sees it.
    const denial = policyDenial(store, parsed.subscriptionId, resource);
    if (denial) throw denial;
    this.guardMachine(behaviour, parsed);

    if (behaviour.managedIdentity) {
      const identity = mergeIdentity(existing?.identity, body.identity as JsonObject | undefined, this.ctx.tenantId);
      if (identity) resource.identity = identity;
      else delete resource.identity;
    }
    const input: WriteInput = { ctx: this.ctx, parsed, existing, resource };
    behaviour.validate?.(input);
    resource = behaviour.complete?.(input) ?? resource;
    if (!behaviour.noProvisioningState) {
      const state = behaviour.lro ? (existing ? "Updating" : "Creating") : "Succeeded";
      resource = { ...resource, properties: { ...((resource.properties as JsonObject | undefined) ?? {}), provisioningState: state } };
    }
    this.putResource(resource);
    this.recordChange(existing ? "Update" : "Create", resource.id, { correlationId: origin.correlationId, operation: rbacActionFor(method, parsed.type) }, existing);
    const status = existing ? 200 : 201;
    const view = behaviour.view ? behaviour.view(resource, query) : resource;
    // A create's event carries no httpRequest; an update's does (event-schema-subscriptions.md).
    const raiseWritten = (outcome: "Succeeded" | "Failed") =>
      this.raise(outcome === "Succeeded" ? "Microsoft.Resources.ResourceWriteSuccess" : "Microsoft.Resources.ResourceWriteFailure", resource.id, rbacActionFor(method, parsed.type), outcome, origin, existing !== undefined);
    if (!behaviour.lro) {
      raiseWritten("Succeeded");
      return { status, body: view };
    }
    const failure =
      behaviour.failure?.(input) ??
      (this.ctx.faults.lroFails()
        ? { code: "InternalOperationError", message: "The operation failed (injected by the local emulator)." }
        : undefined);
    const operation = operations.start({
      resourceId: resource.id,
      lockKey: behaviour.lockKey?.(parsed),
      resourceKey: behaviour.lro === "body" ? lower(parsed.path) : undefined,
      failure,
      finish: (outcome) => {
        this.finishWrite(resource.id, outcome);
        raiseWritten(outcome);
      },
    });
    return { status, body: view, headers: this.lroHeaders(behaviour, parsed, resource, operation, apiVersion) };
  }

  /** Every change ARM serves goes through here and `removeResource`, so that Resource Graph hears of it. */
  private putResource(resource: ArmResource): void {
    const before = this.ctx.store.entry(resource.id);
    this.ctx.store.put(resource);
    this.graph.armChanged(before, this.ctx.store.entry(resource.id));
  }

  /** Removes a resource and its children; answers the entries removed. */
  private removeResource(id: string): StoredResource[] {
    const removed: StoredResource[] = [];
    this.ctx.store.remove(id, removed);
    for (const entry of removed) this.graph.armChanged(entry, undefined);
    return removed;
  }

  /** Compute's per-VM write bucket, then "one operation at a time" on a VM or Arc machine. */
  private guardMachine(behaviour: TypeBehaviour, parsed: ArmPath): void {
    const lockKey = behaviour.lockKey?.(parsed);
    if (!lockKey) return;
    if (behaviour.computeWrites) {
      const taken = this.ctx.throttle.take("computeVmWrites", lockKey);
      if (!taken.ok) {
        throw tooManyRequests(
          taken.retryAfterSeconds,
          "OperationNotAllowed",
          "The operation was throttled: too many update operations on this virtual machine (PutVMSubscriptionMaximum).",
        );
      }
    }
    if (this.ctx.operations.isLocked(lockKey)) throw anotherOperationInProgress();
  }

  /** The operation's outcome becomes the resource's provisioningState, as the GET after the poll shows. */
  private finishWrite(id: string, outcome: "Succeeded" | "Failed"): void {
    const current = this.ctx.store.get(id);
    if (!current) return;
    const properties = { ...((current.properties as JsonObject | undefined) ?? {}), provisioningState: outcome };
    this.putResource({ ...current, properties });
    // The documented sample change: provisioningState Updating -> Succeeded, after the write's own.
    this.recordChange("Update", id, { operation: rbacActionFor("PUT", parseArmPath(id).type) }, current);
  }

  /** Resource Graph's change history of a served change (resourceChanges.ts); `before` for an Update. */
  private recordChange(changeType: "Create" | "Update", id: string, attributes: ChangeAttributes, before?: ArmResource): void {
    const entry = this.ctx.store.entry(id);
    if (entry) this.graph.recordChange(changeType, entry, attributes, before);
  }

  private lroHeaders(
    behaviour: TypeBehaviour,
    parsed: ArmPath,
    resource: ArmResource,
    operation: Operation,
    apiVersion: string,
  ): Record<string, string> {
    const headers: Record<string, string> = {};
    const retryAfter = this.ctx.operations.retryAfterHeader();
    if (retryAfter > 0) headers["retry-after"] = String(retryAfter);
    if (behaviour.lro === "body") return headers;
    const namespace = parsed.type.split("/")[0] as string;
    const location = String(resource.location ?? this.ctx.store.get(parsed.container)?.location ?? "eastus");
    const kind =
      behaviour.lro === "location" ? "operationResults" : lower(namespace) === "microsoft.hybridcompute" ? "operationStatus" : "operations";
    const url =
      `${this.ctx.endpoint}/subscriptions/${parsed.subscriptionId}/providers/${namespace}/locations/` +
      `${encodeURIComponent(location.replace(/\s+/g, "").toLowerCase())}/${kind}/${operation.id}?api-version=${encodeURIComponent(apiVersion)}`;
    headers[behaviour.lro === "location" ? "location" : "azure-asyncoperation"] = url;
    return headers;
  }

  private poll(parsed: ArmPath, req: ArmRequest): { status: number; body?: unknown; headers?: Record<string, string> } {
    if (req.method !== "GET") throw methodNotAllowed(req.method);
    const operation = this.ctx.operations.poll(parsed.name ?? "");
    if (!operation) throw resourceNotFound(parsed.type, parsed.name ?? "");
    const retryAfter = this.ctx.operations.retryAfterHeader();
    const headers: Record<string, string> = operation.status === "InProgress" && retryAfter > 0 ? { "retry-after": String(retryAfter) } : {};
    if (!/operationresults$/i.test(parsed.type)) {
      return {
        status: 200,
        headers,
        body: {
          name: operation.id,
          status: operation.status,
          startTime: operation.startTime,
          ...(operation.endTime ? { endTime: operation.endTime } : {}),
          ...(operation.status === "Failed" && operation.error ? { error: operation.error } : {}),
        },
      };
    }
    if (operation.status === "InProgress") return { status: 202, headers: { ...headers, location: req.url.toString() } };
    if (operation.status === "Failed") {
      const error = operation.error ?? { code: "OperationFailed", message: "The operation failed." };
      return { status: 400, body: { error } };
    }
    const resource = this.ctx.store.get(operation.resourceId);
    return resource ? { status: 200, body: resource } : { status: 204 };
  }

  private remove(parsed: ArmPath, query: URLSearchParams, origin: RequestOrigin): { status: number; body?: unknown } {
    const behaviour = behaviourOf(parsed.type);
    if (parsed.type === SUBSCRIPTION_TYPE) throw methodNotAllowed("DELETE");
    const existing = this.ctx.store.get(parsed.path);
    if (!existing) return { status: 204 };
    this.guardMachine(behaviour, parsed);
    const removed = this.removeResource(parsed.path);
    // Children go with their parent, and each keeps its own Delete record ("even if the entire Resource group has been deleted").
    for (const entry of removed) this.graph.recordChange("Delete", entry, { correlationId: origin.correlationId, operation: rbacActionFor("DELETE", parsed.type) });
    // A rule's associations outlive it unless the caller asks (Data Collection Rules - Delete, 2023-03-11: deleteAssociations).
    if (lower(parsed.type) === "microsoft.insights/datacollectionrules" && query.get("deleteAssociations")?.toLowerCase() === "true") {
      for (const association of this.ctx.store.listAssociationsOf(parsed.path)) this.removeResource(association.resource.id);
    }
    this.raise("Microsoft.Resources.ResourceDeleteSuccess", existing.id, rbacActionFor("DELETE", parsed.type), "Succeeded", origin, true);
    return { status: 200 };
  }

  /**
   * `POST {vm}/start|restart|deallocate|powerOff`: 202 with Azure-AsyncOperation, the power state changes
   * and ResourceActionSuccess is raised when the operation ends (ARM reports an action's eventual outcome).
   */
  private act(parsed: ArmPath, apiVersion: string, origin: RequestOrigin): { status: number; headers?: Record<string, string> } {
    const action = parsed.type.slice(parsed.type.lastIndexOf("/") + 1);
    const targetType = parsed.type.slice(0, parsed.type.lastIndexOf("/"));
    const powerState = POWER_ACTIONS[action.toLowerCase()];
    if (parsed.name !== undefined || lower(targetType) !== VM_TYPE || !powerState) throw methodNotAllowed("POST");
    const vm = this.ctx.store.get(parsed.container);
    const target = parseArmPath(parsed.container);
    if (!vm) throw this.notFound(target);
    const behaviour = behaviourOf(VM_TYPE);
    this.guardMachine(behaviour, target);
    const operation = this.ctx.operations.start({
      resourceId: vm.id,
      lockKey: behaviour.lockKey?.(target),
      finish: (outcome) => {
        const current = this.ctx.store.get(vm.id);
        if (outcome === "Succeeded" && current) this.putResource(withPowerState(current, powerState));
        this.raise(outcome === "Succeeded" ? "Microsoft.Resources.ResourceActionSuccess" : "Microsoft.Resources.ResourceActionFailure", vm.id, rbacActionFor("POST", parsed.type), outcome, origin, true);
      },
    });
    return { status: 202, headers: this.lroHeaders(behaviour, target, vm, operation, apiVersion) };
  }

  /**
   * The Tags API at any scope (`{scope}/providers/Microsoft.Resources/tags/default`): PUT replaces the
   * scope's tags, PATCH merges, replaces or deletes the given ones (`operation`), DELETE removes them all.
   * ARM raises `Microsoft.Resources/tags/write|delete` with that id as resourceUri.
   */
  private tags(method: string, parsed: ArmPath, body: JsonObject, origin: RequestOrigin): { status: number; body?: unknown } {
    const { store } = this.ctx;
    const scope = store.get(parsed.container);
    if (!scope) throw this.notFound(parseArmPath(parsed.container));
    const current = (scope.tags ?? {}) as Record<string, string>;
    const given = (asObject(body.properties).tags ?? {}) as Record<string, string>;
    let next: Record<string, string>;
    switch (method) {
      case "GET":
        return { status: 200, body: tagsView(parsed.path, current) };
      case "PUT":
        next = { ...given };
        break;
      case "PATCH": {
        const operation = String(body.operation ?? "").toLowerCase();
        if (operation === "merge") next = { ...current, ...given };
        else if (operation === "replace") next = { ...given };
        else if (operation === "delete") next = Object.fromEntries(Object.entries(current).filter(([name, value]) => !(name in given) || (given[name] !== "" && given[name] !== value)));
        else throw new ArmError(400, "InvalidRequestContent", "The tags operation must be Merge, Replace or Delete.");
        break;
      }
      case "DELETE":
        next = {};
        break;
      default:
        throw methodNotAllowed(method);
    }
    this.putResource({ ...scope, tags: next });
    this.recordChange("Update", scope.id, { correlationId: origin.correlationId, operation: rbacActionFor(method, parsed.type) }, scope);
    const deleted = method === "DELETE";
    this.raise(deleted ? "Microsoft.Resources.ResourceDeleteSuccess" : "Microsoft.Resources.ResourceWriteSuccess", parsed.path, rbacActionFor(method, parsed.type), "Succeeded", origin, true);
    return { status: 200, body: deleted ? undefined : tagsView(parsed.path, next) };
  }

  private raise(eventType: ArmEventType, resourceUri: string, operationName: string, status: "Succeeded" | "Failed", origin: RequestOrigin, withRequest: boolean): void {
    this.ctx.events.raise({
      eventType,
      resourceUri,
      operationName,
      status,
      correlationId: origin.correlationId,
      tenantId: this.ctx.tenantId,
      ...(withRequest ? { httpRequest: { method: origin.method, url: origin.url } } : {}),
    });
  }
}

function tagsView(id: string, tags: Record<string, string>): JsonObject {
  return { id, name: "default", type: "Microsoft.Resources/tags", properties: { tags } };
}

function describe(req: ArmRequest): RequestInfo {
  const segments = normalisePath(req.url.pathname);
  const path = "/" + segments.join("/");
  if (lower(path) === GRAPH_PATH) {
    const resourceType = "Microsoft.ResourceGraph/resources";
    return { kind: "query", resourceType, action: rbacActionFor(req.method, resourceType), graph: true };
  }
  const parsed = parseArmPath(path);
  const kind: RequestKind = OPERATION_TYPE.test(parsed.type)
    ? "poll"
    : req.method === "GET"
      ? "read"
      : req.method === "DELETE"
        ? "delete"
        : "write";
  return {
    kind,
    resourceType: parsed.type,
    action: rbacActionFor(req.method, parsed.type),
    subscriptionId: parsed.subscriptionId,
    parsed,
  };
}

/** PATCH: properties merge deeply (null removes), tags and identity are replaced as a whole. */
function mergePatch(existing: ArmResource, patch: JsonObject): JsonObject {
  const result: JsonObject = { ...existing };
  for (const [key, value] of Object.entries(patch)) {
    if (key === "tags" || key === "identity") result[key] = value;
    else result[key] = deepMerge(existing[key], value);
  }
  return result;
}

function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const result: JsonObject = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = deepMerge(base[key], value);
  }
  return result;
}

function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asObject(v: unknown): JsonObject {
  return isPlainObject(v) ? v : {};
}

function sameLocation(a: string, b: string): boolean {
  return a.replace(/\s+/g, "").toLowerCase() === b.replace(/\s+/g, "").toLowerCase();
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

function methodNotAllowed(method: string): ArmError {
  return new ArmError(405, "MethodNotAllowed", `The requested resource does not support http method '${method}'.`);
}
