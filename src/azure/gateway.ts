/**
 * The one Azure seam. Built once from the official @azure/arm-* clients; everything else in the
 * service talks to Azure through it. Retries (429, 5xx, and 409 "another operation in progress")
 * live in the SDK pipeline, long-running operations in the SDK pollers, and every write is checked
 * against the configured scope here, whatever the plan says.
 */
import type { TokenCredential } from "@azure/core-auth";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { ComputeManagementClient } from "@azure/arm-compute";
import { HybridComputeManagementClient } from "@azure/arm-hybridcompute";
import { MonitorClient } from "@azure/arm-monitor";
import { PolicyClient } from "@azure/arm-policy";
import { ResourceGraphClient } from "@azure/arm-resourcegraph";
import { ResourceManagementClient, restorePoller } from "@azure/arm-resources";
import { SubscriptionClient } from "@azure/arm-resources-subscriptions";
import { SecurityCenter } from "@azure/arm-security";
import { apiVersionFor } from "./apiVersions.js";
import { createCredential } from "./credential.js";
import type { Settings } from "../config/settings.js";
import { parseResourceId } from "./ids.js";
import { attemptCounterPolicy, conflictRetryPolicy, countingAttempts, rateLimitHeadroomPolicy, readingWireBodies, resourceGraphQuotaPolicy, wireBodyPolicy } from "./policies.js";
import { ArmError, toArmError } from "../errors.js";

/**
 * A resource as ARM sends it on the wire: `properties` nested, names as in the REST specs. Every read
 * of the gateway returns this one shape, from a GET, a list or a Resource Graph row (projected into it);
 * the typed clients' own models, which flatten and rename properties, never leave the gateway.
 */
export interface ArmResource {
  readonly id: string;
  readonly name?: string;
  readonly type?: string;
  readonly location?: string;
  /** ARM sends `null` for a resource without tags. */
  readonly tags?: Readonly<Record<string, string>> | null;
  readonly identity?: Readonly<Record<string, unknown>>;
  readonly properties?: Readonly<Record<string, unknown>>;
  readonly systemData?: { readonly createdAt?: string };
  /** Resources with optimistic concurrency (VMs): changes with every write of the model. */
  readonly etag?: string;
}

/** A Resource Graph row: a resource in ArmResource's shape, plus the columns a query adds (subscriptionId, …). */
export type ResourceGraphRow = ArmResource & { readonly [column: string]: unknown };

/** A body the service sends in a PUT or PATCH. */
export type ArmBody = Record<string, unknown>;

export interface WriteResult {
  readonly status: number | undefined;
  readonly correlationId?: string;
  /** Requests the write took (retries and polls included) and how many of them ARM turned away. */
  readonly requests: number;
  readonly retried: number;
}

/** A write ARM accepted and goes on with (201/202 with an operation to follow): done only once confirmed. */
export interface RunningOperation {
  /** core-lro's serialized poller state: enough to ask ARM about the operation once, from any process. */
  readonly resumeToken: string;
  /** ARM's Retry-After on the write, in ms: no one should ask about the operation sooner. */
  readonly retryAfterMs?: number;
  /** The write's x-ms-correlation-request-id, which the events ARM raises for it carry too. */
  readonly correlationId?: string;
}

/** The answer to a write as sent: finished, or `operation` still running. */
export interface StartedWrite extends WriteResult {
  readonly operation?: RunningOperation;
}

export interface ArmWrite {
  readonly method: "PUT" | "PATCH" | "DELETE";
  readonly id: string;
  readonly apiVersion: string;
  readonly body?: ArmBody;
  /** Sent as If-Match: ARM refuses the write (412) when the resource changed since it was read. */
  readonly ifMatch?: string;
}

export interface ArmWriter {
  getResource(id: string): Promise<ArmResource | undefined>;
  /** A write target read again just before the write, behind the same guard as the write itself. */
  readTarget(id: string): Promise<ArmResource | undefined>;
  /** Sends a write and returns ARM's first answer without polling: a long-running one comes back with its operation. */
  start(write: ArmWrite): Promise<StartedWrite>;
}

/** Asks ARM once how a running operation is doing (one read, and its retries); throws its ArmError when it failed. */
export type OperationCheck = (operation: RunningOperation) => Promise<{ readonly status: "running" | "succeeded"; readonly requests: number; readonly retried: number }>;

export interface ResourceGraphQueryOptions {
  /**
   * Which policy and role assignments a subscription-scoped query returns: Resource Graph's default,
   * AtScopeAndBelow, leaves out those inherited from management groups.
   */
  readonly authorizationScopeFilter?: "AtScopeAndBelow" | "AtScopeAndAbove" | "AtScopeExact" | "AtScopeAboveAndBelow";
}

export interface GatewayOptions {
  readonly endpoint: string;
  readonly credential: TokenCredential;
  /** SDK retries for 429/5xx/connection errors. */
  readonly maxRetries?: number;
  /** Waits for 409 Conflict (another operation on the machine) before giving up. */
  readonly conflictRetries?: number;
  readonly conflictDelayInMs?: number;
}

export function createGateway(settings: Settings, credential: TokenCredential = createCredential(settings)): ArmGateway {
  return new ArmGateway({ endpoint: settings.armEndpoint, credential, conflictDelayInMs: settings.conflictRetryDelayMs });
}

const RESOURCE_GRAPH_PAGE_SIZE = 1000;
/** Resource Graph's answer to a page over its 16 MB response limit (400 BadRequest, this code in its details). */
const RESPONSE_TOO_LARGE = "ResponsePayloadTooLarge";
/** Resource Graph takes at most 1,000 subscriptions per query. */
const RESOURCE_GRAPH_SUBSCRIPTION_BATCH = 1000;

export class ArmGateway {
  private readonly clientOptions;
  private readonly resources: ResourceManagementClient;
  private readonly graph: ResourceGraphClient;
  private readonly monitor: MonitorClient;
  private readonly subscriptionClient: SubscriptionClient;
  private readonly perSubscription = new Map<string, { compute: ComputeManagementClient; hybrid: HybridComputeManagementClient; security: SecurityCenter; policy: PolicyClient; groups: ResourceManagementClient }>();

  constructor(private readonly options: GatewayOptions) {
    const additionalPolicies: { policy: PipelinePolicy; position: "perCall" | "perRetry" }[] = [
      { policy: wireBodyPolicy(), position: "perCall" },
      { policy: conflictRetryPolicy({ maxRetries: options.conflictRetries ?? 6, delayInMs: options.conflictDelayInMs ?? 10_000 }), position: "perCall" },
      { policy: rateLimitHeadroomPolicy(), position: "perRetry" },
      { policy: resourceGraphQuotaPolicy(), position: "perRetry" },
      { policy: attemptCounterPolicy(), position: "perRetry" },
    ];
    this.clientOptions = { endpoint: options.endpoint, retryOptions: { maxRetries: options.maxRetries ?? 5 }, additionalPolicies };
    this.resources = new ResourceManagementClient(options.credential, this.clientOptions);
    this.graph = new ResourceGraphClient(options.credential, this.clientOptions);
    this.monitor = new MonitorClient(options.credential, this.clientOptions);
    this.subscriptionClient = new SubscriptionClient(options.credential, this.clientOptions);
  }

  // ---- reads ----

  /** Every subscription the credential can see. */
  async *listSubscriptions(): AsyncGenerator<{ subscriptionId: string; displayName?: string; state?: string; tags: Record<string, string> }> {
    for await (const subscription of armErrors(this.subscriptionClient.subscriptions.list())) {
      if (!subscription.subscriptionId) continue;
      yield {
        subscriptionId: subscription.subscriptionId.toLowerCase(),
        ...(subscription.displayName ? { displayName: subscription.displayName } : {}),
        ...(subscription.state ? { state: subscription.state } : {}),
        tags: subscription.tags ?? {},
      };
    }
  }

  /**
   * A Resource Graph query over the given subscriptions, one page (up to 1,000 rows) at a time. A page
   * over Resource Graph's 16 MB response limit (400 ResponsePayloadTooLarge) is asked for again at half
   * the size, and the rest of the result keeps that size: the $skipToken carries the offset, `$top` the size.
   */
  async *queryResourceGraph(query: string, subscriptions: readonly string[], options: ResourceGraphQueryOptions = {}): AsyncGenerator<ResourceGraphRow[]> {
    for (let start = 0; start < subscriptions.length; start += RESOURCE_GRAPH_SUBSCRIPTION_BATCH) {
      const batch = subscriptions.slice(start, start + RESOURCE_GRAPH_SUBSCRIPTION_BATCH);
      let skipToken: string | undefined;
      let top = RESOURCE_GRAPH_PAGE_SIZE;
      for (;;) {
        const request = { subscriptions: [...batch], query, options: { top, resultFormat: "objectArray" as const, ...(skipToken ? { skipToken } : {}), ...options } };
        const response = await this.call(() => this.graph.resources(request)).catch((error: unknown) => {
          if (error instanceof ArmError && error.is(RESPONSE_TOO_LARGE) && top > 1) return undefined;
          throw error;
        });
        if (!response) {
          top = Math.ceil(top / 2);
          continue;
        }
        // objectArray results are the rows as JSON, each in the shape its query projected.
        yield (response.data ?? []) as ResourceGraphRow[];
        skipToken = response.skipToken;
        if (!skipToken) break;
      }
    }
  }

  /** GET any resource by id; undefined when ARM says it does not exist. */
  async getResource(id: string): Promise<ArmResource | undefined> {
    const apiVersion = apiVersionFor(parseResourceId(id).resourceType);
    return this.readOrUndefined(() => this.readOne(() => this.resources.resources.getById(trimSlash(id), apiVersion)));
  }

  async getResourceGroup(subscriptionId: string, resourceGroup: string): Promise<{ location: string; tags: Record<string, string> } | undefined> {
    const { groups } = this.clients(subscriptionId);
    const group = await this.readOrUndefined(() => groups.resourceGroups.get(resourceGroup));
    return group ? { location: group.location, tags: group.tags ?? {} } : undefined;
  }

  async getSubscription(subscriptionId: string): Promise<{ displayName?: string; tags: Record<string, string> } | undefined> {
    const subscription = await this.readOrUndefined(() => this.subscriptionClient.subscriptions.get(subscriptionId));
    return subscription ? { ...(subscription.displayName ? { displayName: subscription.displayName } : {}), tags: subscription.tags ?? {} } : undefined;
  }

  /** A VM with its instance view (power state, OS name). */
  async getVirtualMachine(id: string): Promise<ArmResource | undefined> {
    const parsed = parseResourceId(id);
    const { compute } = this.clients(parsed.subscriptionId);
    return this.readOrUndefined(() => this.readOne(() => compute.virtualMachines.get(parsed.resourceGroup as string, parsed.name, { expand: "instanceView" })));
  }

  async listExtensions(machineId: string): Promise<ArmResource[]> {
    const parsed = parseResourceId(machineId);
    const { compute, hybrid } = this.clients(parsed.subscriptionId);
    const group = parsed.resourceGroup as string;
    return parsed.resourceType.toLowerCase() === "microsoft.compute/virtualmachines"
      ? this.readList(() => compute.virtualMachineExtensions.list(group, parsed.name))
      : this.readList(() => hybrid.machineExtensions.list(group, parsed.name));
  }

  listAssociations(machineId: string): Promise<ArmResource[]> {
    return this.readList(() => this.monitor.dataCollectionRuleAssociations.listByResource(trimSlash(machineId)));
  }

  listPricings(subscriptionId: string): Promise<ArmResource[]> {
    const { security } = this.clients(subscriptionId);
    return this.readList(() => security.pricings.list());
  }

  /** Policy assignments that apply to the subscription: its own and those inherited from management groups. */
  listPolicyAssignments(subscriptionId: string): Promise<ArmResource[]> {
    const { policy } = this.clients(subscriptionId);
    return this.readList(() => policy.policyAssignments.list({ filter: "atScope()" }));
  }

  /**
   * The legacy MMA switch, read by id through the one shared client: a sweep reads it for every
   * subscription, and a typed client per subscription would cost each one a pipeline of its own.
   */
  async getLegacyAutoProvisioning(subscriptionId: string): Promise<"On" | "Off" | undefined> {
    const setting = await this.getResource(`/subscriptions/${subscriptionId}/providers/Microsoft.Security/autoProvisioningSettings/default`);
    const value = setting?.properties?.["autoProvision"];
    return value === "On" || value === "Off" ? value : undefined;
  }

  // ---- writes ----

  /**
   * The write side, bound to one run's guard: `assertWritable` throws ScopeError for any id the run
   * must not touch (outside the scope, opted out), whatever the plan says.
   */
  writer(assertWritable: (id: string) => void): ArmWriter {
    return {
      getResource: (id) => this.getResource(id),
      readTarget: (id) => {
        assertWritable(id);
        return this.getResource(id);
      },
      start: (write) => {
        assertWritable(write.id);
        return this.start(write);
      },
    };
  }

  /** One status request for an operation a write started, from its resume token (any process may ask). */
  readonly checkOperation: OperationCheck = async (operation) => {
    const poller = restorePoller(this.resources, operation.resumeToken, this.resources.resources.createOrUpdateById);
    const { count, result } = countingAttempts(() => poller.poll());
    const attempts = () => ({ attempts: { ...count } });
    try {
      await result;
    } catch (error) {
      throw toArmError(error).with(attempts());
    }
    const state = poller.operationState;
    if (state?.status === "failed" || state?.status === "canceled") throw toArmError(state.error ?? new ArmError("OperationFailed", `the operation ended ${state.status}`)).with(attempts());
    return { status: state?.status === "succeeded" ? "succeeded" : "running", ...count };
  };

  // ---- plumbing ----

  /** Clients bound to one subscription, built once: a client per read would rebuild its pipeline every time. */
  private clients(subscriptionId: string) {
    let clients = this.perSubscription.get(subscriptionId);
    if (!clients) {
      clients = {
        compute: new ComputeManagementClient(this.options.credential, subscriptionId, this.clientOptions),
        hybrid: new HybridComputeManagementClient(this.options.credential, subscriptionId, this.clientOptions),
        security: new SecurityCenter(this.options.credential, subscriptionId, this.clientOptions),
        policy: new PolicyClient(this.options.credential, subscriptionId, this.clientOptions),
        groups: new ResourceManagementClient(this.options.credential, subscriptionId, this.clientOptions),
      };
      this.perSubscription.set(subscriptionId, clients);
    }
    return clients;
  }

  /** Sends a write without polling; a long-running one is returned with its resume token, to be confirmed later. */
  private async start(write: ArmWrite): Promise<StartedWrite> {
    let status: number | undefined;
    let correlationId: string | undefined;
    let retryAfterMs: number | undefined;
    // The modular clients' pollers throw a write's error without ARM's body (its additionalInfo names
    // the policies that denied it): keep the body of the error response for toArmError.
    let errorBody: unknown;
    const onResponse = (response: WriteResponse) => {
      status = response.status;
      correlationId = response.headers.get("x-ms-correlation-request-id");
      const retryAfter = Number(response.headers.get("retry-after"));
      if (Number.isFinite(retryAfter) && retryAfter > 0) retryAfterMs = retryAfter * 1000;
      if (response.status >= 400) errorBody = response.parsedBody;
    };
    const { count, result } = countingAttempts(async () => {
      const id = trimSlash(write.id);
      const resources = this.resources.resources;
      const options = { onResponse, ...(write.ifMatch ? { requestOptions: { headers: { "If-Match": write.ifMatch } } } : {}) };
      const poller =
        write.method === "PUT"
          ? resources.createOrUpdateById(id, write.apiVersion, write.body ?? {}, options)
          : write.method === "PATCH"
            ? resources.updateById(id, write.apiVersion, write.body ?? {}, options)
            : resources.deleteById(id, write.apiVersion, options);
      await poller.submitted();
      return poller.isDone ? undefined : await poller.serialize();
    });
    try {
      const resumeToken = await result;
      return {
        status,
        ...(correlationId ? { correlationId } : {}),
        requests: count.requests,
        retried: count.retried,
        ...(resumeToken ? { operation: { resumeToken, ...(retryAfterMs ? { retryAfterMs } : {}), ...(correlationId ? { correlationId } : {}) } } : {}),
      };
    } catch (error) {
      const armError = toArmError(error, errorBody);
      throw armError.with({ statusCode: armError.statusCode ?? status, correlationId: armError.correlationId ?? correlationId, attempts: { ...count } });
    }
  }

  /** One resource as ARM sent it, read through a typed client (its model is dropped). */
  private async readOne(read: () => Promise<unknown>): Promise<ArmResource | undefined> {
    const [body] = await readingWireBodies(read);
    return body as ArmResource | undefined;
  }

  /** Every item of a list as ARM sent it, page by page: a pager's own items are typed models, dropped. */
  private async readList(list: () => AsyncIterable<unknown> | Promise<unknown>): Promise<ArmResource[]> {
    const pages = await this.call(() =>
      readingWireBodies(async () => {
        const result = list();
        if (Symbol.asyncIterator in Object(result)) for await (const _item of result as AsyncIterable<unknown>) void _item;
        else await result;
      }),
    );
    return pages.flatMap((page) => (page as { value?: ArmResource[] } | undefined)?.value ?? []);
  }

  private async call<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      throw toArmError(error);
    }
  }

  private async readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      const armError = toArmError(error);
      if (armError.statusCode === 404) return undefined;
      throw armError;
    }
  }
}

/** What a write's `onResponse` sees of its response. */
interface WriteResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | undefined };
  readonly parsedBody?: unknown;
}

/** SDK pagers throw their own errors ("Pagination failed…"); surface ARM's code and message instead. */
async function* armErrors<T>(pages: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* pages;
  } catch (error) {
    throw toArmError(error);
  }
}

/** Several clients splice ids into URLs after a slash of their own. */
function trimSlash(id: string): string {
  return id.replace(/^\/+/, "");
}
