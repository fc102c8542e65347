/**
 * What every trigger needs, built once per process from the Function App's settings: validated
 * settings, the ARM gateway, durable state (tables and queues) and the logger. Invalid settings fail
 * the first invocation with a message naming the setting.
 */
import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";
import { loadSettings, type Environment, type Settings } from "../config/settings.js";
import { createGateway, type ArmGateway } from "../azure/gateway.js";
import { createLogger, type Logger } from "../log.js";
import { SharedReadCache } from "../discover/sharedReadCache.js";
import { createStateStore, type StateStore } from "../state/stateStore.js";
import { storageConnectionFromSettings } from "../state/storageConnection.js";
import hostJson from "../../host.json" with { type: "json" };

export interface Service {
  readonly settings: Settings;
  readonly gateway: ArmGateway;
  readonly state: StateStore;
  readonly logger: Logger;
  /** Subscription-level reads kept across this process's runs, forgotten on events that change them. */
  readonly sharedReads: SharedReadCache;
  /** host.json `extensions.queues.maxDequeueCount`: the attempt after which a work item is poisoned. */
  readonly maxDequeueCount: number;
}

/** The Functions host reads it from host.json; so does the service, so the two cannot disagree. */
export const MAX_DEQUEUE_COUNT: number = hostJson.extensions.queues.maxDequeueCount;

export async function createService(env: Environment, options: { logger?: Logger } = {}): Promise<Service> {
  const settings = loadSettings(env);
  const connection = storageConnectionFromSettings(env, (clientId) => (clientId ? new ManagedIdentityCredential({ clientId }) : (new DefaultAzureCredential() as TokenCredential)));
  return {
    settings,
    gateway: createGateway(settings),
    state: await createStateStore(connection),
    logger: options.logger ?? createLogger({ level: settings.logLevel ?? "info" }),
    sharedReads: new SharedReadCache(),
    maxDequeueCount: MAX_DEQUEUE_COUNT,
  };
}

let shared: Promise<Service> | undefined;

/** The process-wide service the Functions registrations use, built from the app settings on first use. */
export function sharedService(): Promise<Service> {
  shared ??= createService(process.env).catch((error: unknown) => {
    shared = undefined; // a later invocation may succeed once settings are fixed
    throw error;
  });
  return shared;
}
