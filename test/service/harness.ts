/**
 * One real Azurite and one local ARM emulator per test file, and Services built over them exactly as
 * the Function App builds its own (createService from an environment). `freshService()` is a new
 * process as far as state is concerned: nothing is shared with earlier services but Storage and ARM.
 */
import { afterAll, beforeAll } from "vitest";
import { createService, type Service } from "../../src/service/service.js";
import { createLogger } from "../../src/log.js";
import { createQueueClient, connectionStringConnection } from "../../src/state/storageConnection.js";
import { WORK_QUEUE, decodeWorkItem, poisonQueueName, type WorkItem } from "../../src/state/workQueue.js";
import { drainWorkQueue } from "../../scripts/functionsHost.js";
import { startLocalAzure, type LocalAzure } from "../../local-azure/src/emulator.js";
import type { ArmResource } from "../../local-azure/src/store.js";
import type { RequestLogEntry } from "../../local-azure/src/requestLog.js";
import type { ThrottleOptions } from "../../local-azure/src/throttle.js";
import { demoEstate, type Estate, type EstateMachine } from "../../local-azure/src/estate.js";
import { startAzurite, type AzuriteInstance } from "../../local-azure/src/azurite.js";

export interface Harness {
  readonly azure: LocalAzure;
  readonly azurite: AzuriteInstance;
  readonly estate: Estate;
  /** The environment the services are built from (the Function App's app settings). */
  readonly env: Record<string, string>;
  /** The service the tests share. */
  readonly service: Service;
  /** A new Service over the same Storage and ARM (a restarted host), optionally with other app settings. */
  freshService(env?: Record<string, string>): Promise<Service>;
  /** The ARM writes and deletes the emulator has seen since the last `resetRequests()`. */
  writes(): RequestLogEntry[];
  /** Drains the work queue through the same queue handler the Functions registration calls. */
  drain(service?: Service): Promise<void>;
  /** Empties the work and poison queues, including messages that are currently invisible. */
  clearQueues(): Promise<void>;
  /** The visible work items, without taking them. */
  peekWorkItems(): Promise<WorkItem[]>;
}

export interface HarnessOptions {
  readonly estate?: () => Estate;
  /** Extra app settings. */
  readonly env?: Record<string, string>;
  /**
   * The emulator's ARM limits. Default: ARM's read/write buckets, refilled 50x faster, and no Resource
   * Graph quota: every subscription work item runs 7 queries, so a few sweeps trip the real 15-per-5-s
   * quota, and each 429 costs a whole second (Retry-After is in seconds). Throttling has its own tests.
   */
  readonly throttle?: ThrottleOptions;
}

export function useHarness(options: HarnessOptions = {}): () => Harness {
  let harness: Harness | undefined;
  let azure: LocalAzure | undefined;
  let azurite: AzuriteInstance | undefined;
  beforeAll(async () => {
    [azure, azurite] = await Promise.all([startLocalAzure({ throttle: options.throttle ?? { timeScale: 50, resourceGraph: false } }), startAzurite()]);
    const estate = (options.estate ?? demoEstate)();
    azure.load(estate.resources);
    const env: Record<string, string> = {
      AzureWebJobsStorage: azurite.connectionString,
      ARM_ENDPOINT: azure.endpoint,
      ARM_TOKEN: azure.token,
      REMEDIATION_SUBSCRIPTIONS: estate.subscriptions.map((subscription) => subscription.subscriptionId).join(","),
      ARM_POLL_INTERVAL_MS: "50",
      ARM_CONFLICT_RETRY_DELAY_MS: "50",
      // Flush each event's subscription at once (production collects events for EVENT_BATCH_SECONDS).
      EVENT_BATCH_SECONDS: "0",
      LOG_LEVEL: "silent",
      ...options.env,
    };
    const build = (extra: Record<string, string> = {}) => createService({ ...env, ...extra }, { logger: createLogger({ level: "silent" }) });
    const service = await build();
    const local = azure;
    const connection = connectionStringConnection(azurite.connectionString);
    harness = {
      azure: local,
      azurite,
      estate,
      env,
      service,
      freshService: build,
      writes: () => local.requests.filter((request) => request.kind === "write" || request.kind === "delete"),
      drain: (target = service) => drainWorkQueue(target, { visibilityTimeoutInSeconds: 2, pauseInMs: 50 }),
      peekWorkItems: async () => {
        const peeked = await createQueueClient(connection, WORK_QUEUE).peekMessages({ numberOfMessages: 32 });
        return peeked.peekedMessageItems.map((message) => decodeWorkItem(message.messageText));
      },
      clearQueues: async () => {
        await Promise.all([WORK_QUEUE, poisonQueueName(WORK_QUEUE)].map((name) => createQueueClient(connection, name).clearMessages()));
      },
    };
  }, 60_000);
  afterAll(async () => {
    await Promise.all([azure?.close(), azurite?.close()]);
  });
  return () => {
    if (!harness) throw new Error("harness not started");
    return harness;
  };
}

/** Resources of the emulator below a machine (its extensions and associations). */
export function childrenOf(azure: LocalAzure, machineId: string): ArmResource[] {
  const prefix = `${machineId.toLowerCase()}/`;
  return azure.list((resource) => resource.id.toLowerCase().startsWith(prefix));
}

/**
 * A brand-new VM next to an estate machine (same subscription, resource group and region): no
 * identity, no agents, no association, created `createdAt` (default now). Returns its id.
 */
export function newVirtualMachine(azure: LocalAzure, template: EstateMachine, name: string, createdAt = new Date()): string {
  const source = azure.get(template.id);
  if (!source) throw new Error(`no template machine ${template.id}`);
  const id = `${template.id.slice(0, template.id.lastIndexOf("/"))}/${name}`;
  const copy = structuredClone(source) as ArmResource;
  delete copy.identity;
  const properties = copy.properties as { vmId?: string; timeCreated?: string; osProfile?: { computerName?: string } };
  properties.vmId = crypto.randomUUID();
  properties.timeCreated = createdAt.toISOString();
  if (properties.osProfile) properties.osProfile.computerName = name;
  azure.load([{ ...copy, id, name }]);
  return id;
}

/** The emulator's view of what the service must have made of a VM. */
export function remediationOf(azure: LocalAzure, vmId: string): { identity: string | undefined; agents: string[]; associations: string[] } {
  const children = childrenOf(azure, vmId);
  return {
    identity: azure.get(vmId)?.identity?.["type"] as string | undefined,
    agents: children
      .filter((resource) => /\/extensions\/AzureMonitor(Windows|Linux)Agent$/i.test(resource.id) && (resource.properties as { provisioningState?: string } | undefined)?.provisioningState === "Succeeded")
      .map((resource) => resource.name),
    associations: children
      .filter((resource) => resource.type.toLowerCase() === "microsoft.insights/datacollectionruleassociations")
      .map((resource) => String((resource.properties as { dataCollectionRuleId?: string } | undefined)?.dataCollectionRuleId)),
  };
}
