/**
 * The AMA Remediator custom role (infra/main.json, from infra/templates/roleActions.ts) against what the
 * service is seen to do. One emulator; the real engine and Function App code paths run a set of
 * scenarios chosen to reach every Azure operation the service can perform (every gateway method,
 * every kind of plan item, VM and Arc, first and converged runs, sweeps and events, every mode). The
 * actions used are derived from what went over the wire:
 *
 * - every request the emulator served, as `method + resource type -> action` (rbacActionFor), except
 *   polls of long-running operations, which ARM authorises with the original request;
 * - the reads Azure Resource Graph implies: it returns only rows the caller may read, so every
 *   resource type a query the service sent names needs `<type>/read`;
 * - the linked-access checks ARM makes on resources a write body points at (IMPLIED_BY_WRITES).
 *
 * The role must list every one of them (a new Azure call without a role update fails) and nothing
 * else (a role action nothing uses fails too).
 */
import { SharedReadCache } from "../../src/discover/sharedReadCache.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArmGateway, createGateway } from "../../src/azure/gateway.js";
import { idKey } from "../../src/azure/ids.js";
import { apiVersionFor } from "../../src/azure/apiVersions.js";
import type { PlanAction } from "../../src/plan/plan.js";
import { handleHealthRequest } from "../../src/functions/healthApi.js";
import { MAX_DEQUEUE_COUNT, type Service } from "../../src/service/service.js";
import type { StateStore } from "../../src/state/stateStore.js";
import { createLogger } from "../../src/log.js";
import { demoEstate, machineWith } from "../../local-azure/src/estate.js";
import type { ArmResource } from "../../local-azure/src/arm-resource.js";
import { rbacActionFor } from "../../local-azure/src/rbac.js";
import type { RequestLogEntry } from "../../local-azure/src/requestLog.js";
import { startEngineHarness, type EngineHarness, type SentWrite } from "../support/engineHarness.js";
import { httpRequest } from "../functions/http.js";
import { remediatorRoleActions } from "./templateLint.js";

type LoggedRequest = Pick<RequestLogEntry, "action" | "kind">;

interface RoleComparison {
  /** Actions the service was seen to need that the role lacks. */
  readonly missing: string[];
  /** Role actions nothing was seen to need. */
  readonly unused: string[];
}

/**
 * Compares the role with the requests the service sent (and the actions those requests imply), as RBAC
 * does: case-insensitively. Polls need no action of their own.
 */
function compareRoleWithRequests(roleActions: readonly string[], requests: readonly LoggedRequest[], implied: Iterable<string> = []): RoleComparison {
  const used = new Map<string, string>();
  for (const action of [...requests.filter((request) => request.kind !== "poll").map((request) => request.action), ...implied]) {
    if (!used.has(action.toLowerCase())) used.set(action.toLowerCase(), action);
  }
  const granted = new Set(roleActions.map((action) => action.toLowerCase()));
  return {
    missing: [...used].filter(([key]) => !granted.has(key)).map(([, action]) => action).sort(),
    unused: roleActions.filter((action) => !used.has(action.toLowerCase())).sort(),
  };
}

/** `<type>/read` for every resource type a Resource Graph query names: ARG only returns rows the caller may read. */
function readsImpliedByQueries(queries: readonly string[]): string[] {
  const types = queries.flatMap((query) => [...query.matchAll(/'(microsoft\.[a-z0-9]+(?:\/[a-z0-9]+)+)'/gi)].map((match) => (match[1] as string).toLowerCase()));
  return [...new Set(types)].map((type) => rbacActionFor("GET", type));
}

/**
 * Actions ARM checks on a resource a write body refers to, beyond the write's own action. No request
 * names them, so each is derived from the bodies apply sent, with the reason ARM checks it.
 */
const IMPLIED_BY_WRITES: readonly { action: string; reason: string; applies: (write: SentWrite) => boolean }[] = [
  {
    action: "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
    reason: "ARM checks it on each user-assigned identity a PUT/PATCH attaches (identity.userAssignedIdentities)",
    applies: (write) => Object.keys(((write.body?.["identity"] as Record<string, unknown> | undefined)?.["userAssignedIdentities"] as object | undefined) ?? {}).length > 0,
  },
  {
    action: "Microsoft.Insights/dataCollectionRules/read",
    reason: "creating an association is checked for read access to its rule (docs/azure-domain.md §7.2)",
    applies: (write) => write.method === "PUT" && /\/providers\/Microsoft\.Insights\/dataCollectionRuleAssociations\/[^/]+$/i.test(write.targetId),
  },
];

function actionsImpliedByWrites(writes: readonly SentWrite[]): string[] {
  return IMPLIED_BY_WRITES.filter((rule) => writes.some(rule.applies)).map((rule) => rule.action);
}

/** Every kind of write the planner knows; the type makes adding a PlanAction without listing it here fail typecheck. */
const PLAN_ACTIONS: Record<PlanAction, true> = {
  createResourceGroup: true,
  createUserAssignedIdentity: true,
  createWorkspace: true,
  installSolution: true,
  createDataCollectionRule: true,
  updateMachineIdentity: true,
  installExtension: true,
  associateDataCollectionRule: true,
  removeExtension: true,
  assignPolicy: true,
  assignRole: true,
};

// ---------------------------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------------------------

const estate = demoEstate();
const production = estate.subscriptions.find((subscription) => subscription.displayName === "Contoso Production")!;
const monitoring = `${production.id}/resourceGroups/rg-monitoring`;
const CUSTOM_WORKSPACE = `${monitoring}/providers/Microsoft.OperationalInsights/workspaces/law-contoso-ops`;
const CONFIGURED_RULE = `${monitoring}/providers/Microsoft.Insights/dataCollectionRules/dcr-ops-perf-japanwest`;
const vm = machineWith(estate, "no-identity", "linux");
const arc = machineWith(estate, "arc-linux-connected");
const sqlVm = machineWith(estate, "sql-vm-windows");
const EVENT_TARGETS = [vm.id, arc.id, sqlVm.sqlVirtualMachineId as string];

/** The demo estate has MMA on VMs only: give one Arc machine MMA next to a working AMA, so REMOVE_LEGACY_MMA deletes an Arc extension. */
const arcWithMma: ArmResource[] = [
  arcExtension("OMSAgentForLinux", "Microsoft.EnterpriseCloud.Monitoring", "OmsAgentForLinux", "1.13"),
  arcExtension("AzureMonitorLinuxAgent", "Microsoft.Azure.Monitor", "AzureMonitorLinuxAgent", "1.33"),
];

function arcExtension(name: string, publisher: string, type: string, typeHandlerVersion: string): ArmResource {
  return {
    id: `${arc.id}/extensions/${name}`,
    name,
    type: "Microsoft.HybridCompute/machines/extensions",
    location: arc.region,
    properties: { publisher, type, typeHandlerVersion, autoUpgradeMinorVersion: true, provisioningState: "Succeeded", settings: {} },
  };
}

interface Usage {
  scenario: string;
  requests: RequestLogEntry[];
  writes: SentWrite[];
  planActions: PlanAction[];
}

let h: EngineHarness;
const usage: Usage[] = [];
/** Arguments of every call to each ArmGateway method, recorded by wrapping the prototype (restored after). */
const gatewayCalls = new Map<string, unknown[][]>();
const originals = new Map<string, (...args: unknown[]) => unknown>();
/** ArmGateway's own methods, public and private: each must be reached by some scenario. */
const GATEWAY_METHODS = Object.getOwnPropertyNames(ArmGateway.prototype).filter((name) => name !== "constructor");

async function scenario(name: string, run: () => Promise<{ writes?: SentWrite[]; planActions?: PlanAction[] } | void>): Promise<void> {
  h.azure.resetRequests();
  const result = (await run()) ?? {};
  usage.push({ scenario: name, requests: [...h.azure.requests], writes: result.writes ?? [], planActions: result.planActions ?? [] });
}

async function reconcileIn(name: string, request: Parameters<EngineHarness["run"]>[0], env: Record<string, string> = {}): Promise<void> {
  await scenario(name, async () => {
    const run = await h.run(request, env);
    expect(run.report.summary.failed, `${name}: failed items`).toBe(0);
    return { writes: [...run.sent], planActions: run.plan.items.map((item) => item.action) };
  });
}

beforeAll(async () => {
  h = await startEngineHarness();
  const prototype = ArmGateway.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of GATEWAY_METHODS) {
    const original = prototype[name] as (...args: unknown[]) => unknown;
    const calls: unknown[][] = [];
    originals.set(name, original);
    gatewayCalls.set(name, calls);
    prototype[name] = function (this: ArmGateway, ...args: unknown[]) {
      calls.push(args);
      return original.apply(this, args);
    };
  }

  // A tenant as generated: every profile (Security P2 and Standard SQL subscriptions), SQL_MODE=ama, MMA removed.
  h.load(estate, ...arcWithMma);
  await reconcileIn("sweep, default settings, REMOVE_LEGACY_MMA=true", {}, { REMOVE_LEGACY_MMA: "true" });
  // Again: MMA goes now that AMA shows Succeeded, and the SQL initiative identity's role grants are read (Resource Graph).
  await reconcileIn("second sweep over the converged estate", {}, { REMOVE_LEGACY_MMA: "true" });
  // Events against a converged estate: the direct reads find every shared resource (identity, workspaces, rules, assignments).
  await reconcileIn("event-path reconcile of a VM, an Arc machine and a SQL VM, converged", { resourceIds: EVENT_TARGETS }, { REMOVE_LEGACY_MMA: "true" });

  h.load(estate);
  await reconcileIn("event-path reconcile of a VM, an Arc machine and a SQL VM, as generated", { resourceIds: EVENT_TARGETS });
  h.load(estate);
  await reconcileIn("sweep, SQL_MODE=extension-only", {}, { SQL_MODE: "extension-only" });
  h.load(estate);
  await reconcileIn("sweep, custom workspace and data collection rule", {}, { LOG_ANALYTICS_WORKSPACE_ID: CUSTOM_WORKSPACE, DATA_COLLECTION_RULE_ID: CONFIGURED_RULE });
  h.load(estate);
  await reconcileIn("event-path reconcile, custom workspace and data collection rule", { resourceIds: EVENT_TARGETS }, { LOG_ANALYTICS_WORKSPACE_ID: CUSTOM_WORKSPACE, DATA_COLLECTION_RULE_ID: CONFIGURED_RULE });
  h.load(estate);
  await reconcileIn("sweep, no configured scope (every listable subscription)", {}, { REMEDIATION_SUBSCRIPTIONS: "" });

  // The Function App's health check probes ARM itself (Storage is not what this test is about).
  await scenario("GET /api/health", async () => {
    const settings = h.settings({ REMEDIATION_SUBSCRIPTIONS: "" });
    const state = { runs: { listRecent: async () => [] }, workQueue: { approximateLength: async () => ({ work: 0, poison: 0 }) } } as unknown as StateStore;
    const service: Service = { settings, gateway: createGateway(settings), state, logger: createLogger({ level: "silent" }), sharedReads: new SharedReadCache(), maxDequeueCount: MAX_DEQUEUE_COUNT };
    const response = await handleHealthRequest(service, httpRequest("GET", "/api/health"));
    expect(response.status).toBe(200);
  });
});

afterAll(async () => {
  const prototype = ArmGateway.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [name, original] of originals) prototype[name] = original;
  await h.close();
});

const allRequests = () => usage.flatMap((entry) => entry.requests);
const resourceGraphQueries = () => (gatewayCalls.get("queryResourceGraph") ?? []).map((call) => String(call[0]));
const impliedActions = () => [...readsImpliedByQueries(resourceGraphQueries()), ...actionsImpliedByWrites(usage.flatMap((entry) => entry.writes))];

/** What needed an action, for failure messages: the scenarios whose requests named it, or what implied it. */
function usedBy(action: string): string {
  const key = action.toLowerCase();
  const scenarios = usage.filter((entry) => entry.requests.some((request) => request.kind !== "poll" && request.action.toLowerCase() === key));
  if (scenarios.length > 0) return scenarios.map((entry) => entry.scenario).join("; ");
  const query = resourceGraphQueries().find((text) => readsImpliedByQueries([text]).some((read) => read.toLowerCase() === key));
  if (query) return `Resource Graph returns only rows the caller may read: ${query.slice(0, 120)}`;
  return IMPLIED_BY_WRITES.find((rule) => rule.action.toLowerCase() === key)?.reason ?? "?";
}

describe("the AMA Remediator role vs the ARM operations the service performs", () => {
  it("the scenarios reach every gateway method and every kind of plan item", () => {
    expect(GATEWAY_METHODS.filter((name) => (gatewayCalls.get(name)?.length ?? 0) === 0), "ArmGateway methods no scenario calls").toEqual([]);
    const planned = new Set(usage.flatMap((entry) => entry.planActions));
    expect(Object.keys(PLAN_ACTIONS).filter((action) => !planned.has(action as PlanAction)), "plan actions no scenario applies").toEqual([]);
    // Agents are installed and removed on both kinds of machine.
    const written = allRequests().filter((request) => request.status < 400 && (request.kind === "write" || request.kind === "delete"));
    for (const type of ["Microsoft.Compute/virtualMachines/extensions", "Microsoft.HybridCompute/machines/extensions"]) {
      for (const method of ["PUT", "DELETE"]) expect(written.some((request) => request.method === method && request.resourceType.toLowerCase() === type.toLowerCase()), `${method} ${type}`).toBe(true);
    }
  });

  it("lists every action the service uses (a new Azure call without a role update fails here)", () => {
    const { missing } = compareRoleWithRequests(remediatorRoleActions(), allRequests(), impliedActions());
    expect(missing.map((action) => `${action} (used by: ${usedBy(action)})`), "add these to infra/templates/roleActions.ts, then npm run infra:build").toEqual([]);
  });

  it("lists nothing the service does not use", () => {
    const { unused } = compareRoleWithRequests(remediatorRoleActions(), allRequests(), impliedActions());
    expect(unused, "remove these from infra/templates/roleActions.ts, or add a scenario that needs them").toEqual([]);
  });
});

describe("compareRoleWithRequests", () => {
  // Against the role and the observed usage, whatever their state: only the difference an addition makes is asserted here.
  const role = () => remediatorRoleActions();
  const observed = () => allRequests();
  const baseline = () => compareRoleWithRequests(role(), observed(), impliedActions());
  const withMissing = (action: string) => ({ missing: [...baseline().missing, action].sort(), unused: baseline().unused });

  it("reports an ARM call added without its action as missing", () => {
    const added: LoggedRequest = { action: "Microsoft.Compute/virtualMachines/delete", kind: "delete" };
    expect(compareRoleWithRequests(role(), [...observed(), added], impliedActions())).toEqual(withMissing("Microsoft.Compute/virtualMachines/delete"));
  });

  it("reports a real extra ARM call through the gateway as missing", async () => {
    h.load(estate);
    const writer = new ArmGateway({ endpoint: h.azure.endpoint, credential: h.azure.credential }).writer(() => undefined);
    await writer.start({ method: "DELETE", id: vm.id, apiVersion: apiVersionFor("Microsoft.Compute/virtualMachines") });
    const extra = h.azure.requests.filter((request) => idKey(request.path) === idKey(vm.id));
    expect(extra.map((request) => request.action)).toContain("Microsoft.Compute/virtualMachines/delete");
    expect(compareRoleWithRequests(role(), [...observed(), ...extra], impliedActions())).toEqual(withMissing("Microsoft.Compute/virtualMachines/delete"));
  });

  it("reports a role action nothing uses as unused", () => {
    expect(compareRoleWithRequests([...role(), "Microsoft.Security/pricings/write"], observed(), impliedActions())).toEqual({
      missing: baseline().missing,
      unused: [...baseline().unused, "Microsoft.Security/pricings/write"].sort(),
    });
  });

  it("needs nothing for polls, and compares as RBAC does: case-insensitively", () => {
    const poll: LoggedRequest = { action: "Microsoft.Compute/locations/operations/read", kind: "poll" };
    const requests: LoggedRequest[] = [poll, { action: "microsoft.compute/VIRTUALMACHINES/read", kind: "read" }];
    expect(compareRoleWithRequests(["Microsoft.Compute/virtualMachines/read"], requests)).toEqual({ missing: [], unused: [] });
  });

  it("derives reads from Resource Graph queries and linked checks from write bodies", () => {
    expect(readsImpliedByQueries(["resources | where type in~ ('microsoft.compute/virtualmachines', 'microsoft.network/networkinterfaces')"])).toEqual([
      "microsoft.compute/virtualmachines/read",
      "microsoft.network/networkinterfaces/read",
    ]);
    const attach: SentWrite = { method: "PATCH", targetId: vm.id, body: { identity: { type: "SystemAssigned, UserAssigned", userAssignedIdentities: { "/subscriptions/x/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u": {} } } } };
    expect(actionsImpliedByWrites([attach])).toEqual(["Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"]);
    expect(actionsImpliedByWrites([{ method: "PATCH", targetId: vm.id, body: { identity: { type: "SystemAssigned" } } }])).toEqual([]);
  });
});
