/**
 * Apply refuses an item whose target moved since the plan (reported as StalePlan, never written), and
 * goes on with the rest: a user-assigned identity attached after the plan is not detached by the
 * identity PATCH, and a workspace someone created after the plan is not overwritten.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGateway } from "../../src/azure/gateway.js";
import { idKey } from "../../src/azure/ids.js";
import { applyPlan, STALE_PLAN } from "../../src/apply/applyPlan.js";
import { createLogger } from "../../src/log.js";
import { confirmationsFor } from "../../src/engine.js";
import type { Plan } from "../../src/plan/plan.js";
import { demoEstate, machineWith } from "../../local-azure/src/estate.js";
import { startEngineHarness, type EngineHarness } from "../support/engineHarness.js";

let h: EngineHarness;
const estate = demoEstate();

beforeAll(async () => {
  h = await startEngineHarness();
});
afterAll(() => h.close());

async function planNow(): Promise<Plan> {
  return (await h.run({ dryRun: true })).plan;
}

async function apply(plan: Plan) {
  const gateway = createGateway(h.settings());
  return applyPlan(plan, gateway.writer(() => undefined), { runId: "stale-test", logger: createLogger({ level: "silent" }), confirmations: confirmationsFor(gateway, h.settings()) });
}

describe("a plan applied after the world moved", () => {
  it("does not detach a user-assigned identity attached since the plan: the identity PATCH is refused as stale", async () => {
    h.load(estate);
    const machine = machineWith(estate, "user-identity-only");
    const plan = await planNow();
    const identityItem = plan.items.find((item) => item.action === "updateMachineIdentity" && idKey(item.targetId) === idKey(machine.id));
    expect(identityItem).toBeDefined();
    const stored = h.azure.get(machine.id)!;
    const added = `/subscriptions/${machine.subscriptionId}/resourceGroups/rg-identity/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-added-later`;
    h.azure.load([{ ...stored, identity: { ...stored.identity, userAssignedIdentities: { ...(stored.identity?.userAssignedIdentities ?? {}), [added]: { principalId: "p-later", clientId: "c-later" } } } }]);

    const results = await apply(plan);
    expect(results.get(identityItem!.key)).toMatchObject({ outcome: "skipped", error: { code: STALE_PLAN, message: expect.stringMatching(/identities changed since the plan/) } });
    expect(Object.keys(h.azure.get(machine.id)?.identity?.userAssignedIdentities ?? {})).toContain(added);
    // What did not move is applied.
    expect([...results.values()].filter((result) => result.outcome === "succeeded").length).toBeGreaterThan(0);
  });

  it("does not overwrite a shared resource someone created since the plan", async () => {
    h.load(estate);
    const plan = await planNow();
    const create = plan.items.find((item) => item.action === "createWorkspace");
    expect(create).toBeDefined();
    const theirs = { id: create!.targetId, name: create!.targetId.split("/").pop()!, type: "Microsoft.OperationalInsights/workspaces", location: "eastus", tags: { owner: "someone-else" }, properties: { provisioningState: "Succeeded", retentionInDays: 90, sku: { name: "PerGB2018" } } };
    h.azure.load([theirs]);

    const results = await apply(plan);
    expect(results.get(create!.key)).toMatchObject({ outcome: "skipped", error: { code: STALE_PLAN, message: expect.stringMatching(/created by someone else since the plan/) } });
    expect(h.azure.get(create!.targetId)).toMatchObject({ tags: { owner: "someone-else" }, properties: { retentionInDays: 90 } });
  });
});
