/**
 * The incremental sweep: what Resource Graph's change history shows changed becomes the machines to read
 * directly and the subscriptions to sweep whole (changedScope, pure), and end to end against the local Azure,
 * whose change tables record every write it serves: a few changes cost a few pages and reads, and every
 * machine nothing changed stays unread.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { idKey } from "../../src/azure/ids.js";
import { defaultWorkspaceId, solutionId } from "../../src/defender/names.js";
import { changedScope, type ChangeRecord } from "../../src/discover/changeDiscovery.js";
import { demoEstate, machineWith } from "../../local-azure/src/estate.js";
import { associatedRulesOf, hasAmaSucceeded, extensionsOf, startEngineHarness, subscriptionNamed, type EngineHarness } from "../support/engineHarness.js";
import { newVirtualMachineBody, outOfBand } from "./outOfBand.js";

const SUB = "00000000-0000-4000-8000-00000000000a";
const OTHER = "00000000-0000-4000-8000-00000000000b";
const group = (subscription = SUB, name = "rg-app") => `/subscriptions/${subscription}/resourceGroups/${name}`;
const vm = (name: string, subscription = SUB) => `${group(subscription)}/providers/Microsoft.Compute/virtualMachines/${name}`;
let clock = Date.parse("2026-11-30T10:00:00Z");
const change = (targetResourceId: string, changeType: string, changes?: unknown): ChangeRecord => ({
  targetResourceId,
  changeType,
  timestamp: new Date((clock += 1000)).toISOString(),
  ...(changes !== undefined ? { changes } : {}),
});
const scopeOf = (records: ChangeRecord[], limit?: number) => {
  const scope = changedScope(records, [SUB, OTHER], "ama-remediation", limit);
  return { subscriptions: scope.subscriptions, machines: Object.fromEntries(scope.machines) };
};

describe("changedScope: what a change asks to reconcile", () => {
  it("a machine, one of its extensions or its SQL registration: that machine, read directly", () => {
    expect(
      scopeOf([
        change(vm("vm1"), "Update"),
        change(`${vm("vm2")}/extensions/AzureMonitorWindowsAgent`, "Delete"),
        change(`${group()}/providers/Microsoft.HybridCompute/machines/arc1/extensions/AzureMonitorLinuxAgent`, "Create"),
        change(`${group()}/providers/Microsoft.SqlVirtualMachine/sqlVirtualMachines/sql1`, "Create"),
        change(vm("vm9", OTHER), "Create"),
      ]),
    ).toEqual({
      subscriptions: [],
      machines: {
        [SUB]: [vm("vm1"), vm("vm2"), `${group()}/providers/Microsoft.HybridCompute/machines/arc1`, `${group()}/providers/Microsoft.SqlVirtualMachine/sqlVirtualMachines/sql1`],
        [OTHER]: [vm("vm9", OTHER)],
      },
    });
  });

  it("a machine whose own last change deleted it is not read; one deleted and created again is", () => {
    expect(scopeOf([change(vm("gone"), "Update"), change(vm("gone"), "Delete"), change(`${vm("gone")}/extensions/x`, "Delete"), change(vm("back"), "Delete"), change(vm("back"), "Create")])).toEqual({
      subscriptions: [],
      machines: { [SUB]: [vm("back")] },
    });
    // An unregistered SQL VM leaves nothing to make true.
    expect(scopeOf([change(`${group()}/providers/Microsoft.SqlVirtualMachine/sqlVirtualMachines/sql1`, "Delete")])).toEqual({ subscriptions: [], machines: {} });
  });

  it.each([
    ["a data collection rule deleted", change(`${group()}/providers/Microsoft.Insights/dataCollectionRules/ama-remediator-eastus-dcr`, "Delete")],
    ["a workspace changed", change(`${group()}/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-x-EUS`, "Update")],
    ["a solution created", change(`${group()}/providers/Microsoft.OperationsManagement/solutions/Security(ws)`, "Create")],
    ["Defender for SQL's identity deleted", change(`${group(SUB, "Built-In-Identity-RG")}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Built-In-Identity-eastus`, "Delete")],
    ["a resource group deleted", change(group(), "Delete")],
    ["the opt-out tag removed from a resource group, in any case", change(group(), "Update", { "tags.AMA-Remediation": { previousValue: "skip" } })],
    ["the opt-out tag set on the subscription", change(`/subscriptions/${SUB}`, "Update", { "tags.ama-remediation": { newValue: "skip" } })],
    ["a group update whose changes were not given", change(group(), "Update")],
    ["a group update whose changes were truncated", change(group(), "Update", { "tags.owner": { newValue: "x", isTruncated: "true" } })],
  ])("%s: the whole subscription, and none of its machines one by one", (_, record) => {
    expect(scopeOf([change(vm("vm1"), "Update"), record])).toEqual({ subscriptions: [SUB], machines: {} });
  });

  it.each([
    ["an application's identity", change(`${group()}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app`, "Create")],
    ["a new resource group (what lands in it has changes of its own)", change(group(SUB, "rg-new"), "Create")],
    ["another tag changed on a group", change(group(), "Update", { "tags.costCenter": { previousValue: "1", newValue: "2" } })],
    ["a change in a subscription outside the sweep", change(vm("vm1", "00000000-0000-4000-8000-00000000000c"), "Create")],
    ["a storage account", change(`${group()}/providers/Microsoft.Storage/storageAccounts/logs`, "Update")],
  ])("%s: nothing", (_, record) => {
    expect(scopeOf([record])).toEqual({ subscriptions: [], machines: {} });
  });

  it("more changed machines in a subscription than direct reads suit: the whole subscription instead", () => {
    const many = Array.from({ length: 4 }, (_, index) => change(vm(`vm${index}`), "Create"));
    expect(scopeOf([...many, change(vm("x", OTHER), "Update")], 3)).toEqual({ subscriptions: [SUB], machines: { [OTHER]: [vm("x", OTHER)] } });
    expect(scopeOf(many, 4).machines[SUB]).toHaveLength(4);
  });
});

describe("an incremental sweep after a converged full sweep (the local Azure's change history)", () => {
  let h: EngineHarness;
  const estate = demoEstate();
  const data = subscriptionNamed(estate, "Contoso Data").subscriptionId;
  const agentLost = machineWith(estate, "converged").id;
  const associationLost = machineWith(estate, "ama-conventional", "linux").id;
  const template = machineWith(estate, "no-identity", "windows").id;
  const created = `${template.slice(0, template.lastIndexOf("/"))}/vm-created-later`;
  const solutionDeleted = solutionId(defaultWorkspaceId(data, "westeurope"), "SecurityCenterFree");
  let changedSince: Date;

  beforeAll(async () => {
    h = await startEngineHarness();
    h.load(estate);
    // Full sweeps until one writes nothing: the estate is converged, and what happened so far is history.
    for (let sweep = 0; sweep < 3 && (await h.run({})).sent.length > 0; sweep++);
    expect((await h.run({})).sent).toEqual([]);
    changedSince = new Date();
    const azure = outOfBand(h.azure);
    const agent = extensionsOf(h.azure, agentLost).find((extension) => extension.handler.startsWith("Microsoft.Azure.Monitor/"));
    await azure.delete(`${agentLost}/extensions/${agent?.name}`);
    await azure.delete(`${associationLost}/providers/Microsoft.Insights/dataCollectionRuleAssociations/ama-remediator`);
    await azure.put(newVirtualMachineBody(h.azure, template, "vm-created-later"));
    expect(h.azure.get(solutionDeleted)).toBeDefined();
    await azure.delete(solutionDeleted);
    h.azure.resetRequests();
  }, 120_000);
  afterAll(() => h.close());

  it("fixes the changed machines and the deleted solution with a few Resource Graph pages and direct reads, and reads no machine nothing changed", async () => {
    // Finding and reading the changes (a dry run: the real run adds the rounds that confirm its writes):
    // two change queries, a full sweep of the subscription that lost its rule, and which VMs are SQL VMs.
    await h.run({ changedSince, dryRun: true });
    expect(h.azure.requestCounts().queries).toBeLessThanOrEqual(12);
    h.azure.resetRequests();
    const { report } = await h.run({ changedSince });

    expect(hasAmaSucceeded(h.azure, agentLost)).toBe(true);
    expect(hasAmaSucceeded(h.azure, created)).toBe(true);
    expect(h.azure.get(created)?.identity?.["type"]).toMatch(/SystemAssigned/);
    expect(associatedRulesOf(h.azure, created)).toHaveLength(1);
    expect(h.azure.get(solutionDeleted)).toBeDefined();
    expect(report.summary.failed).toBe(0);

    // Machines are read directly only where they changed; the rest of Production stays unread.
    const machinesRead = new Set(
      h.azure.requests
        .filter((entry) => entry.kind === "read")
        .flatMap((entry) => estate.machines.map((machine) => machine.id).concat(created).filter((id) => idKey(entry.path) === idKey(id) || idKey(entry.path).startsWith(`${idKey(id)}/`))),
    );
    expect([...machinesRead].sort()).toEqual([agentLost, created].sort());
    // What was written: the agent, the new machine's identity, agent and association, the solution.
    const written = new Set(h.writes().map((write) => idKey(decodeURIComponent(write.split(" ")[1] as string))));
    expect([...written].filter((id) => !id.startsWith(idKey(agentLost)) && !id.startsWith(idKey(created)))).toEqual([idKey(solutionDeleted)]);
  });

  it("cannot see a removed association (no change table holds associations): the next full sweep restores it", async () => {
    expect(associatedRulesOf(h.azure, associationLost)).toEqual([]);
    await h.run({});
    expect(associatedRulesOf(h.azure, associationLost)).toHaveLength(1);
  });
});
