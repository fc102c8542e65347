/**
 * Targeted reconciles (what events and HTTP runs ask for): named resources resolve to their machine,
 * only that machine is written, a second run writes nothing, and anything outside the configured scope
 * is refused before a single request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoEstate, machineWith, type EstateMachine } from "../../local-azure/src/estate.js";
import { ScopeError } from "../../src/errors.js";
import { idKey } from "../../src/azure/ids.js";
import { extensionsOf, hasAmaSucceeded, startEngineHarness, subscriptionNamed, type EngineHarness } from "../support/engineHarness.js";

let h: EngineHarness;
const estate = demoEstate();
const production = subscriptionNamed(estate, "Contoso Production");
const OUTSIDE = "99999999-9999-4999-8999-999999999999";

beforeAll(async () => {
  h = await startEngineHarness();
});
afterAll(() => h.close());

const machineIdsWritten = () => new Set(h.writes().map((write) => /^\w+ (\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.(Compute\/virtualMachines|HybridCompute\/machines)\/[^/]+)/i.exec(write)?.[1]).filter((id) => id !== undefined).map((id) => idKey(id)));

describe("reconcile by resource ids", () => {
  const vm = machineWith(estate, "no-identity", "linux");
  const sqlVm = machineWith(estate, "sql-vm-windows");
  const arc = machineWith(estate, "arc-linux-connected");

  const named: [string, () => string, EstateMachine][] = [
    ["a VM id", () => vm.id, vm],
    ["a VM id in another casing", () => vm.id.toUpperCase().replace("/SUBSCRIPTIONS/", "/subscriptions/"), vm],
    ["an extension id (resolves to its machine)", () => `${vm.id}/extensions/AzureMonitorLinuxAgent`, vm],
    ["an association id (resolves to its machine)", () => `${vm.id}/providers/Microsoft.Insights/dataCollectionRuleAssociations/gone`, vm],
    ["a SQL VM id (resolves to its VM)", () => sqlVm.sqlVirtualMachineId as string, sqlVm],
    ["an Arc machine id", () => arc.id, arc],
  ];

  it.each(named)("%s remediates that machine only", async (_name, id, machine) => {
    h.load(estate);
    const first = await h.run({ resourceIds: [id()] });
    expect(first.report.summary.failed).toBe(0);
    expect(first.report.resources.filter((resource) => resource.kind !== "shared").map((resource) => [idKey(resource.id), resource.status])).toEqual([[idKey(machine.id), "remediated"]]);
    expect([...machineIdsWritten()]).toEqual([idKey(machine.id)]);
    expect(hasAmaSucceeded(h.azure, machine.id)).toBe(true);
  });

  async function secondRunWrites(id: string): Promise<string[]> {
    h.load(estate);
    await h.run({ resourceIds: [id] });
    h.azure.resetRequests();
    await h.run({ resourceIds: [id] });
    return h.writes();
  }

  it("a second targeted run for a SQL machine writes nothing", async () => {
    expect(await secondRunWrites(sqlVm.sqlVirtualMachineId as string)).toEqual([]);
  });

  it.each(named.filter(([, , machine]) => machine !== sqlVm))("a second targeted run writes nothing: %s", async (_name, id) => {
    expect(await secondRunWrites(id())).toEqual([]);
  });

  it("a SQL VM id gets Defender for SQL", async () => {
    h.load(estate);
    await h.run({ resourceIds: [sqlVm.sqlVirtualMachineId as string] });
    expect(extensionsOf(h.azure, sqlVm.id).map((extension) => extension.handler)).toContain("Microsoft.Azure.AzureDefenderForSQL/AdvancedThreatProtection.Windows");
  });

  it("an opted-out machine is skipped with the reason and not written", async () => {
    h.load(estate);
    const optedOut = machineWith(estate, "opt-out-machine");
    const run = await h.run({ resourceIds: [optedOut.id] });
    expect(run.report.resources.find((resource) => resource.id === optedOut.id)).toMatchObject({ status: "skipped", notes: ["machine tagged ama-remediation: skip"] });
    expect(h.requestsUnder(optedOut.id).filter((entry) => entry.method !== "GET")).toEqual([]);
  });

  it("names of one machine (its id in two casings, an extension) are reconciled once", async () => {
    h.load(estate);
    const run = await h.run({ resourceIds: [vm.id, vm.id.replace("/resourceGroups/", "/RESOURCEGROUPS/"), `${vm.id}/extensions/AzureMonitorLinuxAgent`] });
    expect(run.report.resources.filter((resource) => resource.kind !== "shared")).toHaveLength(1);
    expect(h.requestsUnder(`${vm.id}/extensions`).filter((entry) => entry.method === "PUT")).toHaveLength(1);
  });

  it("a machine in an opted-out subscription is skipped and nothing in that subscription is written", async () => {
    h.load(estate);
    const sandboxVm = machineWith(estate, "opt-out-subscription");
    const run = await h.run({ resourceIds: [sandboxVm.id] });
    expect(run.report.resources).toEqual([expect.objectContaining({ id: sandboxVm.id, status: "skipped", notes: ["subscription tagged ama-remediation: skip"] })]);
    expect(h.writes()).toEqual([]);
  });

  it("a machine that no longer exists is nothing to do", async () => {
    h.load(estate);
    const run = await h.run({ resourceIds: [`${production.id}/resourceGroups/rg-workload-eastus/providers/Microsoft.Compute/virtualMachines/vm-deleted`] });
    expect(run.report.resources.filter((resource) => resource.kind !== "shared")).toEqual([]);
    expect(h.writes().filter((write) => write.includes("vm-deleted"))).toEqual([]);
  });

  it("in custom workspace mode, does not rewrite the Defender for SQL rule an earlier run created", async () => {
    h.load(estate);
    const env = { LOG_ANALYTICS_WORKSPACE_ID: `${production.id}/resourceGroups/rg-monitoring/providers/Microsoft.OperationalInsights/workspaces/law-contoso-ops` };
    await h.run({ resourceIds: [sqlVm.id] }, env);
    h.azure.resetRequests();
    await h.run({ resourceIds: [machineWith(estate, "arc-sql").id] }, env);
    expect(h.writes().filter((write) => /dataCollectionRules\//i.test(write))).toEqual([]);
  });
});

describe("Defender for SQL's initiative already assigned by the customer, under a name of their own", () => {
  const data = subscriptionNamed(estate, "Contoso Data");
  const customerAssignment = {
    id: `${data.id}/providers/Microsoft.Authorization/policyAssignments/asc-sql-ama-autoprovisioning`,
    name: "asc-sql-ama-autoprovisioning",
    type: "Microsoft.Authorization/policyAssignments",
    location: "eastus",
    identity: { type: "SystemAssigned", principalId: "5e5e5e5e-0000-4000-8000-000000000002", tenantId: "72f988bf-0000-4000-8000-00000000a2e1" },
    properties: { displayName: "SQL AMA autoprovisioning", policyDefinitionId: "/providers/Microsoft.Authorization/policySetDefinitions/d7c3ea3a-edf3-4bd5-bd64-d5b635b05393", scope: data.id },
  };
  const assignmentWrites = () => h.writes().filter((write) => /policyAssignments\//i.test(write));

  it("a sweep does not assign it a second time", async () => {
    h.load(estate, customerAssignment);
    await h.run();
    expect(assignmentWrites().filter((write) => write.includes(data.subscriptionId))).toEqual([]);
  });

  it("an event for a SQL machine does not assign it a second time", async () => {
    h.load(estate, customerAssignment);
    await h.run({ resourceIds: [machineWith(estate, "sql-vm-windows").id] });
    expect(assignmentWrites()).toEqual([]);
  });
});

describe("scope", () => {
  it.each<[string, () => Parameters<EngineHarness["run"]>[0]]>([
    ["a machine in a subscription outside REMEDIATION_SUBSCRIPTIONS", () => ({ resourceIds: [`/subscriptions/${OUTSIDE}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1`] })],
    ["a resource that is not a machine", () => ({ resourceIds: [`${production.id}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa1`] })],
    ["one bad id among good ones", () => ({ resourceIds: [machineWith(estate, "system-identity").id, `/subscriptions/${OUTSIDE}/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/m`] })],
    ["a sweep of a subscription outside the scope", () => ({ subscriptions: [OUTSIDE] })],
  ])("refuses %s with ScopeError before any request", async (_name, request) => {
    h.load(estate);
    await expect(h.run(request())).rejects.toBeInstanceOf(ScopeError);
    expect(h.azure.requests).toEqual([]);
  });
});
