/**
 * The timer sweep end to end: startSweep (what the sweepTimer trigger calls) queues one work item per
 * subscription, full once per FULL_RECONCILE_HOURS and incremental otherwise (what Resource Graph's change
 * history shows changed since the last sweep); draining the queue through the host's queue handler
 * remediates what events missed; checkpoints and leases live in Azurite. Changes "someone else" makes go
 * through ARM (outOfBand), so the local Azure's change history records them.
 * The tests run in order and build on each other's checkpoints.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { InvocationContext } from "@azure/functions";
import { describe, expect, it } from "vitest";
import { sweepTimer } from "../../src/functions/sweepTimer.js";
import { CHANGES_OVERLAP_MS, startSweep } from "../../src/service/sweep.js";
import { processWorkItem, resolveRunScope, startRun } from "../../src/service/runs.js";
import { done, type Outcome } from "../../src/service/outcome.js";
import { BUSY_RETRY_MS, subscriptionsBusy, withSubscriptionLeases } from "../../src/service/leases.js";
import type { SubscriptionWorkItem, WorkItem } from "../../src/state/workQueue.js";
import type { RunRecord, RunSummary } from "../../src/state/runStore.js";
import type { ReportResource } from "../../src/report/buildReport.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { TABLES } from "../../src/state/stateStore.js";
import { connectionStringConnection, createTableClient } from "../../src/state/storageConnection.js";
import { newVirtualMachine, remediationOf, useHarness } from "./harness.js";
import { newVirtualMachineBody, outOfBand } from "../discover/outOfBand.js";

const harness = useHarness();
const HOUR_MS = 60 * 60 * 1000;

async function runOf(runId: string): Promise<RunRecord<ReportResource>> {
  const run = await harness().service.state.runs.get<ReportResource>(runId);
  if (!run) throw new Error(`no run ${runId}`);
  return run;
}

function subscriptionItems(items: readonly WorkItem[]): SubscriptionWorkItem[] {
  return items.map((item) => {
    if (item.kind !== "subscription") throw new Error(`expected subscription work items, got ${item.kind}`);
    return item;
  });
}

function writesTo(id: string): string[] {
  const prefix = id.toLowerCase();
  return harness()
    .writes()
    .map((write) => `${write.method} ${decodeURIComponent(write.path)}`)
    .filter((write) => write.toLowerCase().includes(prefix));
}

describe("timer sweeps", () => {
  let firstSweepAt: Date;

  it("the first sweep is a full reconcile that remediates machines no event announced, and records checkpoints", async () => {
    const { azure, estate, service } = harness();
    const subscriptions = estate.subscriptions.map((subscription) => subscription.subscriptionId);
    for (const subscriptionId of subscriptions) expect(await service.state.checkpoints.get(subscriptionId)).toBeUndefined();
    const missed = [machineWith(estate, "no-identity", "windows").id, machineWith(estate, "mma-only", "linux").id, newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), "vm-missed-event")];

    firstSweepAt = new Date();
    const run = await startSweep(service);

    expect(run).toMatchObject({ trigger: "timer", status: "queued", workItems: { total: 1, done: 0, poisoned: 0 } });
    const items = subscriptionItems(await harness().peekWorkItems());
    expect(items.flatMap((item) => item.subscriptionIds).sort()).toEqual([...subscriptions].sort());
    expect(items.every((item) => item.mode === "full" && item.since === undefined && item.runId === run.runId)).toBe(true);

    await harness().drain();

    const finished = await runOf(run.runId);
    expect(finished).toMatchObject({ status: "succeeded", workItems: { total: 1, done: 1, poisoned: 0 }, poison: [] });
    expect(finished.counts.failed).toBe(0);
    expect(finished.counts.remediated).toBeGreaterThan(0);
    for (const id of missed) {
      const state = remediationOf(azure, id);
      expect(state.identity, id).toMatch(/SystemAssigned/);
      expect(state.agents, id).toHaveLength(1);
      expect(state.associations, id).toHaveLength(1);
      expect(finished.report?.find((entry) => entry.id?.toLowerCase() === id.toLowerCase())?.status, id).toBe("remediated");
    }
    for (const subscriptionId of subscriptions) {
      const checkpoint = await service.state.checkpoints.get(subscriptionId);
      expect(checkpoint?.lastFullReconcileAt?.getTime(), subscriptionId).toBeGreaterThanOrEqual(firstSweepAt.getTime() - 1000);
      expect(checkpoint?.lastSweepAt?.getTime(), subscriptionId).toBe(checkpoint?.lastFullReconcileAt?.getTime());
    }
  });

  it("a later sweep within FULL_RECONCILE_HOURS is incremental: it reconciles what changed since the last sweep (and a restarted host sees the same checkpoints)", async () => {
    const { azure, estate } = harness();
    const template = machineWith(estate, "no-identity", "windows");
    const created = await outOfBand(azure).put(newVirtualMachineBody(azure, template.id, "vm-new-unannounced"));
    const service = await harness().freshService();
    const before = await service.state.checkpoints.get(template.subscriptionId);

    const run = await startSweep(service, new Date(Date.now() + 23 * HOUR_MS));

    const items = subscriptionItems(await harness().peekWorkItems());
    expect(items).toHaveLength(1); // one Resource Graph batch: up to 200 subscriptions per work item
    for (const item of items) {
      expect(item.mode).toBe("incremental");
      // Since the last sweep, with an overlap for the change history's lag.
      expect(Date.parse(item.since as string)).toBe((before?.lastSweepAt as Date).getTime() - CHANGES_OVERLAP_MS);
    }
    await harness().drain(service);

    expect((await runOf(run.runId)).status).toBe("succeeded");
    expect(remediationOf(azure, created).agents).toEqual(["AzureMonitorWindowsAgent"]);
    const after = await service.state.checkpoints.get(template.subscriptionId);
    expect(after?.lastFullReconcileAt).toEqual(before?.lastFullReconcileAt);
    expect(after?.lastSweepAt?.getTime()).toBeGreaterThan((before?.lastSweepAt as Date).getTime());
  });

  it("once FULL_RECONCILE_HOURS have passed, the sweep is full again and reaches a machine whose drift no change history shows", async () => {
    const { azure, estate, service } = harness();
    const template = machineWith(estate, "no-identity", "windows");
    // Loaded without ARM: as if it drifted before the change history began (or its change was never recorded).
    const oldMachine = newVirtualMachine(azure, template, "vm-old-unannounced", new Date("2024-03-01T10:00:00Z"));
    const before = await service.state.checkpoints.get(template.subscriptionId);

    const run = await startSweep(service, new Date(Date.now() + 25 * HOUR_MS));

    expect(subscriptionItems(await harness().peekWorkItems()).map((item) => item.mode)).toEqual(["full"]);
    await harness().drain();
    expect((await runOf(run.runId)).status).toBe("succeeded");
    const state = remediationOf(azure, oldMachine);
    expect(state.identity).toMatch(/SystemAssigned/);
    expect(state.agents).toEqual(["AzureMonitorWindowsAgent"]);
    const after = await service.state.checkpoints.get(template.subscriptionId);
    expect(after?.lastFullReconcileAt?.getTime()).toBeGreaterThan((before?.lastFullReconcileAt as Date).getTime());
  });

  it("a converged estate: another full sweep writes nothing", async () => {
    const { azure, service } = harness();
    azure.resetRequests();
    const run = await startSweep(service, new Date(Date.now() + 49 * HOUR_MS));
    await harness().drain();
    expect(harness().writes()).toEqual([]);
    expect((await runOf(run.runId)).counts).toMatchObject({ remediated: 0, planned: 0, failed: 0 });
  });
});

describe("incremental sweeps cost what changed", () => {
  /** Every subscription's last sweep as if it ended now: earlier history (the sweeps above) is behind the next `since`. */
  async function historyBehindUs(): Promise<void> {
    const { estate, service } = harness();
    const lastSweepAt = new Date(Date.now() + CHANGES_OVERLAP_MS);
    for (const { subscriptionId } of estate.subscriptions) await service.state.checkpoints.record(subscriptionId, { lastSweepAt });
  }

  it("one whose change query fails moves no checkpoint, so the next sweep looks again from the same time", async () => {
    const { azure, estate, service } = harness();
    const subscriptionId = estate.subscriptions[0]?.subscriptionId as string;
    const before = await service.state.checkpoints.get(subscriptionId);
    azure.setFaults({ forbidden: [{ scope: "/", actions: ["Microsoft.ResourceGraph/resources/read"] }] });
    try {
      const run = await startSweep(service);
      await harness().drain();
      expect((await runOf(run.runId)).status).not.toBe("succeeded");
    } finally {
      azure.setFaults({});
      await harness().clearQueues();
    }
    expect(await service.state.checkpoints.get(subscriptionId)).toEqual(before);
  });

  it("reads and fixes only the machine that changed; a drifted machine with no change stays unread until the full reconcile", async () => {
    const { azure, estate, service } = harness();
    await historyBehindUs();
    const changed = machineWith(estate, "converged").id;
    const silent = newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), "vm-drifted-silently");
    await outOfBand(azure).delete(`${changed}/extensions/AzureMonitorWindowsAgent`);
    const before = await service.state.checkpoints.get(machineWith(estate, "converged").subscriptionId);
    azure.resetRequests();

    const run = await startSweep(service);
    expect(subscriptionItems(await harness().peekWorkItems()).map((item) => item.mode)).toEqual(["incremental"]);
    await harness().drain();

    expect((await runOf(run.runId)).status).toBe("succeeded");
    expect(remediationOf(azure, changed).agents).toEqual(["AzureMonitorWindowsAgent"]);
    expect(writesTo(silent)).toEqual([]);
    expect(azure.requests.filter((entry) => entry.path.toLowerCase().startsWith(silent.toLowerCase()))).toEqual([]);
    // At most 4 to find and read the change, and a few rounds confirming the agent install (one query each, for every write waiting).
    expect(azure.requests.filter((entry) => entry.kind === "query").length).toBeLessThanOrEqual(8);
    expect((await service.state.checkpoints.get(machineWith(estate, "converged").subscriptionId))?.lastFullReconcileAt).toEqual(before?.lastFullReconcileAt);
  });
});

describe("checkpoints mean 'reconciled up to here'", () => {
  it("a dry run does not move the subscription checkpoints", async () => {
    const { estate, service } = harness();
    const subscriptionId = estate.subscriptions[0]?.subscriptionId as string;
    const before = await service.state.checkpoints.get(subscriptionId);
    const run = await startRun(service, { trigger: "http", dryRun: true }, await resolveRunScope(service, { subscriptions: [subscriptionId] }));
    await harness().drain();
    expect((await runOf(run.runId)).status).toBe("succeeded");
    expect(await service.state.checkpoints.get(subscriptionId)).toEqual(before);
  });
});

describe("the registered sweepTimer handler", () => {
  it("purges expired Event Grid and flush claims from the dedupe table, and keeps live ones", async () => {
    const { azurite, env, service } = harness();
    Object.assign(process.env, env);
    await service.state.dedupe.claim("timer-purge-expired", 1);
    await service.state.flushes.claim("timer-purge-flush", 1);
    await service.state.dedupe.claim("timer-purge-live", 3_600_000);
    await sleep(20);
    const now = new Date().toISOString();
    await sweepTimer({ isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: now, next: now, lastUpdated: now } }, new InvocationContext({ functionName: "sweepTimer" }));
    const table = createTableClient(connectionStringConnection(azurite.connectionString), TABLES.dedupe);
    const keys = [];
    for await (const entity of table.listEntities<{ key: string }>()) keys.push(entity.key);
    expect(keys.filter((key) => key.startsWith("timer-purge"))).toEqual(["timer-purge-live"]);
    await harness().drain();
  });

  it("queues a sweep of the configured scope with the service built from the app settings", async () => {
    const { env, service } = harness();
    Object.assign(process.env, env);
    const before = new Set((await service.state.runs.listRecent(100)).map((run) => run.runId));
    const now = new Date().toISOString();
    await sweepTimer({ isPastDue: true, schedule: { adjustForDST: false }, scheduleStatus: { last: now, next: now, lastUpdated: now } }, new InvocationContext({ functionName: "sweepTimer" }));
    const queued = (await service.state.runs.listRecent(100)).filter((run) => !before.has(run.runId));
    expect(queued).toEqual([expect.objectContaining({ trigger: "timer", workItems: { total: 1, done: 0, poisoned: 0 } })]);
    await harness().drain();
    expect((await runOf(queued[0]?.runId as string)).status).toBe("succeeded");
  });
});

describe("one sweep per subscription at a time", () => {
  /** Takes every visible work item off the queue (deleting the messages: the test plays the host). */
  async function takeAll(): Promise<WorkItem[]> {
    const queue = harness().service.state.workQueue;
    const messages = await queue.receive({ max: 32, visibilityTimeoutInSeconds: 30 });
    await Promise.all(messages.map((message) => queue.delete(message)));
    return messages.map((message) => {
      if (!message.decoded.ok) throw new Error(message.decoded.reason);
      return message.decoded.item;
    });
  }

  /**
   * Starts two runs, then plays two queue workers taking the same subscription's items at the same time
   * (other subscriptions' items are processed one after the other first).
   */
  async function overlap(subscriptionId: string, start: () => Promise<RunSummary>): Promise<void> {
    const { azure, estate, service } = harness();
    const template = machineWith(estate, "no-identity", "windows");
    expect(template.subscriptionId).toBe(subscriptionId);
    const fresh = [1, 2, 3].map((n) => newVirtualMachine(azure, template, `vm-overlap-${Date.now()}-${n}`));
    const [first, second] = [await start(), await start()];
    const items = await takeAll();
    const racing = items.filter((item) => item.kind === "subscription" && item.subscriptionIds.includes(subscriptionId));
    expect(racing).toHaveLength(2);
    for (const item of items.filter((candidate) => !racing.includes(candidate))) expect(await processWorkItem(service, item)).toEqual(done);
    azure.resetRequests();

    // The second worker waits for the first to release the subscription, then finds nothing left to write.
    const outcomes = await Promise.all(racing.map((item) => processWorkItem(service, item)));
    expect(outcomes).toEqual<Outcome[]>([done, done]);
    await harness().clearQueues();

    for (const run of [first, second]) expect((await runOf(run.runId)).status).toBe("succeeded");
    const writes = harness().writes().map((write) => `${write.method} ${write.path}`);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes).toEqual([...new Set(writes)]); // nothing written twice
    for (const id of fresh) expect(remediationOf(azure, id).agents).toEqual(["AzureMonitorWindowsAgent"]);
  }

  it("two HTTP runs over the same subscription: the second work item waits for the first and both finish without double writes", async () => {
    const { estate, service } = harness();
    const subscriptionId = machineWith(estate, "no-identity", "windows").subscriptionId;
    await overlap(subscriptionId, async () => startRun(service, { trigger: "http" }, await resolveRunScope(service, { subscriptions: [subscriptionId] })));
  });

  it("two overlapping timer sweeps: the second waits for the first and both finish without double writes", async () => {
    const { estate, service } = harness();
    const subscriptionId = machineWith(estate, "no-identity", "windows").subscriptionId;
    await overlap(subscriptionId, () => startSweep(service, new Date(Date.now() + 100 * HOUR_MS)));
  });
});

describe("subscription leases (one helper for every kind of work item)", () => {
  it("a subscription leased by other work: the work does not run and the outcome is retryAfter, not a failure", async () => {
    const { estate, service } = harness();
    const subscriptionId = estate.subscriptions[0]?.subscriptionId as string;
    const other = await service.state.checkpoints.acquire(subscriptionId, 60_000, "someone-else");
    expect(other).toBeDefined();
    let ran = false;
    try {
      const outcome = await withSubscriptionLeases(service, [subscriptionId], "this-work", async () => ((ran = true), done), { waitInMs: 0 });
      expect(outcome).toEqual(subscriptionsBusy([subscriptionId]));
      expect(outcome).toMatchObject({ kind: "retryAfter", retryAfterInMs: BUSY_RETRY_MS, failed: false });
      expect(ran).toBe(false);
    } finally {
      if (other) await service.state.checkpoints.release(other);
    }
  });

  it("some subscriptions busy: the work runs with the held ones, is told the busy ones, and every lease it took is released", async () => {
    const { estate, service } = harness();
    const [free, taken] = estate.subscriptions.map((subscription) => subscription.subscriptionId) as [string, string];
    const other = await service.state.checkpoints.acquire(taken, 60_000, "someone-else");
    try {
      let seen: { held: readonly string[]; busy: readonly string[] } | undefined;
      const outcome = await withSubscriptionLeases(service, [free, taken], "this-work", async (held, busy) => ((seen = { held, busy }), done), { waitInMs: 0 });
      expect(outcome).toEqual(done);
      expect(seen).toEqual({ held: [free], busy: [taken] });
      const probe = await service.state.checkpoints.acquire(free, 1000, "a-third");
      expect(probe).toBeDefined();
      if (probe) await service.state.checkpoints.release(probe);
    } finally {
      if (other) await service.state.checkpoints.release(other);
    }
  });
});
