/**
 * What the service creates: every new resource carries CREATED_RESOURCE_TAGS (Defender's own tag kept),
 * nothing that exists gets its tags changed, and Built-In-Identity-RG goes where the machines it serves
 * are, with the initiative the service assigns naming the same location.
 */
import { describe, expect, it } from "vitest";
import type { Plan, PlanItem } from "../../src/plan/plan.js";
import { builtInIdentityGroupLocation } from "../../src/plan/builtInIdentityGroup.js";
import { SUB, ama, planOf, settingsWith, snapshot, sqlVm, subscription, vm } from "../support/snapshotBuilder.js";

const TAGS = { costCenter: "security-ops", owner: "platform" };
const D7C3EA3A = "/providers/Microsoft.Authorization/policySetDefinitions/d7c3ea3a-edf3-4bd5-bd64-d5b635b05393";
const sqlStandard = { sqlServersOnMachinesPlan: { tier: "Standard" as const } };

const planFor = (machines: Parameters<typeof snapshot>[0], env: Record<string, string> = {}, overrides = {}): Plan =>
  planOf(snapshot(machines, { subscriptions: [subscription({ ...sqlStandard, ...overrides })] }), settingsWith(env));
const tagsOf = (item: PlanItem) => (item.body as { tags?: Record<string, string> } | undefined)?.tags;
const only = (p: Plan, action: PlanItem["action"], name?: string): PlanItem => {
  const found = p.items.filter((item) => item.action === action && (!name || item.targetId.endsWith(`/${name}`)));
  expect(found, `${action} ${name ?? ""}`).toHaveLength(1);
  return found[0] as PlanItem;
};

describe("CREATED_RESOURCE_TAGS", () => {
  const withTags = { CREATED_RESOURCE_TAGS: JSON.stringify(TAGS) };

  it("are on every resource group, workspace, solution, rule, identity and new extension the plan creates", () => {
    const p = planFor([vm("vm-1", { identity: { systemAssigned: false } }), sqlVm("sqlvm-1")], withTags);
    const creates = p.items.filter((item) => /^(create|install)/.test(item.action));
    expect(new Set(creates.map((item) => item.action))).toEqual(new Set(["createResourceGroup", "createWorkspace", "installSolution", "createDataCollectionRule", "createUserAssignedIdentity", "installExtension"]));
    for (const item of creates) expect(tagsOf(item), item.key).toMatchObject(TAGS);
  });

  it("never touch what exists or what takes no tags: identity PATCH, associations, policy and role assignments, a re-installed extension", () => {
    const failed = vm("vm-failed");
    const p = planFor([vm("vm-1", { identity: { systemAssigned: false } }), { ...failed, extensions: [ama(failed, "Windows", { state: "Failed" })] }, sqlVm("sqlvm-1")], withTags);
    const untagged = p.items.filter((item) => !/^(create|install)/.test(item.action) || (item.action === "installExtension" && item.targetId.startsWith(failed.id)));
    expect(new Set(untagged.map((item) => item.action))).toEqual(new Set(["updateMachineIdentity", "associateDataCollectionRule", "assignPolicy", "assignRole", "installExtension"]));
    for (const item of untagged) expect(tagsOf(item) ?? {}, item.key).not.toHaveProperty("costCenter");
  });

  it("keep Defender for SQL's createdBy tag over a configured one of the same name in any casing", () => {
    const p = planFor([sqlVm("sqlvm-1")], { CREATED_RESOURCE_TAGS: JSON.stringify({ CreatedBy: "finance", owner: "platform" }) });
    for (const item of p.items.filter((candidate) => /Built-In-Identity|D4SQL|MicrosoftDefenderForSQL/.test(candidate.targetId) && /^create/.test(candidate.action))) {
      expect(tagsOf(item), item.key).toEqual({ owner: "platform", createdBy: "MicrosoftDefenderForSQL" });
    }
    expect(tagsOf(only(p, "createDataCollectionRule", "ama-remediator-eastus-dcr"))).toEqual({ owner: "platform", createdBy: "ama-remediator" });
  });

  it("unset: bodies are Defender's own, without an empty tags object", () => {
    const p = planFor([vm("vm-1")]);
    expect(only(p, "createResourceGroup", "DefaultResourceGroup-EUS").body).toEqual({ location: "eastus" });
  });
});

describe("Built-In-Identity-RG", () => {
  const identityGroup = (p: Plan) => only(p, "createResourceGroup", "Built-In-Identity-RG");
  const assignmentParameters = (p: Plan) => (only(p, "assignPolicy").body as { properties: { parameters?: Record<string, { value: unknown }> } }).properties.parameters;

  it("is created in the region of the first machine it serves, and the initiative the service assigns names that location", () => {
    const p = planFor([sqlVm("sqlvm-weu", { location: "westeurope" }), sqlVm("sqlvm-jpe", { location: "japaneast" })]);
    expect(identityGroup(p).body).toEqual({ location: "westeurope", tags: { createdBy: "MicrosoftDefenderForSQL" } });
    expect(identityGroup(p).reason).toContain("westeurope");
    expect(assignmentParameters(p)).toEqual({ builtInIdentityResourceGroupLocation: { value: "westeurope" } });
    // Each region still gets its own identity in that one group.
    expect(p.items.filter((item) => item.action === "createUserAssignedIdentity").map((item) => item.targetId.split("/").pop())).toEqual(["Built-In-Identity-westeurope", "Built-In-Identity-japaneast"]);
  });

  it("follows an initiative that is already assigned: its deployments create the group at the initiative's location", () => {
    const p = planFor([sqlVm("sqlvm-weu", { location: "westeurope" })], {}, { sqlAssignments: [{ id: `/subscriptions/${SUB}/providers/Microsoft.Authorization/policyAssignments/customer`, policyDefinitionId: D7C3EA3A }] });
    expect(identityGroup(p).body).toMatchObject({ location: "eastus" });
    expect(p.items.filter((item) => item.action === "assignPolicy")).toEqual([]);
  });

  it("already there: the initiative the service assigns names the group's own location (ARM never moves a group)", () => {
    const p = planFor([sqlVm("sqlvm-weu", { location: "westeurope" })], {}, { existing: [`/subscriptions/${SUB}/resourceGroups/Built-In-Identity-RG`], builtInIdentityGroupLocation: "uksouth" });
    expect(p.items.filter((item) => item.targetId.endsWith("/Built-In-Identity-RG"))).toEqual([]);
    expect(assignmentParameters(p)).toEqual({ builtInIdentityResourceGroupLocation: { value: "uksouth" } });
  });

  it("follows the location an existing assignment names for the group", () => {
    const assignment = { id: `/providers/Microsoft.Management/managementGroups/mg-landingzones/providers/Microsoft.Authorization/policyAssignments/sql`, policyDefinitionId: D7C3EA3A, builtInIdentityResourceGroupLocation: "swedencentral" };
    const p = planFor([sqlVm("sqlvm-weu", { location: "westeurope" })], {}, { sqlAssignments: [assignment] });
    expect(identityGroup(p).body).toMatchObject({ location: "swedencentral" });
  });

  it.each([
    { case: "not assigned: the first machine's region, normalised", group: undefined, assignment: undefined, region: "West Europe", location: "westeurope" },
    { case: "assigned with the default: the initiative's default location", group: undefined, assignment: {}, region: "westeurope", location: "eastus" },
    { case: "assigned naming a location: that location", group: undefined, assignment: { builtInIdentityResourceGroupLocation: "Sweden Central" }, region: "westeurope", location: "swedencentral" },
    { case: "the group exists: its location, whatever else says", group: "uksouth", assignment: { builtInIdentityResourceGroupLocation: "swedencentral" }, region: "westeurope", location: "uksouth" },
  ])("builtInIdentityGroupLocation, $case", ({ group, assignment, region, location }) => {
    expect(builtInIdentityGroupLocation(group, assignment, region)).toBe(location);
  });
});
