/**
 * Deny policies as a contract: a write Azure Policy refuses (403 RequestDisallowedByPolicy) is terminal
 * for that item, never retried, reported with the assignment that refused it; what depends on it is not
 * attempted; everything else goes on. With CREATED_RESOURCE_TAGS the same sweep converges.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { idKey } from "../../src/azure/ids.js";
import { demoEstate, type Estate } from "../../local-azure/src/estate.js";
import type { ArmResource } from "../../local-azure/src/arm-resource.js";
import { builtInDefinitionId } from "../../local-azure/src/policyDeny.js";
import { hasAmaSucceeded, startEngineHarness, subscriptionNamed, type EngineHarness, type RunResult } from "../support/engineHarness.js";

let h: EngineHarness;
const estate = demoEstate();
const production = subscriptionNamed(estate, "Contoso Production");
const data = subscriptionNamed(estate, "Contoso Data");
const TAGS = { costCenter: "security-ops", owner: "platform" };

beforeAll(async () => {
  h = await startEngineHarness();
});
afterAll(() => h.close());

function assignment(scope: string, name: string, displayName: string, definition: string, parameters: Record<string, unknown>): ArmResource {
  return {
    id: `${scope}/providers/Microsoft.Authorization/policyAssignments/${name}`,
    name,
    type: "Microsoft.Authorization/policyAssignments",
    properties: { displayName, policyDefinitionId: builtInDefinitionId(definition), parameters: Object.fromEntries(Object.entries(parameters).map(([key, value]) => [key, { value }])) },
  };
}

/** Production requires a costCenter tag on resources (871b6d14) and on resource groups (96670d01). */
const requireCostCenter = [
  assignment(production.id, "require-costcenter", "Require costCenter on resources", "871b6d14-10aa-478d-b590-94f262ecfa99", { tagName: "costCenter" }),
  assignment(production.id, "require-costcenter-rg", "Require costCenter on resource groups", "96670d01-0a4d-4649-9c89-2d3abc0a5025", { tagName: "costCenter" }),
];

/**
 * A customer under that policy: what already exists in Production carries the tag (its machines' agents
 * too: re-installing a Failed one sends the extension's own tags back, or the policy would refuse it).
 */
function tagged(source: Estate): ArmResource[] {
  return source.resources.map((resource) => (resource.id.startsWith(`${production.id}/resourceGroups/`) ? { ...resource, tags: { ...resource.tags, costCenter: "existing" } } : resource));
}

const actionsOf = (run: RunResult) => run.report.resources.flatMap((resource) => resource.actions.map((action) => ({ ...action, resource })));
const machinesIn = (run: RunResult, subscriptionId: string) => run.report.resources.filter((resource) => resource.kind !== "shared" && resource.subscriptionId === subscriptionId);
/** Machines of the subscription the sweep did not converge: failed, or an agent it installed is not running. */
const unconverged = (run: RunResult, subscriptionId: string) =>
  machinesIn(run, subscriptionId).filter((machine) => machine.status === "failed" || (machine.actions.some((action) => action.action === "installExtension") && !hasAmaSucceeded(h.azure, machine.id)));

describe("a deny policy requiring a tag, without CREATED_RESOURCE_TAGS", () => {
  let run: RunResult;
  beforeAll(async () => {
    h.load(estate, ...requireCostCenter);
    run = await h.run();
  });

  it("reports each denied write with the assignment's name and id, from ARM's additionalInfo", () => {
    const denied = actionsOf(run).filter((action) => action.error?.code === "RequestDisallowedByPolicy");
    expect(denied.length).toBeGreaterThan(0);
    for (const action of denied) {
      expect(action.outcome).toBe("failed");
      expect(action.resource.subscriptionId).toBe(production.subscriptionId);
      const expected = action.action === "createResourceGroup" ? requireCostCenter[1] : requireCostCenter[0];
      expect(action.deniedBy, action.targetId).toEqual([
        {
          policyAssignmentId: expected?.id,
          policyAssignmentName: expected?.name,
          policyAssignmentDisplayName: expected?.properties?.["displayName"],
          policyDefinitionId: expected?.properties?.["policyDefinitionId"],
          policyDefinitionDisplayName: action.action === "createResourceGroup" ? "Require a tag on resource groups" : "Require a tag on resources",
        },
      ]);
    }
    // Beside what the service creates, the policy also refuses updates to what exists untagged (an identity PATCH on a VM).
    expect(new Set(denied.map((action) => action.action))).toEqual(new Set(["createResourceGroup", "createDataCollectionRule", "installSolution", "installExtension", "updateMachineIdentity"]));
  });

  it("counts the denials and names the policies in the summary; the run has failures (the CLI exits 1)", () => {
    const denied = actionsOf(run).filter((action) => action.deniedBy);
    expect(run.report.deniedByPolicy.writes).toBe(denied.length);
    expect(run.report.deniedByPolicy.policies.map((policy) => [policy.policyAssignmentName, policy.policyAssignmentId, policy.writes]).sort()).toEqual(
      requireCostCenter.map((entry) => [entry.name, entry.id, denied.filter((action) => action.deniedBy?.[0]?.policyAssignmentId === entry.id).length]).sort(),
    );
    expect(run.report.summary.failed).toBeGreaterThan(0);
  });

  it("never retries a denied write", () => {
    for (const action of actionsOf(run).filter((candidate) => candidate.deniedBy)) {
      const writes = h.requestsUnder(action.targetId).filter((entry) => entry.method === action.method && idKey(entry.path) === idKey(action.targetId));
      expect(writes.map((entry) => [entry.status, entry.code]), action.targetId).toEqual([[403, "RequestDisallowedByPolicy"]]);
    }
  });

  it("does not attempt what depends on a denied write, and says which policy stopped it", () => {
    const dependants = actionsOf(run).filter((action) => action.outcome === "skipped" && action.error?.code === "DependencyFailed");
    expect(dependants.length).toBeGreaterThan(0);
    const sent = new Set(run.sent.map((write) => idKey(write.targetId)));
    for (const action of dependants) {
      expect(sent.has(idKey(action.targetId)), action.targetId).toBe(false);
      if (action.action === "createWorkspace") expect(action.error?.message).toContain("a policy denied: 'Require costCenter on resource groups'");
    }
  });

  it("other subscriptions converge", () => {
    expect(machinesIn(run, data.subscriptionId).filter((machine) => machine.status === "remediated").length).toBeGreaterThan(0);
    expect(unconverged(run, data.subscriptionId)).toEqual([]);
  });
});

describe("the same policy, with CREATED_RESOURCE_TAGS", () => {
  it("converges, and every resource the sweep created carries the tags", async () => {
    h.load({ ...estate, resources: tagged(estate) }, ...requireCostCenter);
    const run = await h.run({}, { CREATED_RESOURCE_TAGS: JSON.stringify({ ...TAGS, costCenter: "security-ops" }) });
    expect(run.report.deniedByPolicy).toEqual({ writes: 0, policies: [] });
    expect(run.report.summary.failed).toBe(0);
    const created = new Set(actionsOf(run).filter((action) => /^create|^installSolution/.test(action.action) || (action.action === "installExtension" && action.reason.endsWith("is not installed"))).map((action) => idKey(action.targetId)));
    const stored = h.azure.list((resource) => created.has(idKey(resource.id)));
    expect(stored.length).toBe(created.size);
    for (const resource of stored) expect(resource.tags, resource.id).toMatchObject(TAGS);
    expect(unconverged(run, production.subscriptionId)).toEqual([]);
  });
});

describe("an allowed-locations policy", () => {
  it("is reported the same way: the denied groups and workspaces name the assignment", async () => {
    const allowed = assignment(production.id, "allowed-locations", "Only West Europe", "e56962a6-4747-49cd-b67b-bf8b01975c4c", { listOfAllowedLocations: ["westeurope"] });
    h.load(estate, allowed);
    const run = await h.run();
    const denied = actionsOf(run).filter((action) => action.deniedBy);
    expect(denied.length).toBeGreaterThan(0);
    for (const action of denied) {
      expect(action.deniedBy?.map((violation) => [violation.policyAssignmentDisplayName, violation.policyAssignmentId])).toEqual([["Only West Europe", allowed.id]]);
      expect(action.action).not.toBe("createResourceGroup"); // e56962a6 excludes resource groups
    }
    expect(run.report.deniedByPolicy).toMatchObject({ writes: denied.length, policies: [{ policyAssignmentId: allowed.id, policyAssignmentName: "allowed-locations", writes: denied.length }] });
  });
});
