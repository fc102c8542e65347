/** What discovery reads from ARM's JSON: rules' security events, assignments' parameters, extensions' tags. */
import { describe, expect, it } from "vitest";
import { idKey } from "../../src/azure/ids.js";
import { machineKeyOf, toExtensionState, toPolicyAssignmentState, toRuleState } from "../../src/discover/normalise.js";

const RULE = "/subscriptions/s/resourceGroups/rg-secops/providers/Microsoft.Insights/dataCollectionRules/dcr-security";
const WORKSPACE = "/subscriptions/s/resourceGroups/DefaultResourceGroup-EUS/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-s-EUS";
const OTHER_WORKSPACE = "/subscriptions/s/resourceGroups/rg-ops/providers/Microsoft.OperationalInsights/workspaces/law-ops";

const windowsSecurity = { name: "win", streams: ["Microsoft-SecurityEvent"], xPathQueries: ["Security!*[System[(EventID=4624)]]"] };
const linuxAuth = { name: "lin", streams: ["Microsoft-Syslog"], facilityNames: ["auth", "authpriv", "daemon"], logLevels: ["Warning"] };
const destinations = { logAnalytics: [{ name: "sec", workspaceResourceId: WORKSPACE }, { name: "ops", workspaceResourceId: OTHER_WORKSPACE }] };

function rule(properties: Record<string, unknown>) {
  return toRuleState({ id: RULE, type: "Microsoft.Insights/dataCollectionRules", properties: { destinations, ...properties } });
}

describe("a data collection rule's security events", () => {
  it.each<[string, Record<string, unknown>, { Windows: string[]; Linux: string[] }]>([
    ["both streams into one workspace", { dataSources: { windowsEventLogs: [windowsSecurity], syslog: [linuxAuth] }, dataFlows: [{ streams: ["Microsoft-SecurityEvent", "Microsoft-Syslog"], destinations: ["sec"] }] }, { Windows: [WORKSPACE], Linux: [WORKSPACE] }],
    ["each stream to its own workspace", { dataSources: { windowsEventLogs: [windowsSecurity], syslog: [linuxAuth] }, dataFlows: [{ streams: ["Microsoft-SecurityEvent"], destinations: ["sec"] }, { streams: ["Microsoft-Syslog"], destinations: ["ops"] }] }, { Windows: [WORKSPACE], Linux: [OTHER_WORKSPACE] }],
    ["stream names in any case", { dataSources: { windowsEventLogs: [{ ...windowsSecurity, streams: ["microsoft-securityevent"] }] }, dataFlows: [{ streams: ["MICROSOFT-SECURITYEVENT"], destinations: ["sec"] }] }, { Windows: [WORKSPACE], Linux: [] }],
    ["Windows events of other channels only", { dataSources: { windowsEventLogs: [{ ...windowsSecurity, xPathQueries: ["System!*", "Application!*"] }] }, dataFlows: [{ streams: ["Microsoft-SecurityEvent"], destinations: ["sec"] }] }, { Windows: [], Linux: [] }],
    ["syslog without authpriv", { dataSources: { syslog: [{ ...linuxAuth, facilityNames: ["auth"] }] }, dataFlows: [{ streams: ["Microsoft-Syslog"], destinations: ["sec"] }] }, { Windows: [], Linux: [] }],
    ["syslog of every facility", { dataSources: { syslog: [{ ...linuxAuth, facilityNames: ["*"] }] }, dataFlows: [{ streams: ["Microsoft-Syslog"], destinations: ["sec"] }] }, { Windows: [], Linux: [WORKSPACE] }],
    ["collected but routed nowhere", { dataSources: { windowsEventLogs: [windowsSecurity] }, dataFlows: [{ streams: ["Microsoft-Perf"], destinations: ["sec"] }] }, { Windows: [], Linux: [] }],
    ["performance counters only", { dataSources: { performanceCounters: [{ name: "perf", streams: ["Microsoft-Perf"] }] }, dataFlows: [{ streams: ["Microsoft-Perf"], destinations: ["ops"] }] }, { Windows: [], Linux: [] }],
  ])("%s", (_name, properties, expected) => {
    const state = rule(properties);
    expect(state?.securityEventsTo).toEqual({ Windows: expected.Windows.map(idKey), Linux: expected.Linux.map(idKey) });
    expect(state?.workspaces).toEqual([idKey(WORKSPACE), idKey(OTHER_WORKSPACE)]);
  });
});

describe("a Defender for SQL initiative assignment", () => {
  const id = "/providers/Microsoft.Management/managementGroups/mg-lz/providers/Microsoft.Authorization/policyAssignments/sql";
  const policyDefinitionId = "/providers/Microsoft.Authorization/policySetDefinitions/d7c3ea3a-c2c3-4d8a-8e2b-21f6a8e6c8b5";

  it("says where its deployments create Built-In-Identity-RG", () => {
    const parameters = { builtInIdentityResourceGroupLocation: { value: "swedencentral" } };
    expect(toPolicyAssignmentState({ id, identity: { principalId: "p" }, properties: { policyDefinitionId, parameters } })).toEqual({ id, policyDefinitionId, principalId: "p", builtInIdentityResourceGroupLocation: "swedencentral" });
    expect(toPolicyAssignmentState({ id, properties: { policyDefinitionId, parameters } })?.builtInIdentityResourceGroupLocation).toBe("swedencentral");
    expect(toPolicyAssignmentState({ id, properties: { policyDefinitionId, parameters: {} } })?.builtInIdentityResourceGroupLocation).toBeUndefined();
  });
});

describe("an extension", () => {
  it("keeps its own tags, so a re-install can send them back", () => {
    const raw = { id: "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/vm/extensions/ama", name: "ama", tags: { costCenter: "cc-1" }, properties: { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorWindowsAgent", provisioningState: "Failed" } };
    expect(toExtensionState(raw)?.tags).toEqual({ costCenter: "cc-1" });
    expect(toExtensionState({ ...raw, tags: null })?.tags).toBeUndefined();
  });
});


describe("the machine an extension or association row belongs to", () => {
  const MACHINE = "/subscriptions/s/resourceGroups/RG-App/providers/Microsoft.Compute/virtualMachines/VM-1";
  it.each([
    ["an extension", `${MACHINE}/extensions/AzureMonitorWindowsAgent`],
    ["an extension whose id spells the segment otherwise", `${MACHINE}/Extensions/AzureMonitorWindowsAgent`],
    ["an association", `${MACHINE}/providers/Microsoft.Insights/dataCollectionRuleAssociations/ama-remediator`],
    ["an association whose id spells the provider otherwise", `${MACHINE}/providers/microsoft.insights/dataCollectionRuleAssociations/ama-remediator`],
  ])("%s: the machine's idKey", (_what, childId) => {
    expect(machineKeyOf(childId)).toBe(idKey(MACHINE));
  });
});
