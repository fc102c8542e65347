import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { useAzurite } from "./stateFixture.js";

const azurite = useAzurite();
const scope = { subscriptions: ["8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f"], resourceIds: [] };

describe("RunStore", () => {
  it("creates a queued run and reads it back", async () => {
    const { runs } = await azurite.store();
    const created = await runs.create({ trigger: "http", dryRun: true, scope, workItemIds: ["a", "b"] });
    expect(created).toMatchObject({ status: "queued", dryRun: true, trigger: "http", scope, workItems: { total: 2, done: 0, poisoned: 0 } });
    const record = await runs.get(created.runId);
    expect(record).toMatchObject({ runId: created.runId, poison: [], counts: { compliant: 0, remediated: 0, planned: 0, failed: 0, skipped: 0 } });
    expect(record?.report).toBeUndefined();
    expect(record?.createdAt).toBeInstanceOf(Date);
  });

  it("returns undefined for an unknown run and refuses a malformed id", async () => {
    const { runs } = await azurite.store();
    expect(await runs.get("no-such-run")).toBeUndefined();
    await expect(runs.get("../etc/passwd")).rejects.toBeInstanceOf(InputError);
    await expect(runs.create({ runId: "dup", trigger: "cli", dryRun: false, scope })).resolves.toBeDefined();
    await expect(runs.create({ runId: "dup", trigger: "cli", dryRun: false, scope })).rejects.toThrow(/already exists/);
  });

  it("counts 20 parallel finishers exactly and finishes the run once", async () => {
    const { runs } = await azurite.store();
    const ids = Array.from({ length: 20 }, (_, index) => `item-${index}`);
    const { runId } = await runs.create({ trigger: "timer", dryRun: false, scope, workItemIds: ids });
    const results = await Promise.all(
      ids.map((workItemId, index) =>
        index === 7
          ? runs.poisonWorkItem(runId, { workItemId, reason: "AuthorizationFailed on every attempt" })
          : runs.completeWorkItem(runId, {
              workItemId,
              counts: { compliant: 1, remediated: 2, failed: index % 2 },
              entries: [{ machine: `vm-${index}`, actions: ["installAgent"] }],
            }),
      ),
    );
    expect(results.every((result) => result.recorded)).toBe(true);
    expect(results.filter((result) => result.run.status === "failed")).toHaveLength(1); // exactly one finisher ends it
    const record = await runs.get<{ machine: string }>(runId);
    expect(record?.workItems).toEqual({ total: 20, done: 19, poisoned: 1 });
    expect(record?.counts).toEqual({ compliant: 19, remediated: 38, planned: 0, failed: 9, skipped: 0 });
    expect(record?.status).toBe("failed");
    expect(record?.finishedAt).toBeInstanceOf(Date);
    expect(record?.poison).toEqual([{ workItemId: "item-7", reason: "AuthorizationFailed on every attempt" }]);
    expect(record?.report?.map((entry) => entry.machine).sort()).toEqual(
      ids.filter((_, index) => index !== 7).map((id) => id.replace("item", "vm")).sort(),
    );
  });

  it("counts a redelivered work item once", async () => {
    const { runs } = await azurite.store();
    const { runId } = await runs.create({ trigger: "eventGrid", dryRun: false, scope, workItemIds: ["only"] });
    const first = await runs.completeWorkItem(runId, { workItemId: "only", counts: { remediated: 1 } });
    const again = await runs.completeWorkItem(runId, { workItemId: "only", counts: { remediated: 1 } });
    const poisonAfter = await runs.poisonWorkItem(runId, { workItemId: "only", reason: "late" });
    expect([first.recorded, again.recorded, poisonAfter.recorded]).toEqual([true, false, false]);
    expect(again.run).toMatchObject({ status: "succeeded", counts: { remediated: 1 }, workItems: { total: 1, done: 1, poisoned: 0 } });
  });

  it("keeps a run open while a fan-out registers children before settling itself", async () => {
    const { runs } = await azurite.store();
    const { runId } = await runs.create({ trigger: "timer", dryRun: false, scope, workItemIds: ["sub"] });
    await runs.registerWorkItems(runId, ["m1", "m2", "m1"]);
    expect((await runs.completeWorkItem(runId, { workItemId: "sub", counts: {} })).run.status).toBe("running");
    await runs.completeWorkItem(runId, { workItemId: "m1", counts: { compliant: 1 } });
    const last = await runs.completeWorkItem(runId, { workItemId: "m2", counts: { compliant: 1 } });
    expect(last.run).toMatchObject({ status: "succeeded", workItems: { total: 3, done: 3, poisoned: 0 } });
    expect(last.run.startedAt).toBeInstanceOf(Date);
  });

  it("round-trips a report far larger than one entity", async () => {
    const { runs } = await azurite.store();
    const { runId } = await runs.create({ trigger: "cli", dryRun: true, scope, workItemIds: ["big"] });
    const entries = Array.from({ length: 3_000 }, (_, index) => ({
      resourceId: `/subscriptions/${scope.subscriptions[0]}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-${index}`,
      actions: [{ action: "installAgent", reason: "AMA missing ✓ 😀".repeat(10), body: { index } }],
    }));
    expect(JSON.stringify(entries).length).toBeGreaterThan(1_000_000);
    await runs.completeWorkItem(runId, { workItemId: "big", counts: { planned: entries.length }, entries });
    const record = await runs.get(runId);
    expect(record?.report).toEqual(entries);
    expect(record?.counts.planned).toBe(3_000);
  });

  it("stores a scope of many resource ids", async () => {
    const { runs } = await azurite.store();
    const resourceIds = Array.from({ length: 500 }, (_, index) => `/subscriptions/${scope.subscriptions[0]}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-${index}`);
    const created = await runs.create({ trigger: "http", dryRun: false, scope: { subscriptions: [], resourceIds } });
    expect((await runs.summary(created.runId))?.scope.resourceIds).toEqual(resourceIds);
  });

  it("lists recent runs newest first", async () => {
    let epochMs = Date.parse("2030-01-01T00:00:00Z");
    const { runs } = await azurite.store({ now: () => new Date((epochMs += 1_000)) });
    const created = [];
    for (let index = 0; index < 5; index++) created.push(await runs.create({ runId: `recent-${index}`, trigger: "cli", dryRun: false, scope }));
    const recent = await runs.listRecent(3);
    expect(recent.map((run) => run.runId)).toEqual(["recent-4", "recent-3", "recent-2"]);
    await expect(runs.listRecent(0)).rejects.toBeInstanceOf(InputError);
  });

  it("marks running and finishes explicitly", async () => {
    const { runs } = await azurite.store();
    const { runId } = await runs.create({ trigger: "http", dryRun: false, scope });
    expect((await runs.markRunning(runId)).status).toBe("running");
    const finished = await runs.finish(runId, { status: "failed", error: "could not list subscriptions" });
    expect(finished).toMatchObject({ status: "failed", error: "could not list subscriptions" });
    await expect(runs.markRunning("missing-run")).rejects.toThrow(/not found/);
  });
});
