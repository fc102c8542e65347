import { describe, expect, it } from "vitest";
import type { MachineState } from "../../src/model.js";
import type { Plan, PlanItem } from "../../src/plan/plan.js";
import { defaultWorkspaceId, ownedRuleId, solutionId } from "../../src/defender/names.js";
import {
  OTHER_SUB,
  SUB,
  ama,
  arc,
  mma,
  planOf,
  settingsWith,
  snapshot,
  sqlVm,
  subscription,
  vm,
  type SubscriptionOverrides,
} from "../support/snapshotBuilder.js";
import { roleGrantKey, type WorkspaceState } from "../../src/model.js";

const sub = `/subscriptions/${SUB}`;
const EUS_GROUP = `${sub}/resourceGroups/DefaultResourceGroup-EUS`;
const EUS_WORKSPACE = defaultWorkspaceId(SUB, "eastus");
const EUS_RULE = ownedRuleId(SUB, "eastus");
const CUSTOM_WORKSPACE = `/subscriptions/${OTHER_SUB}/resourceGroups/rg-central/providers/Microsoft.OperationalInsights/workspaces/law-central`;
const CUSTOMER_ID = "0f0e0d0c-0b0a-4909-8807-060504030201";

interface Case {
  machines: readonly MachineState[];
  env?: Record<string, string>;
  sub?: SubscriptionOverrides;
  customWorkspace?: WorkspaceState;
}

function plan({ machines, env = {}, sub: overrides = {}, customWorkspace }: Case): Plan {
  return planOf(snapshot(machines, { subscriptions: [subscription(overrides)], ...(customWorkspace ? { customWorkspace } : {}) }), settingsWith(env));
}

/** `<action> <name>` per item, in plan order. */
const steps = (p: Plan) => p.items.map((item) => `${item.action} ${item.targetId.split("/").pop()}`);
const itemFor = (p: Plan, action: PlanItem["action"], nameOrId: string): PlanItem => {
  const item = p.items.find((candidate) => candidate.action === action && (candidate.targetId === nameOrId || candidate.targetId.endsWith(`/${nameOrId}`)));
  if (!item) throw new Error(`no ${action} ${nameOrId} in ${steps(p).join(", ")}`);
  return item;
};
const indexOf = (p: Plan, item: PlanItem) => p.items.indexOf(item);
/** Whether `item` runs only after `dependency` (directly or through other items). */
/** Whether apply runs `item` only once `dependency` has finished (directly or through others; `dependsOn` or `after`). */
function waitsFor(p: Plan, item: PlanItem, dependency: PlanItem): boolean {
  const byKey = new Map(p.items.map((entry) => [entry.key, entry]));
  const pending = [...item.dependsOn, ...item.after];
  const seen = new Set<string>();
  while (pending.length > 0) {
    const key = pending.pop() as string;
    if (key === dependency.key) return true;
    if (seen.has(key)) continue;
    seen.add(key);
    const entry = byKey.get(key);
    pending.push(...(entry?.dependsOn ?? []), ...(entry?.after ?? []));
  }
  return false;
}

/** Everything around the machines already exists: only machine writes remain. */
const readyShared: SubscriptionOverrides = {
  existing: [EUS_GROUP, solutionId(EUS_WORKSPACE, "SecurityCenterFree"), EUS_RULE],
  workspaces: [{ id: EUS_WORKSPACE, location: "eastus", customerId: CUSTOMER_ID }],
};

describe("plan: machine writes", () => {
  it("a VM without identity gets PATCH identity SystemAssigned before its agent", () => {
    const p = plan({ machines: [vm("vm-1", { identity: { systemAssigned: false } })], sub: readyShared });
    const identity = itemFor(p, "updateMachineIdentity", "vm-1");
    expect(identity).toMatchObject({ method: "PATCH", body: { identity: { type: "SystemAssigned" } }, apiVersion: "2026-04-01", observed: { systemAssigned: false, userAssignedIds: [] } });
    const agent = itemFor(p, "installExtension", "AzureMonitorWindowsAgent");
    expect(agent.dependsOn).toEqual([identity.key]);
    expect(steps(p)).toEqual(["updateMachineIdentity vm-1", "installExtension AzureMonitorWindowsAgent", "associateDataCollectionRule ama-remediator"]);
  });

  it("a VM with only user-assigned identities keeps them: the documented PATCH lists each one, mapped to {}", () => {
    const workload = `${sub}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-workload`;
    const p = plan({ machines: [vm("vm-1", { identity: { systemAssigned: false, userAssignedIds: [workload] } })], sub: readyShared });
    expect(itemFor(p, "updateMachineIdentity", "vm-1").body).toEqual({ identity: { type: "SystemAssigned, UserAssigned", userAssignedIdentities: { [workload]: {} } } });
  });

  it.each<[string, MachineState, Record<string, unknown>]>([
    ["Windows VM", vm("vm-1"), { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorWindowsAgent", typeHandlerVersion: "1.1", autoUpgradeMinorVersion: true, enableAutomaticUpgrade: true }],
    ["Linux VM", vm("vm-1", { os: "Linux", image: { publisher: "RedHat", offer: "RHEL", sku: "9-lvm-gen2" } }), { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorLinuxAgent", typeHandlerVersion: "1.36", autoUpgradeMinorVersion: true, enableAutomaticUpgrade: true }],
    ["Arc machine (latest version)", arc("arc-1", { os: "Linux" }), { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorLinuxAgent", autoUpgradeMinorVersion: true, enableAutomaticUpgrade: true }],
  ])("installs AMA on a %s with the policy's body", (_name, machine, properties) => {
    const p = plan({ machines: [machine], sub: readyShared });
    const item = itemFor(p, "installExtension", properties["type"] as string);
    expect(item.targetId).toBe(`${machine.id}/extensions/${properties["type"] as string}`);
    expect(item.body).toEqual({ location: "eastus", properties });
  });

  it("re-PUTs a Failed AMA under its existing name and version", () => {
    const machine = vm("vm-1");
    const p = plan({ machines: [{ ...machine, extensions: [ama(machine, "Windows", { name: "ama-custom", state: "Failed", version: "1.22" })] }], sub: readyShared });
    const item = itemFor(p, "installExtension", "ama-custom");
    expect(item).toMatchObject({ method: "PUT", targetId: `${machine.id}/extensions/ama-custom`, body: { properties: { typeHandlerVersion: "1.22", enableAutomaticUpgrade: true } } });
    expect(steps(p).filter((step) => step.startsWith("installExtension"))).toEqual(["installExtension ama-custom"]);
  });

  it("turns automatic upgrade on for an AMA that has it off", () => {
    const machine = vm("vm-1");
    const p = plan({ machines: [{ ...machine, extensions: [ama(machine, "Windows", { autoUpgrade: false })] }], sub: readyShared });
    expect(itemFor(p, "installExtension", "AzureMonitorWindowsAgent").body).toMatchObject({ properties: { enableAutomaticUpgrade: true } });
  });

  it("removes the MMA only with REMOVE_LEGACY_MMA=true, as a DELETE of the extension", () => {
    const machine = vm("vm-1");
    const withBoth = { ...machine, extensions: [mma(machine), ama(machine)] };
    expect(plan({ machines: [withBoth], sub: readyShared }).items.filter((item) => item.method === "DELETE")).toEqual([]);
    const p = plan({ machines: [withBoth], sub: readyShared, env: { REMOVE_LEGACY_MMA: "true" } });
    expect(itemFor(p, "removeExtension", "MicrosoftMonitoringAgent")).toMatchObject({ method: "DELETE", targetId: `${machine.id}/extensions/MicrosoftMonitoringAgent`, machineId: machine.id });
  });

  it("a compliant machine yields no items", () => {
    const machine = vm("vm-1");
    const compliant = { ...machine, extensions: [ama(machine)], associations: [{ id: `${machine.id}/providers/Microsoft.Insights/dataCollectionRuleAssociations/x`, name: "x", ruleId: EUS_RULE.toUpperCase() }] };
    expect(plan({ machines: [compliant], sub: readyShared }).items).toEqual([]);
  });

  it("a deallocated VM: identity and association planned, no extension item, reason kept", () => {
    const p = plan({ machines: [vm("vm-1", { power: "deallocated", identity: { systemAssigned: false } })], sub: readyShared });
    expect(steps(p)).toEqual(["updateMachineIdentity vm-1", "associateDataCollectionRule ama-remediator"]);
    expect(p.assessments[0]?.blocked.map((entry) => entry.reason)).toEqual([expect.stringMatching(/VM is deallocated/)]);
  });

  it("opted-out machines yield no items at all", () => {
    const p = plan({ machines: [vm("vm-1", { tags: { "ama-remediation": "skip" } }), vm("vm-2", { resourceGroup: "rg-frozen" })], sub: { optedOutResourceGroups: ["rg-frozen"] } });
    expect(p.items).toEqual([]);
  });

  it("an opted-out subscription yields no items, even with the SQL plan on", () => {
    const p = plan({ machines: [sqlVm("sqlvm-1"), vm("vm-1")], sub: { tags: { "ama-remediation": "skip" }, sqlServersOnMachinesPlan: { tier: "Standard" } } });
    expect(p.items).toEqual([]);
  });

  it("never writes into an opted-out DefaultResourceGroup: the needs it carries are blocked with the reason", () => {
    const p = plan({ machines: [vm("vm-1")], sub: { existing: [EUS_GROUP], optedOutResourceGroups: ["DefaultResourceGroup-EUS"] } });
    expect(p.items.filter((item) => item.targetId.toLowerCase().includes("defaultresourcegroup-eus"))).toEqual([]);
    expect(p.assessments[0]?.blocked.map((entry) => entry.reason)).toContain("DefaultResourceGroup-EUS: resource group tagged ama-remediation: skip");
  });
});

describe("plan: shared resources", () => {
  const fresh = [vm("vm-1"), vm("vm-2", { identity: { systemAssigned: false } }), vm("vm-3", { os: "Linux", image: { publisher: "Canonical", offer: "UbuntuServer", sku: "18.04-LTS" } })];

  it("plans each shared resource once for many machines, in dependency order", () => {
    const p = plan({ machines: fresh });
    const group = itemFor(p, "createResourceGroup", "DefaultResourceGroup-EUS");
    const workspace = itemFor(p, "createWorkspace", `DefaultWorkspace-${SUB}-EUS`);
    const solution = itemFor(p, "installSolution", `SecurityCenterFree(DefaultWorkspace-${SUB}-EUS)`);
    const rule = itemFor(p, "createDataCollectionRule", "ama-remediator-eastus-dcr");
    expect(p.items.filter((item) => item.action === "createResourceGroup")).toHaveLength(1);
    expect(p.items.filter((item) => item.action === "createWorkspace")).toHaveLength(1);
    expect(p.items.filter((item) => item.action === "installSolution")).toHaveLength(1);
    expect(p.items.filter((item) => item.action === "createDataCollectionRule")).toHaveLength(1);
    expect(p.items.filter((item) => item.action === "associateDataCollectionRule")).toHaveLength(3);
    expect(workspace.dependsOn).toEqual([group.key]);
    expect(solution.dependsOn).toEqual([workspace.key]);
    expect(rule.dependsOn).toEqual(expect.arrayContaining([group.key, workspace.key]));
    expect(indexOf(p, group)).toBeLessThan(indexOf(p, workspace));
    expect(indexOf(p, workspace)).toBeLessThan(Math.min(indexOf(p, solution), indexOf(p, rule)));
    for (const association of p.items.filter((item) => item.action === "associateDataCollectionRule")) {
      expect(association.dependsOn).toContain(rule.key);
      expect(association.body).toEqual({ properties: { description: expect.any(String), dataCollectionRuleId: EUS_RULE } });
    }
    expect(itemFor(p, "installExtension", "AzureMonitorWindowsAgent").dependsOn).toEqual([]);
  });

  it("every item's dependencies come before it, and each target is written once", () => {
    const machines = [...fresh, sqlVm("sqlvm-1", { identity: { systemAssigned: false } }), { ...arc("arc-sql"), sqlServer: {} }, vm("vm-jp", { location: "japanwest" })];
    const p = plan({ machines, sub: { serversPlan: { tier: "Standard", subPlan: "P2" }, sqlServersOnMachinesPlan: { tier: "Standard" } } });
    const seen = new Set<string>();
    for (const item of p.items) {
      for (const dependency of [...item.dependsOn, ...item.after]) expect(seen, `${item.key} waits for ${dependency}`).toContain(dependency);
      seen.add(item.key);
    }
    const targets = p.items.map((item) => `${item.method} ${item.targetId.toLowerCase()}`);
    expect(new Set(targets).size).toBe(targets.length);
    // One operation at a time on each machine, the identity first; associations (Microsoft.Insights resources,
    // not operations on the machine) wait for nothing of the machine's and hold nothing up.
    for (const machine of machines) {
      const own = p.items.filter((item) => item.machineId === machine.id && item.action !== "associateDataCollectionRule");
      own.slice(1).forEach((item, index) => expect(waitsFor(p, item, own[index] as PlanItem), `${item.key} after ${own[index]?.key}`).toBe(true));
      const identity = own.find((item) => item.action === "updateMachineIdentity");
      if (identity) expect(own[0]).toBe(identity);
      for (const association of p.items.filter((item) => item.machineId === machine.id && item.action === "associateDataCollectionRule")) {
        expect(own.some((item) => waitsFor(p, association, item) || waitsFor(p, item, association)), association.key).toBe(false);
      }
    }
  });

  it("workspace and rule bodies are the documented ones", () => {
    const p = plan({ machines: [vm("vm-1")] });
    expect(itemFor(p, "createResourceGroup", "DefaultResourceGroup-EUS").body).toEqual({ location: "eastus" });
    expect(itemFor(p, "createWorkspace", `DefaultWorkspace-${SUB}-EUS`).body).toEqual({ location: "eastus", properties: { sku: { name: "PerGB2018" }, retentionInDays: 30 } });
    expect(itemFor(p, "installSolution", `SecurityCenterFree(DefaultWorkspace-${SUB}-EUS)`).body).toEqual({
      location: "eastus",
      properties: { workspaceResourceId: EUS_WORKSPACE },
      plan: { name: `SecurityCenterFree(DefaultWorkspace-${SUB}-EUS)`, publisher: "Microsoft", product: "OMSGallery/SecurityCenterFree", promotionCode: "" },
    });
    const rule = itemFor(p, "createDataCollectionRule", "ama-remediator-eastus-dcr").body as { location: string; properties: Record<string, unknown> };
    expect(rule.location).toBe("eastus");
    expect(rule.properties).toMatchObject({
      dataSources: { windowsEventLogs: [expect.objectContaining({ streams: ["Microsoft-SecurityEvent"] })], syslog: [expect.objectContaining({ facilityNames: expect.arrayContaining(["auth", "authpriv"]) })] },
      destinations: { logAnalytics: [expect.objectContaining({ workspaceResourceId: EUS_WORKSPACE })] },
    });
  });

  it.each<[string, SubscriptionOverrides["serversPlan"], string[]]>([
    ["Free", { tier: "Free" }, ["SecurityCenterFree"]],
    ["Standard P1", { tier: "Standard", subPlan: "P1" }, ["SecurityCenterFree"]],
    ["Standard P2", { tier: "Standard", subPlan: "P2" }, ["SecurityCenterFree", "Security"]],
  ])("solutions with Defender for Servers %s", (_name, serversPlan, galleries) => {
    const p = plan({ machines: [vm("vm-1")], sub: { ...(serversPlan ? { serversPlan } : {}) } });
    expect(p.items.filter((item) => item.action === "installSolution").map((item) => (item.body as { plan: { product: string } }).plan.product)).toEqual(galleries.map((gallery) => `OMSGallery/${gallery}`));
  });

  it("adds only the missing solution to an existing workspace", () => {
    const p = plan({ machines: [vm("vm-1")], sub: { serversPlan: { tier: "Standard", subPlan: "P2" }, ...readyShared } });
    expect(steps(p).filter((step) => !step.startsWith("installExtension") && !step.startsWith("associate"))).toEqual([`installSolution Security(DefaultWorkspace-${SUB}-EUS)`]);
  });

  it("japaneast and japanwest share DefaultResourceGroup-EJP and DefaultWorkspace-<sub>-EJP", () => {
    const p = plan({ machines: [vm("vm-east", { location: "japaneast" }), vm("vm-west", { location: "japanwest" })] });
    expect(p.items.filter((item) => item.action === "createResourceGroup").map((item) => item.targetId)).toEqual([`${sub}/resourceGroups/DefaultResourceGroup-EJP`]);
    expect(p.items.filter((item) => item.action === "createWorkspace").map((item) => item.targetId)).toEqual([defaultWorkspaceId(SUB, "japanwest")]);
    expect(defaultWorkspaceId(SUB, "japanwest")).toBe(`${sub}/resourceGroups/DefaultResourceGroup-EJP/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-${SUB}-EJP`);
    for (const association of p.items.filter((item) => item.action === "associateDataCollectionRule")) {
      const ruleId = (association.body as { properties: { dataCollectionRuleId: string } }).properties.dataCollectionRuleId;
      expect(ruleId.startsWith(`${sub}/resourceGroups/DefaultResourceGroup-EJP/`)).toBe(true);
    }
  });

  it("reuses an existing shared-code workspace in its own region", () => {
    const ejp = defaultWorkspaceId(SUB, "japaneast");
    const p = plan({ machines: [vm("vm-west", { location: "japanwest" })], sub: { existing: [`${sub}/resourceGroups/DefaultResourceGroup-EJP`], workspaces: [{ id: ejp, location: "japaneast", customerId: CUSTOMER_ID }] } });
    expect(p.items.filter((item) => item.action === "createWorkspace")).toEqual([]);
    expect(itemFor(p, "installSolution", `SecurityCenterFree(DefaultWorkspace-${SUB}-EJP)`).body).toMatchObject({ location: "japaneast" });
  });

  it("an unmapped region uses its own name for the group and workspace", () => {
    const p = plan({ machines: [vm("vm-1", { location: "westus3" })] });
    expect(itemFor(p, "createWorkspace", `DefaultWorkspace-${SUB}-westus3`).targetId).toContain("/resourceGroups/DefaultResourceGroup-westus3/");
  });

  it("DATA_COLLECTION_RULE_ID: associated, never created", () => {
    const configured = `/subscriptions/${OTHER_SUB}/resourceGroups/rg-monitoring/providers/Microsoft.Insights/dataCollectionRules/dcr-central`;
    const p = plan({ machines: [vm("vm-1"), vm("vm-2")], env: { DATA_COLLECTION_RULE_ID: configured } });
    expect(p.items.filter((item) => item.action === "createDataCollectionRule")).toEqual([]);
    const associations = p.items.filter((item) => item.action === "associateDataCollectionRule");
    expect(associations.map((item) => (item.body as { properties: { dataCollectionRuleId: string } }).properties.dataCollectionRuleId)).toEqual([configured, configured]);
  });

  it("a legacy autoProvisioning On is a finding, never a write", () => {
    const p = plan({ machines: [vm("vm-1")], sub: { legacyAutoProvisioning: "On" } });
    expect(p.findings).toEqual([{ subscriptionId: SUB, message: expect.stringMatching(/legacy Log Analytics agent \(MMA\) autoprovisioning is On/) }]);
    expect(p.items.filter((item) => /autoprovisioningsettings/i.test(item.targetId))).toEqual([]);
  });

  it("is a pure function: same snapshot and settings, same plan", () => {
    const first = plan({ machines: fresh });
    expect(plan({ machines: fresh })).toEqual(first);
    expect(first).toMatchObject({ version: 1, createdAt: "2026-11-25T00:00:00.000Z", dryRun: false });
  });
});

describe("plan: custom workspace (LOG_ANALYTICS_WORKSPACE_ID)", () => {
  const env = { LOG_ANALYTICS_WORKSPACE_ID: CUSTOM_WORKSPACE };

  it("found: never creates a workspace or default group; the rule sends to it", () => {
    const p = plan({ machines: [vm("vm-1")], env, customWorkspace: { id: CUSTOM_WORKSPACE, location: "westeurope", customerId: CUSTOMER_ID } });
    expect(p.items.filter((item) => item.action === "createWorkspace")).toEqual([]);
    const rule = itemFor(p, "createDataCollectionRule", "ama-remediator-eastus-dcr");
    expect(rule.body).toMatchObject({ properties: { destinations: { logAnalytics: [expect.objectContaining({ workspaceResourceId: CUSTOM_WORKSPACE })] } } });
    // Its subscription is outside the scope: solutions are a finding, not a write.
    expect(p.items.filter((item) => item.action === "installSolution")).toEqual([]);
    expect(p.findings).toContainEqual({ subscriptionId: OTHER_SUB, message: expect.stringMatching(/law-central is outside the configured scope: add solutions SecurityCenterFree yourself/) });
  });

  it("reports an out-of-scope custom workspace's solutions once, however many machines use it", () => {
    const p = plan({ machines: [vm("vm-1"), vm("vm-2")], env, customWorkspace: { id: CUSTOM_WORKSPACE, location: "westeurope", customerId: CUSTOMER_ID } });
    expect(p.findings.filter((finding) => finding.message.includes("law-central"))).toHaveLength(1);
  });

  it("missing: reported on the machine, nothing that needs it is planned", () => {
    const p = plan({ machines: [vm("vm-1")], env });
    expect(steps(p)).toEqual(["installExtension AzureMonitorWindowsAgent"]);
    expect(p.assessments[0]?.blocked.map((entry) => entry.reason)).toEqual(expect.arrayContaining([expect.stringMatching(/custom workspace .*law-central was not found \(it is never created/)]));
  });
});

describe("plan: the sql profile", () => {
  const sqlStandard: SubscriptionOverrides = { sqlServersOnMachinesPlan: { tier: "Standard" }, ...readyShared };
  const builtInGroup = `${sub}/resourceGroups/Built-In-Identity-RG`;
  const uami = `${builtInGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Built-In-Identity-eastus`;
  const d4sqlWorkspace = `${EUS_GROUP}/providers/Microsoft.OperationalInsights/workspaces/D4SQL-${SUB.replace(/-/g, "")}-eastus`;
  const sqlRule = `${EUS_GROUP}/providers/Microsoft.Insights/dataCollectionRules/MicrosoftDefenderForSQL-eastus-dcr`;

  it("ama mode: the initiative d7c3ea3a's resources, bodies and order", () => {
    const machine = sqlVm("sqlvm-1");
    const p = plan({ machines: [machine], sub: sqlStandard });
    const group = itemFor(p, "createResourceGroup", "Built-In-Identity-RG");
    expect(group.body).toEqual({ location: "eastus", tags: { createdBy: "MicrosoftDefenderForSQL" } });
    const identity = itemFor(p, "createUserAssignedIdentity", uami);
    expect(identity).toMatchObject({ method: "PUT", body: { location: "eastus", tags: { createdBy: "MicrosoftDefenderForSQL" } }, dependsOn: [group.key] });
    const attach = itemFor(p, "updateMachineIdentity", "sqlvm-1");
    expect(attach.body).toEqual({ identity: { type: "SystemAssigned, UserAssigned", userAssignedIdentities: { [uami]: {} } } });
    expect(attach.dependsOn).toEqual([identity.key]);
    const agent = itemFor(p, "installExtension", "AzureMonitorWindowsAgent");
    expect(agent.body).toEqual({
      location: "eastus",
      tags: { createdBy: "MicrosoftDefenderForSQL" },
      properties: {
        publisher: "Microsoft.Azure.Monitor",
        type: "AzureMonitorWindowsAgent",
        typeHandlerVersion: "1.2",
        autoUpgradeMinorVersion: true,
        enableAutomaticUpgrade: true,
        settings: { authentication: { managedIdentity: { "identifier-name": "mi_res_id", "identifier-value": uami } } },
      },
    });
    expect(waitsFor(p, agent, attach)).toBe(true);
    expect(itemFor(p, "installExtension", "MicrosoftDefenderForSQL").body).toEqual({
      location: "eastus",
      tags: { createdBy: "MicrosoftDefenderForSQL" },
      properties: { publisher: "Microsoft.Azure.AzureDefenderForSQL", type: "AdvancedThreatProtection.Windows", typeHandlerVersion: "2.0", autoUpgradeMinorVersion: true, enableAutomaticUpgrade: true },
    });
    expect(itemFor(p, "createWorkspace", d4sqlWorkspace).body).toEqual({ location: "eastus", tags: { createdBy: "MicrosoftDefenderForSQL" }, properties: { sku: { name: "PerGB2018" }, retentionInDays: 30 } });
    const rule = itemFor(p, "createDataCollectionRule", sqlRule);
    expect(rule.body).toMatchObject({
      location: "eastus",
      tags: { createdBy: "MicrosoftDefenderForSQL" },
      properties: {
        dataSources: { extensions: [expect.objectContaining({ extensionName: "MicrosoftDefenderForSQL", extensionSettings: { enableCollectionOfSqlQueriesForSecurityResearch: false } })] },
        destinations: { logAnalytics: [{ workspaceResourceId: d4sqlWorkspace, name: "LogAnalyticsDest" }] },
      },
    });
    const association = itemFor(p, "associateDataCollectionRule", "MicrosoftDefenderForSQL-RulesAssociation");
    expect(association.targetId).toBe(`${machine.id}/providers/Microsoft.Insights/dataCollectionRuleAssociations/MicrosoftDefenderForSQL-RulesAssociation`);
    expect(association.body).toMatchObject({ properties: { dataCollectionRuleId: sqlRule } });
    expect(association.dependsOn).toContain(rule.key);
    // The machines profile does not install a second AMA next to the SQL one.
    expect(p.items.filter((item) => item.targetId.includes("/extensions/AzureMonitor"))).toHaveLength(1);
  });

  it("ama mode: the subscription's policy assignment of d7c3ea3a and its five role assignments", () => {
    const p = plan({ machines: [sqlVm("sqlvm-1")], sub: sqlStandard });
    const assignment = itemFor(p, "assignPolicy", "Defender for SQL on SQL VMs and Arc-enabled SQL Servers");
    expect(assignment).toMatchObject({
      method: "PUT",
      targetId: `${sub}/providers/Microsoft.Authorization/policyAssignments/Defender for SQL on SQL VMs and Arc-enabled SQL Servers`,
      body: { identity: { type: "SystemAssigned" }, location: "eastus", properties: { policyDefinitionId: "/providers/Microsoft.Authorization/policySetDefinitions/d7c3ea3a-edf3-4bd5-bd64-d5b635b05393" } },
    });
    const roles = p.items.filter((item) => item.action === "assignRole");
    expect(roles.map((item) => (item.body as { properties: { roleDefinitionId: string } }).properties.roleDefinitionId.split("/").pop()).sort()).toEqual(
      ["92aaf0da-9dab-42b6-94a3-d43ce8d16293", "9980e02c-c2be-4d73-94e8-173b1dc7cf3c", "749f88d5-cbae-40b8-bcfc-e573ddc772fa", "cd570a14-e51a-42ad-bac8-bafd67325302", "b24988ac-6180-42a0-ab88-20f7382dd24c"].sort(),
    );
    for (const role of roles) {
      expect(role).toMatchObject({ principalFrom: assignment.targetId, dependsOn: [assignment.key] });
      expect(role.targetId).toMatch(new RegExp(`^${sub}/providers/Microsoft.Authorization/roleAssignments/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`));
    }
  });

  it("ama mode with a custom workspace: de01d381 with the workspace parameters, rule D4SQL-<customerId>-dcr", () => {
    const custom = `${sub}/resourceGroups/rg-central/providers/Microsoft.OperationalInsights/workspaces/law-central`;
    const p = plan({ machines: [sqlVm("sqlvm-1")], env: { LOG_ANALYTICS_WORKSPACE_ID: custom }, sub: sqlStandard, customWorkspace: { id: custom, location: "westeurope", customerId: CUSTOMER_ID } });
    expect(itemFor(p, "assignPolicy", "Defender for SQL on SQL VMs and Arc-enabled SQL Servers- Custom").body).toMatchObject({
      properties: {
        policyDefinitionId: "/providers/Microsoft.Authorization/policySetDefinitions/de01d381-bae9-4670-8870-786f89f49e26",
        parameters: { userWorkspaceResourceId: { value: custom }, workspaceRegion: { value: "westeurope" }, userWorkspaceId: { value: CUSTOMER_ID } },
      },
    });
    const rule = itemFor(p, "createDataCollectionRule", `D4SQL-${CUSTOMER_ID.replace(/-/g, "")}-dcr`);
    expect(rule.targetId).toContain("/resourceGroups/DefaultResourceGroup-WEU/");
    expect(rule.body).toMatchObject({ location: "westeurope", properties: { destinations: { logAnalytics: [{ workspaceResourceId: custom }] } } });
    expect(p.items.filter((item) => item.action === "createWorkspace")).toEqual([]);
  });

  it("Defender for SQL's region map has no japanwest: its group falls back to the region name", () => {
    const p = plan({ machines: [sqlVm("sqlvm-jw", { location: "japanwest" })], sub: sqlStandard });
    expect(itemFor(p, "createWorkspace", `D4SQL-${SUB.replace(/-/g, "")}-japanwest`).targetId).toContain("/resourceGroups/DefaultResourceGroup-japanwest/");
    expect(itemFor(p, "createDataCollectionRule", "MicrosoftDefenderForSQL-japanwest-dcr").targetId).toContain("/resourceGroups/DefaultResourceGroup-japanwest/");
    // The machines profile still uses Defender's shared EJP workspace.
    expect(itemFor(p, "createWorkspace", `DefaultWorkspace-${SUB}-EJP`)).toBeDefined();
    expect(itemFor(p, "createUserAssignedIdentity", "Built-In-Identity-japanwest")).toBeDefined();
  });

  it("extension-only mode: system identity, the Defender for SQL extension and c1529623", () => {
    const p = plan({ machines: [sqlVm("sqlvm-1", { identity: { systemAssigned: false } })], env: { SQL_MODE: "extension-only" }, sub: sqlStandard });
    expect(itemFor(p, "updateMachineIdentity", "sqlvm-1").body).toEqual({ identity: { type: "SystemAssigned" } });
    expect(itemFor(p, "installExtension", "MicrosoftDefenderForSQL")).toBeDefined();
    expect(itemFor(p, "assignPolicy", "Defender for SQL extension on SQL VMs and Arc-enabled SQL").body).toMatchObject({
      properties: { policyDefinitionId: "/providers/Microsoft.Authorization/policySetDefinitions/c1529623-9fc2-45bc-b84b-b14cd0b7484e" },
    });
    expect(p.items.filter((item) => /Built-In-Identity|D4SQL|MicrosoftDefenderForSQL-/i.test(item.targetId))).toEqual([]);
  });

  it("SQL plan Free: no SQL items", () => {
    const p = plan({ machines: [sqlVm("sqlvm-1")], sub: readyShared });
    expect(p.items.filter((item) => /assignPolicy|assignRole|createUserAssignedIdentity/.test(item.action) || /DefenderForSQL|D4SQL/i.test(item.targetId))).toEqual([]);
  });

  it("an existing assignment of the initiative (under any name) is not planned again", () => {
    const p = plan({ machines: [sqlVm("sqlvm-1")], sub: { ...sqlStandard, existing: [...(readyShared.existing ?? []), "initiative:/providers/Microsoft.Authorization/policySetDefinitions/D7C3EA3A-edf3-4bd5-bd64-d5b635b05393"] } });
    expect(p.items.filter((item) => item.action === "assignPolicy" || item.action === "assignRole")).toEqual([]);
  });

  it("an existing assignment whose identity lacks roles gets only the missing grants, for its principal", () => {
    const principalId = "5e5e5e5e-0000-4000-8000-000000000001";
    const assignmentId = `${sub}/providers/Microsoft.Authorization/policyAssignments/customer-named`;
    const granted = ["92aaf0da-9dab-42b6-94a3-d43ce8d16293", "b24988ac-6180-42a0-ab88-20f7382dd24c"].map((role) => roleGrantKey(principalId, `${sub}/providers/Microsoft.Authorization/roleDefinitions/${role}`));
    const p = plan({
      machines: [sqlVm("sqlvm-1")],
      sub: { ...sqlStandard, sqlAssignments: [{ id: assignmentId, policyDefinitionId: "/providers/Microsoft.Authorization/policySetDefinitions/d7c3ea3a-edf3-4bd5-bd64-d5b635b05393", principalId }], roleGrants: new Set(granted) },
    });
    expect(p.items.filter((item) => item.action === "assignPolicy")).toEqual([]);
    const roles = p.items.filter((item) => item.action === "assignRole");
    expect(roles.map((item) => (item.body as { properties: { roleDefinitionId: string } }).properties.roleDefinitionId.split("/").pop()).sort()).toEqual(
      ["9980e02c-c2be-4d73-94e8-173b1dc7cf3c", "749f88d5-cbae-40b8-bcfc-e573ddc772fa", "cd570a14-e51a-42ad-bac8-bafd67325302"].sort(),
    );
    for (const role of roles) expect(role).toMatchObject({ dependsOn: [], body: { properties: { principalId, principalType: "ServicePrincipal" } } });
    expect(roles.every((role) => role.principalFrom === undefined)).toBe(true);
  });

  it("a Linux SQL VM gets the machines profile only", () => {
    const machine = sqlVm("sqlvm-lin", { os: "Linux", image: { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2" } });
    const p = plan({ machines: [machine], sub: sqlStandard });
    expect(p.items.filter((item) => item.machineId === machine.id).map((item) => item.targetId.split("/").pop())).toEqual(["AzureMonitorLinuxAgent", "ama-remediator"]);
  });

  it("REMEDIATION_PROFILES=machines: no SQL items, no assignment", () => {
    const p = plan({ machines: [sqlVm("sqlvm-1")], env: { REMEDIATION_PROFILES: "machines" }, sub: sqlStandard });
    expect(p.items.filter((item) => /assign|UserAssigned/i.test(item.action) || /DefenderForSQL|D4SQL/i.test(item.targetId))).toEqual([]);
  });
});
