/**
 * Runs: every trigger starts one the same way (a run record plus queued work items) and every work
 * item is processed the same way (reconcile, audit, settle). Work fans out through the queue so a
 * burst of events or a tenant-wide sweep never runs inline in a trigger.
 */
import { reconcile, machinesInScope, resolveSubscriptions, type ReconcileRequest } from "../engine.js";
import { parseResourceId } from "../azure/ids.js";
import { mergeReports, type Report } from "../report/buildReport.js";
import type { ItemResult } from "../apply/applyPlan.js";
import type { PlanItem } from "../plan/plan.js";
import { bodyHash } from "../state/auditLog.js";
import type { Lease } from "../state/checkpoints.js";
import { mapBounded } from "../concurrency.js";
import type { RunSummary, RunTrigger, SettledWorkItem } from "../state/runStore.js";
import { MAX_MACHINES_PER_WORK_ITEM, machineWorkItem, subscriptionWorkItem, subscriptionWorkItems, type MachineWorkItem, type SubscriptionWorkItem, type WorkItem } from "../state/workQueue.js";
import type { Service } from "./service.js";
import { setTimeout as sleep } from "node:timers/promises";

export interface RunRequest {
  readonly trigger: RunTrigger;
  readonly dryRun?: boolean;
  readonly subscriptions?: readonly string[];
  readonly resourceIds?: readonly string[];
}

/** Subscriptions a sweep is running on are leased for this long (renewed by finishing). */
const SUBSCRIPTION_LEASE_MS = 30 * 60 * 1000;
/** A work item waits this long for its subscription's lease in-process before it is requeued. */
const LEASE_WAIT_MS = 30_000;
const LEASE_POLL_MS = 250;
/** A work item whose subscription stayed busy comes back after this long. */
const BUSY_RETRY_SECONDS = 60;

/** Validates the scope (ScopeError when outside it), records the run and queues its work items. */
export async function startRun(
  service: Service,
  request: RunRequest,
  items?: (runId: string, dryRun: boolean) => Promise<WorkItem[]>,
  enqueue: { readonly visibilityTimeoutInSeconds?: number } = {},
): Promise<RunSummary> {
  const dryRun = request.dryRun ?? service.settings.dryRun;
  const runId = crypto.randomUUID();
  const workItems = items ? await items(runId, dryRun) : await defaultWorkItems(service, request, runId, dryRun);
  const run = await service.state.runs.create({
    runId,
    trigger: request.trigger,
    dryRun,
    scope: { subscriptions: [...new Set(workItems.flatMap((item) => (item.kind === "subscription" ? item.subscriptionIds : [])))], resourceIds: [...(request.resourceIds ?? [])] },
    workItemIds: workItems.map((item) => item.workItemId),
  });
  if (workItems.length === 0) return service.state.runs.finish(runId, { status: "succeeded" });
  await service.state.workQueue.enqueue(workItems, enqueue);
  service.logger.info({ runId, resourceId: "(scope)", trigger: request.trigger, workItems: workItems.length, dryRun }, "run queued");
  return run;
}

async function defaultWorkItems(service: Service, request: RunRequest, runId: string, dryRun: boolean): Promise<WorkItem[]> {
  if (request.resourceIds && request.resourceIds.length > 0) {
    const machineIds = machinesInScope(request.resourceIds, service.settings);
    const chunks: WorkItem[] = [];
    for (let start = 0; start < machineIds.length; start += MAX_MACHINES_PER_WORK_ITEM) {
      chunks.push(machineWorkItem({ runId, dryRun, resourceIds: machineIds.slice(start, start + MAX_MACHINES_PER_WORK_ITEM) }));
    }
    return chunks;
  }
  const subscriptions = await resolveSubscriptions(request.subscriptions, service.settings, service.gateway);
  return subscriptionWorkItems({ runId, subscriptionIds: subscriptions, dryRun, mode: "full" });
}

export type WorkItemOutcome = "done" | "busy";

/**
 * Processes one work item. Idempotent: a redelivered item re-reads Azure and finds nothing left to
 * write, and the run counts it once. One writer per subscription: subscriptions still busy after a
 * short wait go on as a work item of their own, queued for later; the others are swept together.
 */
export async function processWorkItem(service: Service, item: WorkItem): Promise<WorkItemOutcome> {
  const { state } = service;
  if (item.kind === "machine") return processMachineWorkItem(service, item);
  const leases = await acquireSubscriptions(service, item.subscriptionIds, subscriptionLeaseOwner(item));
  try {
    const held = item.subscriptionIds.filter((id) => leases.has(id));
    const busy = item.subscriptionIds.filter((id) => !leases.has(id));
    if (held.length === 0) {
      await state.workQueue.enqueue([item], { visibilityTimeoutInSeconds: BUSY_RETRY_SECONDS });
      service.logger.info({ runId: item.runId, resourceId: `/subscriptions/${busy[0]}`, busy: busy.length }, "subscriptions busy: work item requeued");
      return "busy";
    }
    if (busy.length > 0) await deferSubscriptions(service, item, busy);
    const startedAt = new Date();
    if (item.mode === "events") {
      await flushPendingMachines(service, item, held[0] as string);
    } else {
      await reconcileWorkItem(service, item, { subscriptions: held, ...(item.since ? { createdSince: new Date(item.since) } : {}) });
      // A dry run changed nothing: the next sweep must still look at what it looked at.
      if (!item.dryRun) {
        await Promise.all(held.map((id) => state.checkpoints.record(id, { lastSweepAt: startedAt, ...(item.mode === "full" ? { lastFullReconcileAt: startedAt } : {}) })));
      }
    }
  } finally {
    await Promise.all([...leases.values()].map((lease) => state.checkpoints.release(lease)));
  }
  return "done";
}

/** Named machines are written under their subscriptions' leases too, so no sweep or flush writes them at the same time. */
async function processMachineWorkItem(service: Service, item: MachineWorkItem): Promise<WorkItemOutcome> {
  const subscriptionIds = [...new Set(item.resourceIds.map((id) => parseResourceId(id).subscriptionId))];
  const leases = await acquireSubscriptions(service, subscriptionIds, subscriptionLeaseOwner(item));
  try {
    if (leases.size < subscriptionIds.length) {
      await service.state.workQueue.enqueue([item], { visibilityTimeoutInSeconds: BUSY_RETRY_SECONDS });
      service.logger.info({ runId: item.runId, resourceId: item.resourceIds[0] }, "machines' subscription busy: work item requeued");
      return "busy";
    }
    await reconcileWorkItem(service, item, { resourceIds: item.resourceIds });
    return "done";
  } finally {
    await Promise.all([...leases.values()].map((lease) => service.state.checkpoints.release(lease)));
  }
}

export function subscriptionLeaseOwner(item: WorkItem): string {
  return `${item.runId}:${item.workItemId}`;
}

/**
 * Leases for the item's subscriptions. The owner names this run's item, so a redelivery of it may
 * retake its own leases and another run may not. Short overlaps (two flushes, a flush beside a
 * sweep's end) are waited out here rather than costing a requeue.
 */
async function acquireSubscriptions(service: Service, subscriptionIds: readonly string[], owner: string): Promise<Map<string, Lease>> {
  const leases = new Map<string, Lease>();
  const deadline = Date.now() + LEASE_WAIT_MS;
  for (;;) {
    const wanted = subscriptionIds.filter((id) => !leases.has(id));
    const taken = await mapBounded(wanted, 16, (id) => service.state.checkpoints.acquire(id, SUBSCRIPTION_LEASE_MS, owner));
    taken.forEach((lease, index) => lease && leases.set(wanted[index] as string, lease));
    if (leases.size === subscriptionIds.length || Date.now() >= deadline) return leases;
    await sleep(LEASE_POLL_MS);
  }
}

/** Busy subscriptions become a work item of the same run, registered before it is queued (so the run waits for it). */
async function deferSubscriptions(service: Service, item: SubscriptionWorkItem, busy: readonly string[]): Promise<void> {
  const rest = subscriptionWorkItem({ runId: item.runId, dryRun: item.dryRun, mode: item.mode, ...(item.since ? { since: item.since } : {}), subscriptionIds: busy });
  await service.state.runs.registerWorkItems(item.runId, [rest.workItemId]);
  await service.state.workQueue.enqueue([rest], { visibilityTimeoutInSeconds: BUSY_RETRY_SECONDS });
  service.logger.info({ runId: item.runId, resourceId: `/subscriptions/${busy[0]}`, busy: busy.length }, "busy subscriptions deferred to a work item of their own");
}

/** Machines reconciled per round of an events flush (a burst larger than this takes several rounds). */
const FLUSH_MACHINES = 500;
const FLUSH_ROUNDS = 20;

/** Reconciles every machine events named for the subscription, a round at a time, then removes them. */
async function flushPendingMachines(service: Service, item: SubscriptionWorkItem, subscriptionId: string): Promise<void> {
  const startedAt = new Date();
  const reports: Report[] = [];
  // Machines named while a round runs are taken by the next round; bounded so a storm cannot hold the lease forever.
  for (let round = 0; round < FLUSH_ROUNDS; round++) {
    const pending = await service.state.pending.list(subscriptionId, FLUSH_MACHINES);
    if (pending.length === 0) break;
    reports.push(await reconcileForWorkItem(service, item, { resourceIds: pending.map((machine) => machine.machineId) }));
    await service.state.pending.remove(subscriptionId, pending);
  }
  const flushed = mergeReports(reports, item.runId, item.dryRun, startedAt);
  await settle(service, item, flushed.summary, reportEntries(flushed));
}

async function reconcileWorkItem(service: Service, item: WorkItem, scope: Pick<ReconcileRequest, "resourceIds" | "subscriptions" | "createdSince">): Promise<void> {
  const report = await reconcileForWorkItem(service, item, scope);
  await settle(service, item, report.summary, reportEntries(report));
}

async function reconcileForWorkItem(service: Service, item: WorkItem, scope: Pick<ReconcileRequest, "resourceIds" | "subscriptions" | "createdSince">): Promise<Report> {
  const { state } = service;
  const run = await state.runs.markRunning(item.runId);
  const audit = (planItem: PlanItem, result: ItemResult, runId: string) =>
    result.outcome === "skipped"
      ? undefined
      : state.audit
          .record({
            runId,
            actor: { trigger: run.trigger },
            action: planItem.action,
            targetId: planItem.targetId,
            ...(planItem.body ? { bodySha256: bodyHash(planItem.body) } : {}),
            result: result.outcome,
            ...(result.error ? { error: { ...result.error, ...(result.httpStatus ? { statusCode: result.httpStatus } : {}) } } : {}),
            ...(result.correlationId ? { correlationId: result.correlationId } : {}),
          })
          .then(() => undefined);
  const { report } = await reconcile({ runId: item.runId, dryRun: item.dryRun, ...scope }, { settings: service.settings, gateway: service.gateway, logger: service.logger, onResult: audit });
  return report;
}

/** The run's report keeps every machine with its actions, and each subscription's findings. */
function reportEntries(report: Report): unknown[] {
  return [...report.resources, ...report.subscriptions.map((subscription) => ({ ...subscription, kind: "subscription" }))];
}

async function settle(service: Service, item: WorkItem, counts: Report["summary"], entries: readonly unknown[]): Promise<void> {
  logIfFinished(service, await service.state.runs.completeWorkItem(item.runId, { workItemId: item.workItemId, counts, entries }));
}

/** Gives up on a work item (malformed, or failed on every attempt): it shows in the run's status. */
export async function poisonWorkItem(service: Service, item: WorkItem, reason: string): Promise<void> {
  const settled = await service.state.runs.poisonWorkItem(item.runId, { workItemId: item.workItemId, reason });
  service.logger.error({ runId: item.runId, resourceId: item.kind === "subscription" ? `/subscriptions/${item.subscriptionIds[0]}` : item.resourceIds[0], workItemId: item.workItemId, reason }, "work item poisoned");
  logIfFinished(service, settled);
}

/** The run store ends a run when its last work item settles; this only says so in the log. */
function logIfFinished(service: Service, settled: SettledWorkItem): void {
  const run = settled.run;
  if (!settled.recorded || !run.finishedAt) return;
  service.logger.info({ runId: run.runId, resourceId: "(scope)", status: run.status, counts: run.counts, error: run.error }, "run finished");
}
