/**
 * The engine against the local Azure emulator, through the real SDK clients: one emulator per test
 * file, an estate loaded fresh per test, settings from an environment object as the Function App and
 * the CLI read them, and a record of every write apply sent (target, method, body).
 */
import { loadSettings, type Settings } from "../../src/config/settings.js";
import { createGateway, type ArmBody, type ArmGateway, type ArmWriter } from "../../src/azure/gateway.js";
import { reconcile, type ReconcileOutcome, type ReconcileRequest } from "../../src/engine.js";
import { createLogger } from "../../src/log.js";
import { idKey } from "../../src/azure/ids.js";
import { startLocalAzure, type LocalAzure } from "../../local-azure/src/emulator.js";
import type { Estate, EstateSubscription } from "../../local-azure/src/estate.js";
import type { ArmResource } from "../../local-azure/src/arm-resource.js";
import type { RequestLogEntry } from "../../local-azure/src/requestLog.js";

export interface SentWrite {
  readonly method: "PUT" | "PATCH" | "DELETE";
  readonly targetId: string;
  readonly body?: ArmBody;
}

export interface RunResult extends ReconcileOutcome {
  /** What apply handed the gateway, in order. */
  readonly sent: readonly SentWrite[];
  /** Most writes in flight at once, per subscription. */
  readonly peakInFlight: ReadonlyMap<string, number>;
}

export interface EngineHarness {
  readonly azure: LocalAzure;
  /** The environment the service would see (ARM_ENDPOINT, ARM_TOKEN, scope = the estate's subscriptions). */
  env(extra?: Record<string, string>): Record<string, string>;
  settings(extra?: Record<string, string>): Settings;
  /** Empties the emulator (store, faults, request log) and loads the estate plus any extra resources. */
  load(estate: Estate, ...extra: readonly ArmResource[]): void;
  /** `beforeWrite` sees each write just before it is sent (to change the world between plan and apply). */
  run(request?: ReconcileRequest, env?: Record<string, string>, beforeWrite?: (write: SentWrite) => void): Promise<RunResult>;
  /** Successful writes and deletes the emulator served, as `METHOD id` (ids as sent). */
  writes(): string[];
  /** Every request whose path lies at or under one of these ids (case-insensitive). */
  requestsUnder(...ids: string[]): RequestLogEntry[];
  close(): Promise<void>;
}

export async function startEngineHarness(): Promise<EngineHarness> {
  const azure = await startLocalAzure();
  // Tests sweep the same estate several times a second; Resource Graph's real quota (15 queries / 5 s)
  // would turn that into Retry-After waits that test nothing here.
  azure.setThrottle({ resourceGraph: { queries: 200, windowSeconds: 5 } });
  // Operations end on their own, as in ARM: the service confirms them through Resource Graph without polling,
  // so under the one-poll model an operation nobody polls ends 250 ms after its write.
  azure.setLro({ finishUnpolledAfterMs: 250 });
  let estateScope: readonly string[] = [];
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    ARM_ENDPOINT: azure.endpoint,
    ARM_TOKEN: azure.token,
    REMEDIATION_SUBSCRIPTIONS: estateScope.join(","),
    ARM_POLL_INTERVAL_MS: "50",
    ARM_CONFLICT_RETRY_DELAY_MS: "20",
    LOG_LEVEL: "silent",
    ...extra,
  });
  const settings = (extra?: Record<string, string>) => loadSettings(env(extra));
  return {
    azure,
    env,
    settings,
    load(estate, ...extra) {
      azure.reset();
      azure.setFaults({});
      azure.load(estate.resources);
      azure.load(extra);
      estateScope = estate.subscriptions.map((subscription) => subscription.subscriptionId);
    },
    async run(request = {}, extra = {}, beforeWrite) {
      const runSettings = settings(extra);
      const sent: SentWrite[] = [];
      const inFlight = new Map<string, number>();
      const peakInFlight = new Map<string, number>();
      const gateway = recording(createGateway(runSettings), (write) => {
        beforeWrite?.(write);
        sent.push(write);
        const subscription = subscriptionOf(write.targetId);
        const now = (inFlight.get(subscription) ?? 0) + 1;
        inFlight.set(subscription, now);
        peakInFlight.set(subscription, Math.max(now, peakInFlight.get(subscription) ?? 0));
        return () => inFlight.set(subscription, (inFlight.get(subscription) ?? 1) - 1);
      });
      const outcome = await reconcile(request, { settings: runSettings, gateway, logger: createLogger({ level: "silent" }) });
      return { ...outcome, sent, peakInFlight };
    },
    writes: () => azure.requests.filter((entry) => (entry.kind === "write" || entry.kind === "delete") && entry.status < 400).map((entry) => `${entry.method} ${entry.path}`),
    requestsUnder: (...ids) => {
      const keys = ids.map(idKey);
      return azure.requests.filter((entry) => keys.some((key) => idKey(entry.path) === key || idKey(entry.path).startsWith(`${key}/`)));
    },
    close: () => azure.close(),
  };
}

/** The gateway, with every write apply sends recorded before it goes out (`record` returns "it is done"). */
function recording(gateway: ArmGateway, record: (write: SentWrite) => () => void): ArmGateway {
  const writer = gateway.writer.bind(gateway);
  gateway.writer = (assertWritable): ArmWriter => {
    const inner = writer(assertWritable);
    const track = async <T>(write: SentWrite, send: () => Promise<T>): Promise<T> => {
      const done = record(write);
      try {
        return await send();
      } finally {
        done();
      }
    };
    return {
      getResource: (id) => inner.getResource(id),
      readTarget: (id) => inner.readTarget(id),
      start: (write) => track({ method: write.method, targetId: write.id, ...(write.body ? { body: write.body } : {}) }, () => inner.start(write)),
    };
  };
  return gateway;
}

function subscriptionOf(id: string): string {
  return id.split("/")[2]?.toLowerCase() ?? "";
}

/** Extensions on a machine in the emulator's store, as `publisher/type` with their provisioning state. */
export function extensionsOf(azure: LocalAzure, machineId: string): { name: string; handler: string; state: string; properties: Record<string, unknown> }[] {
  const prefix = `${idKey(machineId)}/extensions/`;
  return azure
    .list((resource) => idKey(resource.id).startsWith(prefix) && !idKey(resource.id).slice(prefix.length).includes("/"))
    .map((resource) => {
      const properties = (resource.properties ?? {}) as Record<string, unknown>;
      return { name: resource.name, handler: `${String(properties["publisher"])}/${String(properties["type"])}`, state: String(properties["provisioningState"]), properties };
    });
}

/** Rule ids (lower case) a machine is associated with in the emulator's store. */
export function associatedRulesOf(azure: LocalAzure, machineId: string): string[] {
  const prefix = `${idKey(machineId)}/providers/microsoft.insights/datacollectionruleassociations/`;
  return azure
    .list((resource) => idKey(resource.id).startsWith(prefix))
    .map((resource) => idKey(String(((resource.properties ?? {}) as Record<string, unknown>)["dataCollectionRuleId"])));
}

/** Whether the machine runs the Azure Monitor Agent (either OS) in a Succeeded state, under any name. */
export function hasAmaSucceeded(azure: LocalAzure, machineId: string): boolean {
  return extensionsOf(azure, machineId).some((extension) => extension.handler.startsWith("Microsoft.Azure.Monitor/") && extension.state === "Succeeded");
}

/** A subscription of the demo estate by its display name ("Contoso Production", "Contoso Data", "Contoso Sandbox"). */
export function subscriptionNamed(estate: Estate, displayName: string): EstateSubscription {
  const subscription = estate.subscriptions.find((candidate) => candidate.displayName === displayName);
  if (!subscription) throw new Error(`no subscription named ${displayName}`);
  return subscription;
}
