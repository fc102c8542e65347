/**
 * The settings that change what "compliant" means, each on a fresh demo estate against the emulator:
 * a custom workspace (found or missing), a configured data collection rule, SQL_MODE=extension-only and
 * auto (per subscription), REMOVE_LEGACY_MMA and REMEDIATION_PROFILES. Every mode converges: its second
 * sweep writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoEstate, generateEstate, machineWith, machinesWith, type EstateMachine } from "../../local-azure/src/estate.js";
import { managementGroupId, managementGroupSubscriptionId } from "../../local-azure/src/managementGroups.js";
import type { ArmResource } from "../../local-azure/src/arm-resource.js";
import { idKey } from "../../src/azure/ids.js";
import { SQL_ASSIGNMENT_ROLES, SQL_INITIATIVES, solutionId } from "../../src/defender/names.js";
import { associatedRulesOf, extensionsOf, startEngineHarness, subscriptionNamed, type EngineHarness } from "../support/engineHarness.js";

let h: EngineHarness;
const estate = demoEstate();
const production = subscriptionNamed(estate, "Contoso Production");
const data = subscriptionNamed(estate, "Contoso Data");
const monitoring = `/subscriptions/${production.subscriptionId}/resourceGroups/rg-monitoring`;
const CUSTOM_WORKSPACE = `${monitoring}/providers/Microsoft.OperationalInsights/workspaces/law-contoso-ops`;
const CONFIGURED_RULE = `${monitoring}/providers/Microsoft.Insights/dataCollectionRules/dcr-ops-perf-japanwest`;
const DEFENDER_FOR_SQL = "Microsoft.Azure.AzureDefenderForSQL/AdvancedThreatProtection.Windows";
const sqlWindows = estate.machines.filter((machine) => machine.labels.includes("sql") && machine.os === "windows");

beforeAll(async () => {
  h = await startEngineHarness();
});
afterAll(() => h.close());

const ofType = (type: string) => h.azure.list((resource) => resource.type.toLowerCase() === type.toLowerCase());
const workspaceIds = () => ofType("Microsoft.OperationalInsights/workspaces").map((resource) => resource.id).sort();
const ruleIds = () => ofType("Microsoft.Insights/dataCollectionRules").map((resource) => resource.id).sort();
const handlersOf = (machine: EstateMachine) => extensionsOf(h.azure, machine.id).map((extension) => extension.handler);

/** Runs a sweep with these settings, then a second one that must write nothing. */
async function sweepTwice(env: Record<string, string>) {
  const first = await h.run({}, env);
  expect(first.report.summary.failed).toBe(0);
  h.azure.resetRequests();
  const second = await h.run({}, env);
  expect(h.writes(), "second sweep").toEqual([]);
  expect(second.report.summary).toMatchObject({ remediated: 0, planned: 0, failed: 0 });
  return first;
}

describe("LOG_ANALYTICS_WORKSPACE_ID", () => {
  it("a found custom workspace: used everywhere, never created, its solutions added", async () => {
    h.load(estate);
    const before = workspaceIds();
    const rulesBefore = new Set(ruleIds());
    await sweepTwice({ LOG_ANALYTICS_WORKSPACE_ID: CUSTOM_WORKSPACE });
    expect(workspaceIds()).toEqual(before);
    expect(["SecurityCenterFree", "Security"].filter((gallery) => h.azure.get(solutionId(CUSTOM_WORKSPACE, gallery)))).toEqual(["SecurityCenterFree", "Security"]);
    const rules = ofType("Microsoft.Insights/dataCollectionRules").filter((rule) => !rulesBefore.has(rule.id));
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect((rule.properties as { destinations: { logAnalytics: { workspaceResourceId: string }[] } }).destinations.logAnalytics.map((entry) => idKey(entry.workspaceResourceId))).toEqual([idKey(CUSTOM_WORKSPACE)]);
    }
  });

  it("an owned rule that still sends to the default workspace is pointed at the custom workspace", async () => {
    h.load(estate);
    await h.run({}, { LOG_ANALYTICS_WORKSPACE_ID: CUSTOM_WORKSPACE });
    for (const rule of ofType("Microsoft.Insights/dataCollectionRules").filter((candidate) => /^ama-remediator-/.test(candidate.name))) {
      expect((rule.properties as { destinations: { logAnalytics: { workspaceResourceId: string }[] } }).destinations.logAnalytics.map((entry) => idKey(entry.workspaceResourceId)), rule.name).toEqual([idKey(CUSTOM_WORKSPACE)]);
    }
  });

  it("a found custom workspace with SQL: initiative de01d381 and the D4SQL-<customerId>-dcr rule", async () => {
    h.load(estate);
    await h.run({}, { LOG_ANALYTICS_WORKSPACE_ID: CUSTOM_WORKSPACE });
    const customerId = String((h.azure.get(CUSTOM_WORKSPACE)?.properties as { customerId: string }).customerId);
    const assignment = ofType("Microsoft.Authorization/policyAssignments").find((resource) => resource.id.includes(data.subscriptionId));
    expect(assignment?.properties).toMatchObject({
      policyDefinitionId: "/providers/Microsoft.Authorization/policySetDefinitions/de01d381-bae9-4670-8870-786f89f49e26",
      parameters: { userWorkspaceResourceId: { value: CUSTOM_WORKSPACE }, workspaceRegion: { value: "eastus" }, userWorkspaceId: { value: customerId } },
    });
    const sqlRule = `/subscriptions/${data.subscriptionId}/resourceGroups/DefaultResourceGroup-EUS/providers/Microsoft.Insights/dataCollectionRules/D4SQL-${customerId.replace(/-/g, "")}-dcr`;
    expect(h.azure.get(sqlRule)).toBeDefined();
    for (const machine of sqlWindows) expect(associatedRulesOf(h.azure, machine.id)).toContain(idKey(sqlRule));
  });

  it("a missing custom workspace: reported on the machines, nothing created for it, no failure", async () => {
    h.load(estate);
    const missing = `${monitoring}/providers/Microsoft.OperationalInsights/workspaces/law-gone`;
    const before = workspaceIds();
    const run = await h.run({}, { LOG_ANALYTICS_WORKSPACE_ID: missing });
    expect(run.report.summary.failed).toBe(0);
    expect(workspaceIds()).toEqual(before);
    const machine = machineWith(estate, "system-identity");
    expect(run.report.resources.find((resource) => resource.id === machine.id)?.notes).toContainEqual(expect.stringMatching(/law-gone was not found \(it is never created/));
    expect(handlersOf(machine)).toContain("Microsoft.Azure.Monitor/AzureMonitorWindowsAgent");
    expect(run.report.subscriptions.find((subscription) => subscription.subscriptionId === data.subscriptionId)?.notes).toContainEqual(expect.stringMatching(/Defender for SQL autoprovisioning was not assigned/));
  });
});

describe("DATA_COLLECTION_RULE_ID", () => {
  it("associates every machine with the configured rule and creates no rule of its own", async () => {
    h.load(estate);
    const otherAssociation = machineWith(estate, "other-association");
    const rulesBefore = ruleIds();
    await sweepTwice({ DATA_COLLECTION_RULE_ID: CONFIGURED_RULE });
    // Defender for SQL's own rule is the initiative's, not the machines profile's.
    expect(ruleIds().filter((id) => !/MicrosoftDefenderForSQL-/.test(id))).toEqual(rulesBefore);
    for (const machine of machinesWith(estate, "system-identity")) expect(associatedRulesOf(h.azure, machine.id)).toEqual([idKey(CONFIGURED_RULE)]);
    // Already associated with that rule under another name: left as it was.
    expect(associatedRulesOf(h.azure, otherAssociation.id)).toEqual([idKey(CONFIGURED_RULE)]);
  });
});

describe("SQL_MODE=extension-only", () => {
  it("installs the Defender for SQL extension and assigns c1529623; no built-in identity, D4SQL workspace or SQL rule", async () => {
    h.load(estate);
    await sweepTwice({ SQL_MODE: "extension-only" });
    for (const machine of sqlWindows) {
      expect(handlersOf(machine)).toEqual(expect.arrayContaining([DEFENDER_FOR_SQL, "Microsoft.Azure.Monitor/AzureMonitorWindowsAgent"]));
      expect(associatedRulesOf(h.azure, machine.id).some((rule) => rule.includes("microsoftdefenderforsql"))).toBe(false);
    }
    const sqlVm = machineWith(estate, "sql-vm-windows");
    expect(h.azure.get(sqlVm.id)?.identity?.type).toMatch(/SystemAssigned/);
    expect(h.azure.list((resource) => /built-in-identity|\/workspaces\/d4sql-/i.test(resource.id))).toEqual([]);
    expect(ofType("Microsoft.Authorization/policyAssignments").map((resource) => (resource.properties as { policyDefinitionId: string }).policyDefinitionId)).toEqual(
      expect.arrayContaining(["/providers/Microsoft.Authorization/policySetDefinitions/c1529623-9fc2-45bc-b84b-b14cd0b7484e"]),
    );
  });
});

describe("SQL_MODE=auto (the default): each subscription follows the Defender for SQL initiative assigned to it", () => {
  // Three subscriptions of Windows SQL VMs, Defender for SQL on in each: none assigned, the AMA initiative
  // inherited from a management group, the extension-only initiative assigned at the subscription.
  const sqlEstate = generateEstate({ seed: 14, subscriptions: 3, machinesPerSubscription: 2, mix: { "sql-vm-windows": 1 }, subscriptionOptOutRate: 0 });
  const [none, amaAtGroup, extensionOnly] = sqlEstate.subscriptions.map((subscription) => subscription.subscriptionId) as [string, string, string];
  const GROUP = "mg-sql-ama";

  const sqlPlanOn = sqlEstate.subscriptions.map((subscription): ArmResource => ({
    id: `${subscription.id}/providers/Microsoft.Security/pricings/SqlServerVirtualMachines`,
    name: "SqlServerVirtualMachines",
    type: "Microsoft.Security/pricings",
    properties: { pricingTier: "Standard" },
  }));
  /** An initiative assigned at `scope` with a system identity holding the roles Microsoft's script grants there. */
  const assigned = (scope: string, name: string, initiative: string, principalId: string): ArmResource[] => [
    { id: `${scope}/providers/Microsoft.Authorization/policyAssignments/${name}`, name, type: "Microsoft.Authorization/policyAssignments", location: "eastus", identity: { type: "SystemAssigned", principalId }, properties: { displayName: name, policyDefinitionId: initiative, scope, parameters: {} } },
    ...Object.values(SQL_ASSIGNMENT_ROLES).map((role, index): ArmResource => {
      const id = `${principalId.slice(0, -2)}${String(index).padStart(2, "0")}`;
      return { id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${id}`, name: id, type: "Microsoft.Authorization/roleAssignments", properties: { roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${role}`, principalId, principalType: "ServicePrincipal", scope } };
    }),
  ];
  const extras: ArmResource[] = [
    ...sqlPlanOn,
    { id: managementGroupId(GROUP), name: GROUP, type: "Microsoft.Management/managementGroups", properties: { displayName: "SQL on AMA", details: {} } },
    { id: managementGroupSubscriptionId(GROUP, amaAtGroup), name: amaAtGroup, type: "Microsoft.Management/managementGroups/subscriptions", properties: { parent: { id: managementGroupId(GROUP) }, displayName: "Contoso 0002", state: "Active" } },
    ...assigned(managementGroupId(GROUP), "sql-ama", SQL_INITIATIVES.amaDefaultWorkspace, "a0a0a0a0-1111-4222-8333-444444444400"),
    ...assigned(`/subscriptions/${extensionOnly}`, "sql-extension-only", SQL_INITIATIVES.extensionOnly, "b0b0b0b0-1111-4222-8333-444444444400"),
  ];
  const sqlVmsIn = (subscriptionId: string) => sqlEstate.machines.filter((machine) => machine.subscriptionId === subscriptionId);
  const initiativesAt = (subscriptionId: string) =>
    ofType("Microsoft.Authorization/policyAssignments")
      .filter((resource) => resource.id.toLowerCase().startsWith(`/subscriptions/${subscriptionId}/`))
      .map((resource) => (resource.properties as { policyDefinitionId: string }).policyDefinitionId);
  const amaSetIn = (subscriptionId: string) => h.azure.list((resource) => resource.id.toLowerCase().startsWith(`/subscriptions/${subscriptionId}/`) && /built-in-identity|\/workspaces\/d4sql-|microsoftdefenderforsql-/i.test(resource.id));

  it("none assigned: the AMA initiative; AMA at a management group: followed; extension-only: followed; and the report says which and why", async () => {
    h.load(sqlEstate, ...extras);
    const run = await sweepTwice({});
    const findings = (subscriptionId: string) => run.report.subscriptions.find((subscription) => subscription.subscriptionId === subscriptionId)?.notes;

    expect(findings(none)).toContain("SQL mode ama: no Defender for SQL initiative assigned; the AMA initiative is assigned as Defender's AMA autoprovisioning does");
    expect(initiativesAt(none)).toEqual([SQL_INITIATIVES.amaDefaultWorkspace]);

    expect(findings(amaAtGroup)).toContain(`SQL mode ama: initiative d7c3ea3a-edf3-4bd5-bd64-d5b635b05393 (AMA, Defender's workspace) assigned at management group ${GROUP}`);
    expect(initiativesAt(amaAtGroup)).toEqual([]);

    expect(findings(extensionOnly)).toContain(`SQL mode extension-only: initiative c1529623-9fc2-45bc-b84b-b14cd0b7484e (extension only) assigned at subscription ${extensionOnly}`);
    expect(initiativesAt(extensionOnly)).toEqual([SQL_INITIATIVES.extensionOnly]);

    // The AMA set where AMA is followed, none of it where extension-only is; Defender for SQL everywhere.
    for (const subscriptionId of [none, amaAtGroup]) {
      expect(amaSetIn(subscriptionId).length, subscriptionId).toBeGreaterThan(0);
      for (const machine of sqlVmsIn(subscriptionId)) expect(associatedRulesOf(h.azure, machine.id).some((rule) => rule.includes("/microsoftdefenderforsql-"))).toBe(true);
    }
    expect(amaSetIn(extensionOnly)).toEqual([]);
    for (const machine of sqlVmsIn(extensionOnly)) expect(h.azure.get(machine.id)?.identity?.type).toMatch(/SystemAssigned/);
    for (const machine of [none, amaAtGroup, extensionOnly].flatMap(sqlVmsIn)) expect(handlersOf(machine)).toContain(DEFENDER_FOR_SQL);
  });
});

describe("REMOVE_LEGACY_MMA=true", () => {
  it("removes the MMA once AMA shows Succeeded: at once beside a running AMA, on the next sweep after installing one", async () => {
    h.load(estate);
    const env = { REMOVE_LEGACY_MMA: "true" };
    const both = machineWith(estate, "mma-and-ama");
    const mmaOnly = machineWith(estate, "mma-only", "windows");
    await h.run({}, env);
    expect(handlersOf(both)).toEqual(["Microsoft.Azure.Monitor/AzureMonitorWindowsAgent"]);
    expect(handlersOf(mmaOnly).sort()).toEqual(["Microsoft.Azure.Monitor/AzureMonitorWindowsAgent", "Microsoft.EnterpriseCloud.Monitoring/MicrosoftMonitoringAgent"]);
    await sweepTwice(env);
    expect(handlersOf(mmaOnly)).toEqual(["Microsoft.Azure.Monitor/AzureMonitorWindowsAgent"]);
  });

  it("without it, both agents are reported and the MMA stays", async () => {
    h.load(estate);
    const both = machineWith(estate, "mma-and-ama");
    const run = await h.run();
    expect(handlersOf(both)).toContain("Microsoft.EnterpriseCloud.Monitoring/MicrosoftMonitoringAgent");
    expect(run.report.resources.find((resource) => resource.id === both.id)?.notes).toEqual([expect.stringMatching(/both the retiring Log Analytics agent/)]);
  });
});

describe("REMEDIATION_PROFILES", () => {
  it("machines only: no SQL resources, extensions or policy assignments", async () => {
    h.load(estate);
    await sweepTwice({ REMEDIATION_PROFILES: "machines" });
    expect(ofType("Microsoft.Authorization/policyAssignments")).toEqual([]);
    for (const machine of sqlWindows) expect(handlersOf(machine)).not.toContain(DEFENDER_FOR_SQL);
  });

  it("sql only: plain machines are left alone", async () => {
    h.load(estate);
    await h.run({}, { REMEDIATION_PROFILES: "sql" });
    const plain = machineWith(estate, "no-identity");
    expect(h.requestsUnder(plain.id).filter((entry) => entry.method !== "GET")).toEqual([]);
    for (const machine of sqlWindows) expect(handlersOf(machine)).toContain(DEFENDER_FOR_SQL);
  });
});
