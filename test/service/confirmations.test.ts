/**
 * A long-running write nobody could confirm in time is never reported done: the run reports it
 * OperationUnconfirmed, the journal keeps it, and the next run in the subscription confirms it and
 * records its outcome under the run that made it.
 */
import { describe, expect, it } from "vitest";
import { loadSettings } from "../../src/config/settings.js";
import { createGateway } from "../../src/azure/gateway.js";
import { reconcile } from "../../src/engine.js";
import { createLogger } from "../../src/log.js";
import { OPERATION_UNCONFIRMED } from "../../src/apply/confirmations.js";
import type { PlanItem } from "../../src/plan/plan.js";
import type { ItemResult } from "../../src/apply/applyPlan.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { newVirtualMachine, useHarness } from "./harness.js";

const harness = useHarness();

describe("a long-running write not confirmed within ARM_OPERATION_TIMEOUT_MS", () => {
  it("is reported unconfirmed, not remediated; the journal keeps it and the next run confirms it under the first run", async () => {
    const { azure, env, estate, service } = harness();
    azure.reset();
    azure.load(estate.resources);
    const subscriptionId = estate.subscriptions[0]?.subscriptionId as string;
    const template = machineWith(estate, "no-identity", "windows");
    const settings = loadSettings({ ...env, ARM_OPERATION_TIMEOUT_MS: "400" });
    const settled: { item: PlanItem; result: ItemResult; runId: string }[] = [];
    const dependencies = {
      settings,
      gateway: createGateway(settings),
      logger: createLogger({ level: "silent" }),
      journal: service.state.operations,
      onResult: (item: PlanItem, result: ItemResult, runId: string) => void settled.push({ item, result, runId }),
    };
    await reconcile({ resourceIds: [template.id] }, dependencies);
    const created = newVirtualMachine(azure, template, "vm-slow-identity");

    // The identity PATCH runs for seconds; the run gives up on it after 400 ms.
    azure.setLro({ finishUnpolledAfterMs: 3_000 });
    const first = await reconcile({ resourceIds: [created] }, dependencies);
    const entry = first.report.resources.find((resource) => resource.id.toLowerCase() === created.toLowerCase());
    expect(entry?.status).not.toBe("remediated");
    expect(entry?.actions.find((action) => action.action === "updateMachineIdentity")).toMatchObject({ outcome: "skipped", error: { code: OPERATION_UNCONFIRMED } });
    const kept = await service.state.operations.pending([subscriptionId]);
    expect(kept.map((journal) => [journal.runId, journal.item.action])).toEqual([[first.runId, "updateMachineIdentity"]]);

    azure.setLro({ finishUnpolledAfterMs: 100 });
    settled.length = 0;
    const next = await reconcile({ resourceIds: [created] }, dependencies);

    expect(settled.filter(({ item }) => item.action === "updateMachineIdentity").map(({ result, runId }) => [runId, result.outcome])).toEqual([[first.runId, "succeeded"]]);
    expect(await service.state.operations.pending([subscriptionId])).toEqual([]);
    expect(next.report.subscriptions.flatMap((subscription) => subscription.notes).join("\n")).toMatch(/1 write\(s\) accepted by earlier run\(s\) .*: 1 confirmed done, 0 failed, 0 still unconfirmed/);
    expect(next.report.resources.find((resource) => resource.id.toLowerCase() === created.toLowerCase())?.status).toBe("remediated");
  }, 60_000);
});
