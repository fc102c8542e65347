/** SQL_MODE=auto: per subscription, the Defender for SQL architecture its assigned initiative uses. */
import { describe, expect, it } from "vitest";
import { evaluate, evaluateMachine, sqlArchitecture, type SqlArchitecture } from "../../src/evaluate/evaluate.js";
import { SQL_INITIATIVES } from "../../src/defender/names.js";
import { roleGrantKey, type PolicyAssignmentState, type SubscriptionState } from "../../src/model.js";
import { OTHER_SUB, SUB, describeNeed, planOf, settingsWith, snapshot, sqlVm, subscription } from "../support/snapshotBuilder.js";

const CUSTOM_WORKSPACE = `/subscriptions/${OTHER_SUB}/resourceGroups/rg-central/providers/Microsoft.OperationalInsights/workspaces/law-central`;
const assignedAt = (scope: string, initiative: keyof typeof SQL_INITIATIVES, principalId?: string): PolicyAssignmentState => ({
  id: `${scope}/providers/Microsoft.Authorization/policyAssignments/sql-${initiative}`,
  policyDefinitionId: SQL_INITIATIVES[initiative],
  ...(principalId ? { principalId } : {}),
});
const MG = "/providers/Microsoft.Management/managementGroups/mg-sql";
const AT_SUBSCRIPTION = `/subscriptions/${SUB}`;
const sqlSubscription = (...sqlAssignments: PolicyAssignmentState[]): SubscriptionState => subscription({ sqlServersOnMachinesPlan: { tier: "Standard" }, sqlAssignments });
const decide = (sub: SubscriptionState, env: Record<string, string> = {}): SqlArchitecture => sqlArchitecture(sub, settingsWith(env));

describe("sqlArchitecture", () => {
  it.each<[string, SubscriptionState, Record<string, string>, Pick<SqlArchitecture, "mode" | "initiative">, string[]]>([
    [
      "auto, nothing assigned: the AMA initiative, as Defender's AMA autoprovisioning",
      sqlSubscription(),
      {},
      { mode: "ama", initiative: "amaDefaultWorkspace" },
      ["SQL mode ama: no Defender for SQL initiative assigned; the AMA initiative is assigned as Defender's AMA autoprovisioning does"],
    ],
    ["auto, nothing assigned, a custom workspace: the custom-workspace AMA initiative", sqlSubscription(), { LOG_ANALYTICS_WORKSPACE_ID: CUSTOM_WORKSPACE }, { mode: "ama", initiative: "amaCustomWorkspace" }, [expect.stringMatching(/^SQL mode ama: no Defender for SQL initiative assigned/)]],
    [
      "auto, the AMA initiative at a management group",
      sqlSubscription(assignedAt(MG, "amaDefaultWorkspace")),
      {},
      { mode: "ama", initiative: "amaDefaultWorkspace" },
      ["SQL mode ama: initiative d7c3ea3a-edf3-4bd5-bd64-d5b635b05393 (AMA, Defender's workspace) assigned at management group mg-sql"],
    ],
    [
      "auto, the default-workspace AMA initiative assigned while a custom workspace is configured: the assigned one is followed",
      sqlSubscription(assignedAt(MG, "amaDefaultWorkspace")),
      { LOG_ANALYTICS_WORKSPACE_ID: CUSTOM_WORKSPACE },
      { mode: "ama", initiative: "amaDefaultWorkspace" },
      [expect.stringMatching(/^SQL mode ama: initiative d7c3ea3a/)],
    ],
    [
      "auto, the custom-workspace AMA initiative assigned with no workspace configured: followed, and its workspace is not guessed",
      sqlSubscription(assignedAt(AT_SUBSCRIPTION, "amaCustomWorkspace")),
      {},
      { mode: "ama", initiative: "amaCustomWorkspace" },
      [`SQL mode ama: initiative de01d381-bae9-4670-8870-786f89f49e26 (AMA, custom workspace) assigned at subscription ${SUB}`, expect.stringMatching(/set LOG_ANALYTICS_WORKSPACE_ID to it/)],
    ],
    [
      "auto, the extension-only initiative at the subscription",
      sqlSubscription(assignedAt(AT_SUBSCRIPTION, "extensionOnly")),
      {},
      { mode: "extension-only", initiative: "extensionOnly" },
      [`SQL mode extension-only: initiative c1529623-9fc2-45bc-b84b-b14cd0b7484e (extension only) assigned at subscription ${SUB}`],
    ],
    [
      "auto, both architectures assigned: extension-only, reported",
      sqlSubscription(assignedAt(MG, "amaDefaultWorkspace"), assignedAt(AT_SUBSCRIPTION, "extensionOnly")),
      {},
      { mode: "extension-only", initiative: "extensionOnly" },
      [expect.stringMatching(/^SQL mode extension-only: both Defender for SQL architectures are assigned \(initiative d7c3ea3a.* at management group mg-sql; initiative c1529623.* at subscription .*\): the extension-only one.* is followed and nothing more of the AMA set is added/)],
    ],
    ["forced ama, nothing assigned", sqlSubscription(), { SQL_MODE: "ama" }, { mode: "ama", initiative: "amaDefaultWorkspace" }, ["SQL mode ama: forced by SQL_MODE=ama"]],
    [
      "forced ama over an assigned extension-only initiative: forced, and the conflict reported",
      sqlSubscription(assignedAt(MG, "extensionOnly")),
      { SQL_MODE: "ama" },
      { mode: "ama", initiative: "amaDefaultWorkspace" },
      ["SQL mode ama: forced by SQL_MODE=ama", expect.stringMatching(/^SQL_MODE=ama is forced, but the other architecture is assigned too \(initiative c1529623.* at management group mg-sql\)/)],
    ],
    ["forced extension-only over the AMA initiative", sqlSubscription(assignedAt(MG, "amaCustomWorkspace")), { SQL_MODE: "extension-only" }, { mode: "extension-only", initiative: "extensionOnly" }, ["SQL mode extension-only: forced by SQL_MODE=extension-only", expect.stringMatching(/initiative de01d381.* at management group mg-sql/)]],
    ["an assignment of another policy is not an architecture", sqlSubscription({ id: `${AT_SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/x`, policyDefinitionId: "/providers/Microsoft.Authorization/policySetDefinitions/other" }), {}, { mode: "ama", initiative: "amaDefaultWorkspace" }, [expect.stringMatching(/no Defender for SQL initiative assigned/)]],
  ])("%s", (_name, sub, env, expected, findings) => {
    const decided = decide(sub, env);
    expect(decided).toMatchObject(expected);
    expect(decided.findings).toEqual(findings);
  });

  it("is decided only where Defender for SQL applies (the SQL profile and a Standard plan)", () => {
    const assessed = (sub: SubscriptionState, env: Record<string, string> = {}) => evaluate(snapshot([], { subscriptions: [sub] }), settingsWith(env)).subscriptions[0]?.sql;
    expect(assessed(sqlSubscription())).toMatchObject({ mode: "ama" });
    expect(assessed(subscription())).toBeUndefined();
    expect(assessed(sqlSubscription(), { REMEDIATION_PROFILES: "machines" })).toBeUndefined();
  });
});

describe("what each architecture asks of a SQL VM", () => {
  const needsOf = (sub: SubscriptionState, env: Record<string, string> = {}) => {
    const machine = sqlVm("sqlvm-1", { identity: { systemAssigned: false } });
    return evaluateMachine(machine, snapshot([machine], { subscriptions: [sub] }), settingsWith(env)).needs.map(describeNeed);
  };

  it("extension-only (assigned): the system identity and Defender for SQL; none of the AMA set", () => {
    const needs = needsOf(sqlSubscription(assignedAt(MG, "extensionOnly")));
    expect(needs).toEqual(expect.arrayContaining(["systemIdentity", "extension MicrosoftDefenderForSQL missing", "extension AzureMonitorWindowsAgent missing"]));
    expect(needs.filter((need) => /Built-In-Identity|D4SQL|MicrosoftDefenderForSQL-/.test(need))).toEqual([]);
  });

  it("both assigned: the same as extension-only, nothing more of the AMA set", () => {
    expect(needsOf(sqlSubscription(assignedAt(MG, "amaDefaultWorkspace"), assignedAt(AT_SUBSCRIPTION, "extensionOnly")))).toEqual(needsOf(sqlSubscription(assignedAt(MG, "extensionOnly"))));
  });

  it("the AMA initiative (assigned or not): the built-in identity, SQL's AMA, its workspace and rule", () => {
    const needs = needsOf(sqlSubscription(assignedAt(MG, "amaDefaultWorkspace")));
    expect(needs).toEqual(expect.arrayContaining(["userAssignedIdentity Built-In-Identity-eastus", "association MicrosoftDefenderForSQL-RulesAssociation -> MicrosoftDefenderForSQL-eastus-dcr"]));
    expect(needsOf(sqlSubscription())).toEqual(needs);
  });

  it("the assigned default-workspace initiative is followed over a configured custom workspace: Defender's SQL rule, not the custom one", () => {
    const needs = needsOf(sqlSubscription(assignedAt(MG, "amaDefaultWorkspace")), { LOG_ANALYTICS_WORKSPACE_ID: CUSTOM_WORKSPACE });
    expect(needs).toContain("association MicrosoftDefenderForSQL-RulesAssociation -> MicrosoftDefenderForSQL-eastus-dcr");
  });

  it("the assigned custom-workspace initiative without LOG_ANALYTICS_WORKSPACE_ID: no SQL workspace or rule guessed", () => {
    const needs = needsOf(sqlSubscription(assignedAt(AT_SUBSCRIPTION, "amaCustomWorkspace")));
    expect(needs).toContain("userAssignedIdentity Built-In-Identity-eastus");
    expect(needs.filter((need) => /D4SQL|MicrosoftDefenderForSQL-/.test(need))).toEqual([]);
  });
});

describe("the plan follows the architecture", () => {
  const PRINCIPAL = "11111111-2222-4333-8444-555555555555";
  const planFor = (sub: SubscriptionState, env: Record<string, string> = {}) => planOf(snapshot([sqlVm("sqlvm-1")], { subscriptions: [sub] }), settingsWith(env));
  const assigned = (sub: SubscriptionState, env: Record<string, string> = {}) =>
    planFor(sub, env)
      .items.filter((item) => item.action === "assignPolicy")
      .map((item) => (item.body as { properties: { policyDefinitionId: string } }).properties.policyDefinitionId);

  it("assigns the AMA initiative where none is, and nothing where one is inherited", () => {
    expect(assigned(sqlSubscription())).toEqual([SQL_INITIATIVES.amaDefaultWorkspace]);
    expect(assigned(sqlSubscription(assignedAt(MG, "amaDefaultWorkspace")))).toEqual([]);
    expect(assigned(sqlSubscription(assignedAt(MG, "amaDefaultWorkspace")), { LOG_ANALYTICS_WORKSPACE_ID: CUSTOM_WORKSPACE })).toEqual([]);
    expect(assigned(sqlSubscription(assignedAt(MG, "extensionOnly")))).toEqual([]);
  });

  it("forced modes assign their own initiative whatever is inherited (and say so)", () => {
    expect(assigned(sqlSubscription(assignedAt(MG, "extensionOnly")), { SQL_MODE: "ama" })).toEqual([SQL_INITIATIVES.amaDefaultWorkspace]);
    expect(assigned(sqlSubscription(assignedAt(MG, "amaDefaultWorkspace")), { SQL_MODE: "extension-only" })).toEqual([SQL_INITIATIVES.extensionOnly]);
  });

  it("both assigned: no assignment, no AMA-set resource, roles topped up for the followed initiative only", () => {
    const AMA_PRINCIPAL = "99999999-2222-4333-8444-555555555555";
    const sub = subscription({
      sqlServersOnMachinesPlan: { tier: "Standard" },
      sqlAssignments: [assignedAt(MG, "amaDefaultWorkspace", AMA_PRINCIPAL), assignedAt(AT_SUBSCRIPTION, "extensionOnly", PRINCIPAL)],
      roleGrants: new Set([roleGrantKey(PRINCIPAL, "b24988ac-6180-42a0-ab88-20f7382dd24c")]),
    });
    const plan = planFor(sub);
    expect(plan.items.filter((item) => ["assignPolicy", "createUserAssignedIdentity"].includes(item.action) || /D4SQL|MicrosoftDefenderForSQL-|Built-In-Identity/i.test(item.targetId))).toEqual([]);
    const grants = plan.items.filter((item) => item.action === "assignRole").map((item) => (item.body as { properties: { principalId: string } }).properties.principalId);
    expect(grants).toHaveLength(4);
    expect(new Set(grants)).toEqual(new Set([PRINCIPAL]));
    expect(plan.findings).toContainEqual({ subscriptionId: SUB, message: expect.stringMatching(/^SQL mode extension-only: both Defender for SQL architectures are assigned/) });
  });

  it("the mode is a finding of each subscription where Defender for SQL applies, and of no other", () => {
    expect(planFor(sqlSubscription()).findings).toEqual([{ subscriptionId: SUB, message: expect.stringMatching(/^SQL mode ama: no Defender for SQL initiative assigned/) }]);
    expect(planFor(subscription()).findings).toEqual([]);
  });
});
