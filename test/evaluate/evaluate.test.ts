import { describe, expect, it } from "vitest";
import { evaluateMachine, type MachineAssessment } from "../../src/evaluate/evaluate.js";
import type { MachineState, RuleState } from "../../src/model.js";
import type { Os } from "../../src/defender/agents.js";
import { idKey } from "../../src/azure/ids.js";
import { ownedRuleId } from "../../src/defender/names.js";
import {
  OTHER_SUB,
  SUB,
  ama,
  arc,
  association,
  describeNeed,
  mma,
  settingsWith,
  snapshot,
  sqlIaasLinux,
  sqlVm,
  subscription,
  vm,
  type SubscriptionOverrides,
} from "../support/snapshotBuilder.js";

const OWNED_RULE = ownedRuleId(SUB, "eastus");
const CONFIGURED_RULE = `/subscriptions/${SUB}/resourceGroups/rg-monitoring/providers/Microsoft.Insights/dataCollectionRules/dcr-central`;

function assess(machine: MachineState, env: Record<string, string> = {}, sub: SubscriptionOverrides = {}): MachineAssessment {
  const settings = settingsWith(env);
  return evaluateMachine(machine, snapshot([machine], { subscriptions: [subscription(sub)] }), settings);
}

const needs = (assessment: MachineAssessment) => assessment.needs.map(describeNeed);
const blocked = (assessment: MachineAssessment) => assessment.blocked.map((entry) => describeNeed(entry.need));

const base = vm("vm-1");
const galleryVm = vm("vm-1", { image: { id: `/subscriptions/${SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/gal/images/win2022/versions/1.0.0` } });
const sqlStandard = { sqlServersOnMachinesPlan: { tier: "Standard" as const } };

describe("evaluate: the machines profile", () => {
  it.each<[string, MachineState, string[]]>([
    ["a bare VM with a system identity needs AMA and the association", base, ["extension AzureMonitorWindowsAgent missing", "workspace DefaultWorkspace-" + SUB + "-EUS", "association ama-remediator -> ama-remediator-eastus-dcr"]],
    ["a VM without identity needs a system identity first", vm("vm-1", { identity: { systemAssigned: false } }), ["systemIdentity", "extension AzureMonitorWindowsAgent missing", "workspace DefaultWorkspace-" + SUB + "-EUS", "association ama-remediator -> ama-remediator-eastus-dcr"]],
    ["a VM with only user-assigned identities needs a system identity too", vm("vm-1", { identity: { systemAssigned: false, userAssignedIds: ["/subscriptions/x/uami"] } }), ["systemIdentity", "extension AzureMonitorWindowsAgent missing", "workspace DefaultWorkspace-" + SUB + "-EUS", "association ama-remediator -> ama-remediator-eastus-dcr"]],
    ["a Linux VM needs the Linux agent", vm("vm-1", { os: "Linux", image: { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2" } }), ["extension AzureMonitorLinuxAgent missing", "workspace DefaultWorkspace-" + SUB + "-EUS", "association ama-remediator -> ama-remediator-eastus-dcr"]],
    ["an Arc machine never needs an identity write", arc("arc-1", { identity: { systemAssigned: false } }), ["extension AzureMonitorWindowsAgent missing", "workspace DefaultWorkspace-" + SUB + "-EUS", "association ama-remediator -> ama-remediator-eastus-dcr"]],
  ])("%s", (_name, machine, expected) => {
    const assessment = assess(machine);
    expect(assessment.status).toBe("inScope");
    expect(needs(assessment)).toEqual(expected);
  });

  it.each<[string, (machine: MachineState) => MachineState, string[]]>([
    ["AMA under another name counts", (m) => ({ ...m, extensions: [ama(m, "Windows", { name: "my-ama" })] }), []],
    ["AMA matched on publisher and type whatever their case", (m) => ({ ...m, extensions: [{ ...ama(m, "Windows", { name: "x" }), publisher: "MICROSOFT.AZURE.MONITOR", type: "azuremonitorwindowsagent" }] }), []],
    ["a Failed AMA is re-installed under its existing name", (m) => ({ ...m, extensions: [ama(m, "Windows", { name: "my-ama", state: "Failed", version: "1.22" })] }), ["extension my-ama failed"]],
    ["AMA with automatic upgrade off is updated", (m) => ({ ...m, extensions: [ama(m, "Windows", { autoUpgrade: false })] }), ["extension AzureMonitorWindowsAgent autoUpgradeOff"]],
  ])("%s", (_name, change, expected) => {
    const assessment = assess(change(base));
    expect(needs(assessment).filter((need) => need.startsWith("extension"))).toEqual(expected);
  });

  it("sends the existing copy's own tags back when repairing it (a PUT replaces them)", () => {
    const machine = { ...base, extensions: [{ ...ama(base, "Windows", { name: "my-ama", state: "Failed" }), tags: { costCenter: "cc-1" } }] };
    expect(assess(machine).needs.find((entry) => entry.kind === "extension")).toMatchObject({ extension: { name: "my-ama", tags: { costCenter: "cc-1" } } });
  });

  it("keeps the existing copy's typeHandlerVersion when repairing it", () => {
    const machine = { ...base, extensions: [ama(base, "Windows", { name: "my-ama", state: "Failed", version: "1.22" })] };
    const need = assess(machine).needs.find((entry) => entry.kind === "extension");
    expect(need).toMatchObject({ extension: { name: "my-ama", typeHandlerVersion: "1.22", publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorWindowsAgent" } });
  });

  it.each<[string, string]>([
    ["the same rule id under any name", OWNED_RULE],
    ["the same rule id cased differently", OWNED_RULE.toLowerCase()],
    ["the same rule id with a trailing slash", `${OWNED_RULE.toUpperCase()}/`],
  ])("an existing association to %s counts", (_name, ruleId) => {
    const machine = { ...base, associations: [association(base, "legacy-dcr-link", ruleId)] };
    expect(needs(assess(machine, {}, { existing: [OWNED_RULE] })).some((need) => need.startsWith("association"))).toBe(false);
  });

  it("an association left behind by a deleted rule does not count: the rule is made again and the machine associated anew", () => {
    const machine = { ...base, associations: [association(base, "ama-remediator", OWNED_RULE)] };
    expect(needs(assess(machine))).toContain("association ama-remediator -> ama-remediator-eastus-dcr");
  });

  it("an association to another rule does not count", () => {
    const machine = { ...base, associations: [association(base, "ops", CONFIGURED_RULE)] };
    expect(needs(assess(machine))).toContain("association ama-remediator -> ama-remediator-eastus-dcr");
  });

  it("associates with DATA_COLLECTION_RULE_ID when configured (a rule that is never created)", () => {
    const assessment = assess(base, { DATA_COLLECTION_RULE_ID: CONFIGURED_RULE });
    const need = assessment.needs.find((entry) => entry.kind === "association");
    expect(need).toMatchObject({ name: "ama-remediator", rule: { ruleId: CONFIGURED_RULE, flavour: "configured" } });
    const associated = assess({ ...base, associations: [association(base, "whatever", CONFIGURED_RULE.toUpperCase())] }, { DATA_COLLECTION_RULE_ID: CONFIGURED_RULE });
    expect(needs(associated).some((entry) => entry.startsWith("association"))).toBe(false);
  });
});

describe("evaluate: security events a customer's rule already collects (never twice)", () => {
  const DEFAULT_WORKSPACE = `/subscriptions/${SUB}/resourceGroups/DefaultResourceGroup-EUS/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-${SUB}-EUS`;
  const OPS_WORKSPACE = `/subscriptions/${SUB}/resourceGroups/rg-monitoring/providers/Microsoft.OperationalInsights/workspaces/law-ops`;
  const HUB_RULE = `/subscriptions/${OTHER_SUB}/resourceGroups/rg-hub/providers/Microsoft.Insights/dataCollectionRules/dcr-hub-security`;
  const rule = (id: string, workspace: string, collects: readonly Os[]): RuleState => ({
    id,
    workspaces: [idKey(workspace)],
    securityEventsTo: { Windows: collects.includes("Windows") ? [idKey(workspace)] : [], Linux: collects.includes("Linux") ? [idKey(workspace)] : [] },
  });
  const linux = vm("vm-2", { os: "Linux", image: { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2" } });
  const associatedWith = (machine: MachineState, ruleId: string) => ({ ...machine, associations: [association(machine, "secops", ruleId)] });
  const evaluateWith = (machine: MachineState, rules: readonly RuleState[], env: Record<string, string> = {}, associatedRules: readonly RuleState[] = []) =>
    evaluateMachine(machine, snapshot([machine], { subscriptions: [subscription({ rules })], associatedRules }), settingsWith(env));
  const associationNeeds = (assessment: MachineAssessment) => needs(assessment).filter((need) => need.startsWith("association"));

  it.each<[string, MachineState, RuleState, string[]]>([
    ["a Windows VM whose rule sends Security events to the target workspace needs no association", associatedWith(base, CONFIGURED_RULE), rule(CONFIGURED_RULE, DEFAULT_WORKSPACE, ["Windows"]), []],
    ["a Linux VM whose rule sends auth syslog to the target workspace needs no association", associatedWith(linux, CONFIGURED_RULE), rule(CONFIGURED_RULE, DEFAULT_WORKSPACE, ["Linux"]), []],
    ["a rule sending to another workspace does not count", associatedWith(base, CONFIGURED_RULE), rule(CONFIGURED_RULE, OPS_WORKSPACE, ["Windows", "Linux"]), ["association ama-remediator -> ama-remediator-eastus-dcr"]],
    ["a Linux VM on a Windows-only rule still needs the service's", associatedWith(linux, CONFIGURED_RULE), rule(CONFIGURED_RULE, DEFAULT_WORKSPACE, ["Windows"]), ["association ama-remediator -> ama-remediator-eastus-dcr"]],
    ["a rule the machine is not associated with does not count", base, rule(CONFIGURED_RULE, DEFAULT_WORKSPACE, ["Windows"]), ["association ama-remediator -> ama-remediator-eastus-dcr"]],
  ])("%s", (_name, machine, found, expected) => {
    expect(associationNeeds(evaluateWith(machine, [found]))).toEqual(expected);
  });

  it("names the rule that satisfied the machine", () => {
    const assessment = evaluateWith(associatedWith(base, CONFIGURED_RULE), [rule(CONFIGURED_RULE, DEFAULT_WORKSPACE, ["Windows"])]);
    expect(assessment.notes).toEqual([`security events already reach the workspace through data collection rule ${CONFIGURED_RULE}: the service's own rule is not needed`]);
  });

  it("counts a rule in another subscription, read for the machine's association", () => {
    const assessment = evaluateWith(associatedWith(base, HUB_RULE), [], {}, [rule(HUB_RULE, DEFAULT_WORKSPACE, ["Windows"])]);
    expect(associationNeeds(assessment)).toEqual([]);
  });

  it("counts a rule sending to the custom workspace when LOG_ANALYTICS_WORKSPACE_ID names it", () => {
    const assessment = evaluateWith(associatedWith(base, CONFIGURED_RULE), [rule(CONFIGURED_RULE, OPS_WORKSPACE, ["Windows"])], { LOG_ANALYTICS_WORKSPACE_ID: OPS_WORKSPACE });
    expect(associationNeeds(assessment)).toEqual([]);
  });

  it("keeps DATA_COLLECTION_RULE_ID the rule to use, whatever else collects", () => {
    const hub = associatedWith(base, HUB_RULE);
    const assessment = evaluateWith(hub, [], { DATA_COLLECTION_RULE_ID: CONFIGURED_RULE }, [rule(HUB_RULE, DEFAULT_WORKSPACE, ["Windows"])]);
    expect(associationNeeds(assessment)).toEqual(["association ama-remediator -> dcr-central"]);
  });
});

describe("evaluate: the retiring Log Analytics agent", () => {
  const both = { ...base, extensions: [mma(base), ama(base)] };

  it("reports MMA next to AMA and removes nothing by default", () => {
    const assessment = assess(both);
    expect(assessment.notes).toEqual([expect.stringMatching(/both the retiring Log Analytics agent \(MicrosoftMonitoringAgent\) and the Azure Monitor Agent run/)]);
    expect(needs(assessment).some((need) => need.startsWith("removeExtension"))).toBe(false);
  });

  it("removes the MMA with REMOVE_LEGACY_MMA=true once AMA shows Succeeded", () => {
    expect(needs(assess(both, { REMOVE_LEGACY_MMA: "true" }))).toContain("removeExtension MicrosoftMonitoringAgent");
  });

  it.each<[string, MachineState]>([
    ["AMA is missing", { ...base, extensions: [mma(base)] }],
    ["AMA is Failed", { ...base, extensions: [mma(base), ama(base, "Windows", { state: "Failed" })] }],
  ])("keeps the MMA when %s", (_name, machine) => {
    const assessment = assess(machine, { REMOVE_LEGACY_MMA: "true" });
    expect(needs(assessment).some((need) => need.startsWith("removeExtension"))).toBe(false);
    expect(assessment.notes).toEqual([]);
  });

  it("recognises the Linux OMS agent too", () => {
    const machine = vm("vm-lin", { os: "Linux", image: { publisher: "RedHat", offer: "RHEL", sku: "9-lvm-gen2" } });
    const withBoth = { ...machine, extensions: [mma(machine, "Linux"), ama(machine, "Linux")] };
    expect(needs(assess(withBoth, { REMOVE_LEGACY_MMA: "true" }))).toEqual(["workspace DefaultWorkspace-" + SUB + "-EUS", "association ama-remediator -> ama-remediator-eastus-dcr", "removeExtension OMSAgentForLinux"]);
  });
});

describe("evaluate: machines whose guest cannot take extensions", () => {
  it.each<[string, MachineState, RegExp]>([
    ["a deallocated VM", vm("vm-1", { power: "deallocated", identity: { systemAssigned: false } }), /VM is deallocated/],
    ["a stopped VM", vm("vm-1", { power: "stopped", identity: { systemAssigned: false } }), /VM is stopped/],
    ["a VM with extension operations disabled", vm("vm-1", { allowExtensionOperations: false, identity: { systemAssigned: false } }), /allowExtensionOperations is false/],
  ])("%s: identity and association still planned, the agent blocked with the reason", (_name, machine, reason) => {
    const assessment = assess(machine);
    expect(assessment.status).toBe("inScope");
    expect(needs(assessment)).toEqual(["systemIdentity", "workspace DefaultWorkspace-" + SUB + "-EUS", "association ama-remediator -> ama-remediator-eastus-dcr"]);
    expect(blocked(assessment)).toEqual(["extension AzureMonitorWindowsAgent missing"]);
    expect(assessment.blocked[0]?.reason).toMatch(reason);
  });

  it("a disconnected Arc machine: association planned, agent blocked with the reason", () => {
    const assessment = assess(arc("arc-1", { agentStatus: "Disconnected" }));
    expect(needs(assessment)).toEqual(["workspace DefaultWorkspace-" + SUB + "-EUS", "association ama-remediator -> ama-remediator-eastus-dcr"]);
    expect(blocked(assessment)).toEqual(["extension AzureMonitorWindowsAgent missing"]);
    expect(assessment.blocked[0]?.reason).toMatch(/Arc machine is Disconnected/);
  });

  it("a deallocated VM with MMA and AMA keeps the MMA removal blocked", () => {
    const machine = vm("vm-1", { power: "deallocated" });
    const assessment = assess({ ...machine, extensions: [mma(machine), ama(machine)] }, { REMOVE_LEGACY_MMA: "true" });
    expect(blocked(assessment)).toEqual(["removeExtension MicrosoftMonitoringAgent"]);
  });
});

describe("evaluate: machines the service leaves alone", () => {
  it.each<[string, MachineState, SubscriptionOverrides, RegExp]>([
    ["a distribution the agent does not support", vm("vm-1", { os: "Linux", image: { publisher: "kali-linux", offer: "kali", sku: "kali-2024-4" } }), {}, /Kali.* is not on the Azure Monitor Agent's supported list/i],
    ["an Arc machine on a release the agent does not support", arc("arc-1", { os: "Linux", osName: "linux", osSku: "Ubuntu 14.04.6 LTS" }), {}, /Ubuntu 14\.04(\.6)? is not on the Azure Monitor Agent's supported list/],
    ["a machine tagged skip", vm("vm-1", { tags: { "ama-remediation": "skip" } }), {}, /machine tagged ama-remediation: skip/],
    ["a machine tagged Skip (any case, any tag-name case)", vm("vm-1", { tags: { "AMA-Remediation": " Skip " } }), {}, /machine tagged/],
    ["a machine in a resource group tagged skip", vm("vm-1"), { optedOutResourceGroups: ["RG-Workload"] }, /resource group tagged ama-remediation: skip/],
    ["a machine in a subscription tagged skip", vm("vm-1"), { tags: { "ama-remediation": "skip" } }, /subscription tagged ama-remediation: skip/],
    ["a machine whose OS is not reported", vm("vm-1", { os: undefined }), {}, /operating system type is not reported/],
  ])("skips %s, with the reason", (_name, machine, sub, reason) => {
    const assessment = assess(machine, {}, sub);
    expect(assessment.status).toBe("skipped");
    expect(assessment.needs).toEqual([]);
    expect(assessment.skipReason).toMatch(reason);
  });

  it("honours a configured OPT_OUT_TAG name", () => {
    const machine = vm("vm-1", { tags: { "no-touch": "skip" } });
    expect(assess(machine, { OPT_OUT_TAG: "no-touch" }).status).toBe("skipped");
    expect(assess(machine).status).toBe("inScope");
  });

  it("another tag value does not opt out", () => {
    expect(assess(vm("vm-1", { tags: { "ama-remediation": "later" } })).status).toBe("inScope");
  });

  it("SCOPE_TO_SUPPORTED_IMAGES=true skips a VM built from a gallery image, as the built-in policies do", () => {
    const assessment = assess(galleryVm, { SCOPE_TO_SUPPORTED_IMAGES: "true" });
    expect(assessment.status).toBe("skipped");
    expect(assessment.skipReason).toMatch(/custom image win2022\/versions\/1.0.0 is not on the Azure Monitor Agent policies' supported list/);
  });

  it.each<[string, MachineState]>([
    ["a gallery image the VM reports as Windows Server 2022", { ...galleryVm, osName: "Windows Server 2022 Datacenter", osVersion: "Microsoft Windows NT 10.0.20348.0" }],
    ["a marketplace image outside the policies' list", vm("vm-1", { image: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2025-datacenter-azure-edition" } })],
  ])("by default takes in %s", (_name, machine) => {
    const assessment = assess(machine);
    expect(assessment.status).toBe("inScope");
    expect(assessment.notes).toEqual([]);
  });

  it("installs on a gallery image whose OS ARM does not tell, and says so", () => {
    const assessment = assess(galleryVm);
    expect(assessment.status).toBe("inScope");
    expect(assessment.notes).toEqual([expect.stringMatching(/the agent is installed and ARM's answer reported$/)]);
  });
});

describe("evaluate: the sql profile", () => {
  const sql = sqlVm("sqlvm-1");

  it("ama mode: what initiative d7c3ea3a deploys, under its names", () => {
    const assessment = assess(sql, {}, sqlStandard);
    expect(needs(assessment)).toEqual([
      "workspace DefaultWorkspace-" + SUB + "-EUS",
      "association ama-remediator -> ama-remediator-eastus-dcr",
      "userAssignedIdentity Built-In-Identity-eastus",
      "extension AzureMonitorWindowsAgent missing",
      "extension MicrosoftDefenderForSQL missing",
      "workspace D4SQL-" + SUB.replace(/-/g, "") + "-eastus",
      "association MicrosoftDefenderForSQL-RulesAssociation -> MicrosoftDefenderForSQL-eastus-dcr",
    ]);
    const amaNeed = assessment.needs.find((need) => need.kind === "extension" && need.extension.type === "AzureMonitorWindowsAgent");
    expect(amaNeed).toMatchObject({
      extension: {
        typeHandlerVersion: "1.2",
        tags: { createdBy: "MicrosoftDefenderForSQL" },
        settings: { authentication: { managedIdentity: { "identifier-name": "mi_res_id", "identifier-value": `/subscriptions/${SUB}/resourceGroups/Built-In-Identity-RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Built-In-Identity-eastus` } } },
      },
    });
  });

  it("ama mode on an Arc SQL server: no identity, AMA without settings", () => {
    const machine = { ...arc("arc-sql"), sqlServer: {} };
    const assessment = assess(machine, {}, sqlStandard);
    expect(needs(assessment).filter((need) => /identity/i.test(need))).toEqual([]);
    const amaNeed = assessment.needs.find((need) => need.kind === "extension" && need.extension.type === "AzureMonitorWindowsAgent");
    expect(amaNeed).toMatchObject({ extension: { name: "AzureMonitorWindowsAgent" } });
    expect(amaNeed && amaNeed.kind === "extension" ? amaNeed.extension.settings : "none").toBeUndefined();
  });

  it("extension-only mode: system identity and the Defender for SQL extension, no UAMI, rule or SQL association", () => {
    const assessment = assess(sqlVm("sqlvm-1", { identity: { systemAssigned: false } }), { SQL_MODE: "extension-only" }, sqlStandard);
    expect(needs(assessment)).toEqual([
      "systemIdentity",
      "extension AzureMonitorWindowsAgent missing",
      "workspace DefaultWorkspace-" + SUB + "-EUS",
      "association ama-remediator -> ama-remediator-eastus-dcr",
      "extension MicrosoftDefenderForSQL missing",
    ]);
  });

  it.each<[string, MachineState, SubscriptionOverrides, RegExp]>([
    ["the SqlServerVirtualMachines plan is Free", sql, {}, /plan is not Standard/],
    ["the SQL VM runs Linux", { ...sqlVm("sqlvm-lin", { os: "Linux", image: { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2" } }) }, sqlStandard, /Linux SQL Server machines/],
    ["the SQL VM carries the Linux SQL IaaS agent", { ...sql, extensions: [sqlIaasLinux(sql)] }, sqlStandard, /Linux SQL Server machines/],
  ])("no SQL needs when %s (noted)", (_name, machine, sub, note) => {
    const assessment = assess(machine, {}, sub);
    expect(needs(assessment).filter((need) => /SQL|Built-In/i.test(need))).toEqual([]);
    expect(assessment.notes).toEqual([expect.stringMatching(note)]);
  });

  it("REMEDIATION_PROFILES=machines switches the SQL profile off, silently", () => {
    const assessment = assess(sql, { REMEDIATION_PROFILES: "machines" }, sqlStandard);
    expect(needs(assessment).filter((need) => /SQL|Built-In/i.test(need))).toEqual([]);
    expect(assessment.notes).toEqual([]);
  });

  it("REMEDIATION_PROFILES=sql switches the machines profile off", () => {
    expect(needs(assess(vm("vm-plain", { identity: { systemAssigned: false } }), { REMEDIATION_PROFILES: "sql" }, sqlStandard))).toEqual([]);
    expect(needs(assess(sql, { REMEDIATION_PROFILES: "sql" }, sqlStandard))).not.toContain("association ama-remediator -> ama-remediator-eastus-dcr");
  });

  it("an existing Built-In identity and SQL association count", () => {
    const uami = `/subscriptions/${SUB}/resourceGroups/built-in-identity-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/built-in-identity-eastus`;
    const sqlRule = `/subscriptions/${SUB}/resourceGroups/DefaultResourceGroup-EUS/providers/Microsoft.Insights/dataCollectionRules/MicrosoftDefenderForSQL-eastus-dcr`;
    const machine = { ...sql, identity: { systemAssigned: true, userAssignedIds: [uami] }, associations: [association(sql, "other", sqlRule.toLowerCase())] };
    const described = needs(assess(machine, {}, { ...sqlStandard, existing: [uami, sqlRule] }));
    expect(described.some((need) => need.startsWith("userAssignedIdentity"))).toBe(false);
    expect(described.some((need) => need.startsWith("association MicrosoftDefenderForSQL"))).toBe(false);
    // Both deleted since: the VM's reference and the association remain, and count for nothing.
    const afterDeletes = needs(assess(machine, {}, sqlStandard));
    expect(afterDeletes.some((need) => need.startsWith("userAssignedIdentity"))).toBe(true);
    expect(afterDeletes.some((need) => need.startsWith("association MicrosoftDefenderForSQL"))).toBe(true);
  });
});
