/**
 * A sweep of the demo estate through the real SDK clients against the local emulator: what ends up in
 * Azure, what a second sweep does, what a dry run does, and what opted-out resources see.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convergedEstate, demoEstate, generateEstate, machineWith, machinesWith, testEstate, type Estate, type EstateMachine } from "../../local-azure/src/estate.js";
import { builtInIdentityId, defaultWorkspaceId, ownedRuleId, solutionId, sqlRuleId } from "../../src/defender/names.js";
import { idKey } from "../../src/azure/ids.js";
import { SWEEP_BATCH_SUBSCRIPTIONS } from "../../src/engine.js";
import { countedCompliantMachines, hasNothingToReport } from "../../src/report/compliantCounts.js";
import { associatedRulesOf, extensionsOf, startEngineHarness, subscriptionNamed, type EngineHarness } from "../support/engineHarness.js";

let h: EngineHarness;
const estate: Estate = demoEstate();
const production = subscriptionNamed(estate, "Contoso Production");
const data = subscriptionNamed(estate, "Contoso Data");
const sandbox = subscriptionNamed(estate, "Contoso Sandbox");

beforeAll(async () => {
  h = await startEngineHarness();
});
afterAll(() => h.close());

const AMA_HANDLER = { windows: "Microsoft.Azure.Monitor/AzureMonitorWindowsAgent", linux: "Microsoft.Azure.Monitor/AzureMonitorLinuxAgent" } as const;
const OPTED_OUT = new Set(["opt-out-machine", "opt-out-resource-group", "opt-out-subscription"]);
const GUEST_UNAVAILABLE = new Set(["deallocated", "stopped", "extensions-disabled", "arc-windows-disconnected", "arc-linux-disconnected"]);
/** The Linux machines on an off-policy image run a distribution the agent does not support (kali); the Windows ones a gallery image it does. */
const unsupportedOs = (machine: EstateMachine) => machine.state === "off-policy-image" && machine.os === "linux";
const eligible = (machine: EstateMachine) => !OPTED_OUT.has(machine.state) && !unsupportedOs(machine);
const isSqlAma = (machine: EstateMachine) => machine.labels.includes("sql") && machine.os === "windows";

/** Whether `machine` looks, in the emulator's store, the way the service must leave it. */
function expectRemediated(machine: EstateMachine): void {
  const stored = h.azure.get(machine.id);
  const context = `${machine.name} (${machine.state})`;
  if (machine.kind === "vm") expect(String(stored?.identity?.type), context).toMatch(/SystemAssigned/);
  const agents = extensionsOf(h.azure, machine.id).filter((extension) => extension.handler.startsWith("Microsoft.Azure.Monitor/"));
  if (GUEST_UNAVAILABLE.has(machine.state)) {
    expect(agents, context).toEqual([]);
  } else {
    expect(agents.map((agent) => [agent.handler, agent.state, agent.properties["enableAutomaticUpgrade"]]), context).toEqual([[AMA_HANDLER[machine.os], "Succeeded", true]]);
  }
  expect(associatedRulesOf(h.azure, machine.id), context).toContain(idKey(ownedRuleId(machine.subscriptionId, machine.region)));
}

describe("a sweep of the demo estate", () => {
  let first: Awaited<ReturnType<EngineHarness["run"]>>;
  beforeAll(async () => {
    h.load(estate);
    first = await h.run();
  });

  it("fails nothing and remediates every eligible machine", () => {
    expect(first.report.summary.failed).toBe(0);
    for (const machine of estate.machines.filter(eligible)) expectRemediated(machine);
  });

  it("keeps user-assigned identities while adding the system one", () => {
    for (const machine of [...machinesWith(estate, "user-identity-only"), ...machinesWith(estate, "system-and-user-identity")]) {
      const identity = h.azure.get(machine.id)?.identity;
      expect(identity?.type).toBe("SystemAssigned, UserAssigned");
      expect(Object.keys(identity?.userAssignedIdentities ?? {})).toEqual([`/subscriptions/${machine.subscriptionId}/resourceGroups/rg-identity/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-workload`]);
    }
  });

  it("recognises an existing AMA and association under other names: no second copy", () => {
    const customName = machineWith(estate, "ama-custom-name");
    expect(extensionsOf(h.azure, customName.id).map((extension) => extension.name)).toEqual(["ama-custom"]);
    const associated = machineWith(estate, "already-associated");
    expect(associatedRulesOf(h.azure, associated.id)).toHaveLength(1);
  });

  it("re-installs a Failed AMA under its existing name", () => {
    const failed = machineWith(estate, "ama-failed");
    expect(extensionsOf(h.azure, failed.id).map((extension) => [extension.name, extension.state])).toEqual([["AzureMonitorWindowsAgent", "Succeeded"]]);
  });

  it("creates Defender's workspaces and solutions where missing, Security only with Servers P2", () => {
    const solutionsOf = (workspaceId: string) => ["SecurityCenterFree", "Security"].filter((gallery) => h.azure.get(solutionId(workspaceId, gallery)));
    for (const region of ["eastus", "westeurope", "japaneast", "westus3"]) {
      const workspaceId = defaultWorkspaceId(production.subscriptionId, region);
      expect(h.azure.get(workspaceId), region).toBeDefined();
      expect(solutionsOf(workspaceId), region).toEqual(["SecurityCenterFree", "Security"]);
    }
    expect(solutionsOf(defaultWorkspaceId(data.subscriptionId, "westeurope"))).toEqual(["SecurityCenterFree"]);
    expect(h.azure.get(defaultWorkspaceId(production.subscriptionId, "japanwest"))?.location).toBe("japaneast");
  });

  it("gives Windows SQL servers what Defender for SQL's AMA initiative creates", () => {
    for (const machine of estate.machines.filter(isSqlAma)) {
      expect(extensionsOf(h.azure, machine.id).map((extension) => extension.handler)).toEqual(
        expect.arrayContaining(["Microsoft.Azure.Monitor/AzureMonitorWindowsAgent", "Microsoft.Azure.AzureDefenderForSQL/AdvancedThreatProtection.Windows"]),
      );
      expect(associatedRulesOf(h.azure, machine.id)).toContain(idKey(sqlRuleId(machine.subscriptionId, machine.region)));
    }
    const sqlVm = machineWith(estate, "sql-vm-windows");
    expect(Object.keys(h.azure.get(sqlVm.id)?.identity?.userAssignedIdentities ?? {}).map(idKey)).toContain(idKey(builtInIdentityId(sqlVm.subscriptionId, sqlVm.region)));
    const assignments = h.azure.list((resource) => resource.type === "Microsoft.Authorization/policyAssignments");
    expect(assignments.map((assignment) => [assignment.id.split("/")[2], (assignment.properties as { policyDefinitionId: string }).policyDefinitionId])).toEqual(
      expect.arrayContaining([
        [production.subscriptionId, "/providers/Microsoft.Authorization/policySetDefinitions/d7c3ea3a-edf3-4bd5-bd64-d5b635b05393"],
        [data.subscriptionId, "/providers/Microsoft.Authorization/policySetDefinitions/d7c3ea3a-edf3-4bd5-bd64-d5b635b05393"],
      ]),
    );
    expect(h.azure.list((resource) => resource.type === "Microsoft.Authorization/roleAssignments" && resource.id.includes(data.subscriptionId))).toHaveLength(5);
  });

  it("leaves the Linux SQL VM out of Defender for SQL, and says so", () => {
    const linuxSql = machineWith(estate, "sql-vm-linux");
    expect(extensionsOf(h.azure, linuxSql.id).map((extension) => extension.handler)).not.toContain("Microsoft.Azure.AzureDefenderForSQL/AdvancedThreatProtection.Windows");
    expect(first.report.resources.find((resource) => resource.id === linuxSql.id)?.notes).toEqual([expect.stringMatching(/Linux SQL Server machines are outside/)]);
  });

  it("reports machines whose guest is unavailable with the reason, never as failed", () => {
    for (const machine of estate.machines.filter((candidate) => GUEST_UNAVAILABLE.has(candidate.state))) {
      const resource = first.report.resources.find((entry) => entry.id === machine.id);
      expect(resource?.status, machine.name).not.toBe("failed");
      expect(resource?.notes.join(" "), machine.name).toMatch(/deallocated|stopped|allowExtensionOperations|Disconnected/);
    }
  });

  it("reports opted-out machines and unsupported images as skipped, with the reason", () => {
    const reasons = Object.fromEntries(
      estate.machines.filter((machine) => !eligible(machine)).map((machine) => [machine.name, first.report.resources.find((resource) => resource.id === machine.id)]),
    );
    expect(Object.values(reasons).every((resource) => resource?.status === "skipped")).toBe(true);
    expect(reasons["vm-win-optout"]?.notes).toEqual(["machine tagged ama-remediation: skip"]);
    expect(reasons["vm-lin-optout-rg"]?.notes).toEqual(["resource group tagged ama-remediation: skip"]);
    expect(reasons["vm-win-sandbox"]?.notes).toEqual(["subscription tagged ama-remediation: skip"]);
    expect(reasons["vm-lin-unlisted-image"]?.notes).toEqual([expect.stringMatching(/Kali.* is not on the Azure Monitor Agent's supported list/i)]);
  });

  it("reports the legacy MMA switch, never turns it on", () => {
    expect(first.report.subscriptions.find((subscription) => subscription.subscriptionId === production.subscriptionId)?.notes).toContainEqual(expect.stringMatching(/autoprovisioning is On/));
    expect(h.requestsUnder(`/subscriptions/${production.subscriptionId}/providers/Microsoft.Security/autoProvisioningSettings/default`).filter((entry) => entry.method !== "GET")).toEqual([]);
  });

  it("writes nothing to opted-out machines, resource groups or subscriptions", () => {
    const optOutGroup = machineWith(estate, "opt-out-resource-group");
    const touched = h
      .requestsUnder(machineWith(estate, "opt-out-machine").id, `/subscriptions/${optOutGroup.subscriptionId}/resourceGroups/${optOutGroup.resourceGroup}`, sandbox.id)
      .filter((entry) => entry.method !== "GET");
    expect(touched).toEqual([]);
  });

  it("a second sweep writes nothing and finds every eligible machine compliant", async () => {
    h.azure.resetRequests();
    const second = await h.run();
    expect(h.azure.requestCounts()).toMatchObject({ writes: 0, deletes: 0 });
    expect(second.plan.items).toEqual([]);
    expect(second.report.summary).toMatchObject({ remediated: 0, planned: 0, failed: 0 });
    for (const machine of estate.machines) {
      const status = second.report.resources.find((resource) => resource.id === machine.id)?.status;
      expect(status, machine.name).toBe(eligible(machine) && !GUEST_UNAVAILABLE.has(machine.state) ? "compliant" : "skipped");
    }
  });
});

describe("seeded estates with every machine state", () => {
  it.each([1, 2, 3])("seed %i: every eligible machine remediated, nothing failed, the second sweep writes nothing", async (seed) => {
    const random = testEstate(seed);
    h.load(random);
    const first = await h.run();
    expect(first.report.summary.failed).toBe(0);
    for (const machine of random.machines.filter(eligible)) expectRemediated(machine);
    h.azure.resetRequests();
    await h.run();
    expect(h.writes()).toEqual([]);
  });
});

describe("an estate that is already converged", () => {
  it("gets no writes at all", async () => {
    const converged = convergedEstate({ seed: 5, subscriptions: 2, machinesPerSubscription: 20 });
    h.load(converged);
    const run = await h.run();
    expect(h.writes()).toEqual([]);
    expect(run.report.summary).toMatchObject({ remediated: 0, planned: 0, failed: 0, compliant: converged.machines.length });
  });

  it("with drift: writes only to the drifted machines (and what they stand on)", async () => {
    const drifted = convergedEstate({ seed: 5, subscriptions: 2, machinesPerSubscription: 20, drift: 0.3 });
    h.load(drifted);
    const run = await h.run();
    const driftedIds = new Set(machinesWith(drifted, "drifted").map((machine) => idKey(machine.id)));
    expect(driftedIds.size).toBeGreaterThan(0);
    const touched = run.report.resources.filter((resource) => resource.kind !== "shared" && resource.status !== "compliant").map((resource) => idKey(resource.id));
    expect(touched.every((id) => driftedIds.has(id))).toBe(true);
    expect(run.report.summary.failed).toBe(0);
  });

  it("never trips over its own writes: no 409 from ARM during a sweep", async () => {
    h.load(estate);
    await h.run();
    expect(h.azure.requests.filter((entry) => entry.status === 409)).toEqual([]);
  });
});

describe("eligibility by what the Azure Monitor Agent supports", () => {
  const gallery = machineWith(estate, "off-policy-image", "windows");
  const kali = machineWith(estate, "off-policy-image", "linux");

  it("by default remediates a Windows VM from a gallery image and skips a distribution the agent does not support", async () => {
    h.load(estate);
    const run = await h.run();
    expect(run.report.summary.failed).toBe(0);
    expectRemediated(gallery);
    expect(run.report.resources.find((resource) => resource.id === kali.id)).toMatchObject({ status: "skipped", notes: [expect.stringMatching(/Kali.* is not on the Azure Monitor Agent's supported list/i)] });
    expect(h.requestsUnder(kali.id).filter((entry) => entry.method !== "GET")).toEqual([]);
  });

  it("SCOPE_TO_SUPPORTED_IMAGES=true matches the built-in policies: the gallery image is skipped too", async () => {
    h.load(estate);
    const run = await h.run({}, { SCOPE_TO_SUPPORTED_IMAGES: "true" });
    expect(run.report.resources.find((resource) => resource.id === gallery.id)).toMatchObject({ status: "skipped", notes: [expect.stringMatching(/custom image .* is not on the Azure Monitor Agent policies' supported list/)] });
    expect(h.requestsUnder(gallery.id).filter((entry) => entry.method !== "GET")).toEqual([]);
  });
});

describe("a dry run", () => {
  it("writes nothing, and its plan is exactly what apply then sends", async () => {
    h.load(estate);
    const dry = await h.run({ dryRun: true });
    expect(h.azure.requestCounts()).toMatchObject({ writes: 0, deletes: 0 });
    expect(dry.report.dryRun).toBe(true);
    expect(dry.report.summary).toMatchObject({ remediated: 0, failed: 0 });
    expect(dry.report.summary.planned).toBeGreaterThan(0);

    const applied = await h.run();
    const planned = dry.plan.items.map((item) => ({
      method: item.method,
      targetId: item.targetId,
      // Role assignments name a principal that exists only once their policy assignment does.
      ...(item.body ? { body: item.principalFrom ? { ...item.body, properties: { ...(item.body["properties"] as object), principalId: expect.any(String) } } : item.body } : {}),
    }));
    const byTarget = (entries: readonly { method: string; targetId: string }[]) => [...entries].sort((a, b) => `${a.method} ${a.targetId}`.localeCompare(`${b.method} ${b.targetId}`));
    expect(byTarget(applied.sent)).toEqual(byTarget(planned));
    expect(h.writes().map((write) => idKey(decodeURIComponent(write))).sort()).toEqual(dry.plan.items.map((item) => idKey(`${item.method} ${item.targetId}`)).sort());
  });
});

describe("a scope larger than one Resource Graph batch", () => {
  it("is swept batch by batch into one plan and one report, which counts compliant machines with nothing to report per subscription", async () => {
    const large = generateEstate({ seed: 11, subscriptions: SWEEP_BATCH_SUBSCRIPTIONS + 3, machinesPerSubscription: 1, subscriptionOptOutRate: 0 });
    h.load(large);
    const run = await h.run({ dryRun: true });
    const listed = run.report.resources.filter((resource) => resource.kind !== "shared");
    const counted = run.report.subscriptions.filter((subscription) => subscription.compliantMachines !== undefined);
    // Every machine planned, skipped or noted is named; each subscription's rest are counted there.
    expect(listed.filter(hasNothingToReport)).toEqual([]);
    expect(counted.length).toBeGreaterThan(0);
    for (const { subscriptionId, compliantMachines } of counted) {
      const named = listed.filter((resource) => resource.subscriptionId === subscriptionId).length;
      expect(named + (compliantMachines ?? 0), subscriptionId).toBe(large.machines.filter((machine) => machine.subscriptionId === subscriptionId).length);
    }
    expect(listed.length + countedCompliantMachines(run.report)).toBe(large.machines.length);
    expect(Object.values(run.report.summary).reduce((sum, count) => sum + count, 0)).toBe(run.report.resources.length + countedCompliantMachines(run.report));
    // A dry run's plan may be saved and applied later: it keeps every machine's assessment.
    expect(run.plan.assessments.map((assessment) => idKey(assessment.machine.id)).sort()).toEqual(large.machines.map((machine) => idKey(machine.id)).sort());
    expect(new Set(run.plan.items.map((item) => item.key)).size).toBe(run.plan.items.length);
    // Seven queries per batch of subscriptions (plus a page here and there), not one per subscription.
    expect(h.azure.requestCounts().queries).toBeGreaterThanOrEqual(14);
    expect(h.azure.requestCounts().queries).toBeLessThan(30);
  });

  it("a run that applies keeps no state of the compliant machines it counts: its plan assesses the machines its report names", async () => {
    const converged = convergedEstate({ seed: 12, subscriptions: SWEEP_BATCH_SUBSCRIPTIONS + 3, machinesPerSubscription: 2 });
    h.load(converged);
    const run = await h.run({ dryRun: false });
    const listed = run.report.resources.filter((resource) => resource.kind !== "shared");
    expect(run.plan.items).toEqual([]);
    expect(run.report.summary.compliant).toBeGreaterThan(SWEEP_BATCH_SUBSCRIPTIONS);
    expect(listed.length + countedCompliantMachines(run.report)).toBe(converged.machines.length);
    expect(run.plan.assessments.map((assessment) => idKey(assessment.machine.id)).sort()).toEqual(listed.map((resource) => idKey(resource.id)).sort());
  });
});

describe("discovery", () => {
  it("reads a page at a time: requests do not grow with the number of machines", async () => {
    const counts = [];
    for (const machinesPerSubscription of [8, 40]) {
      h.load(generateEstate({ seed: 7, subscriptions: 2, machinesPerSubscription }));
      await h.run({ dryRun: true });
      counts.push(h.azure.requestCounts());
    }
    expect(counts[1]).toEqual(counts[0]);
    expect(counts[0]?.writes).toBe(0);
  });
});
