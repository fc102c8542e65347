/**
 * Runs: every trigger starts one the same way (a run record plus queued work items) and every work
 * item is processed the same way (reconcile, audit, settle). Work fans out through the queue so a
 * burst of events or a tenant-wide sweep never runs inline in a trigger.
 */
import { reconcile, machinesInScope, resolveSubscriptions, type ReconcileRequest } from "../engine.js";
import type { Report } from "../report/buildReport.js";
import type { ItemResult } from "../apply/applyPlan.js";
import type { PlanItem } from "../plan/plan.js";
import { bodyHash } from "../state/auditLog.js";
import type { Lease } from "../state/checkpoints.js";
import type { RunSummary, RunTrigger, SettledWorkItem } from "../state/runStore.js";
import { MAX_MACHINES_PER_WORK_ITEM, machineWorkItem, subscriptionWorkItem, type WorkItem } from "../state/workQueue.js";
import type { Service } from "./service.js";

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
    scope: { subscriptions: [...new Set(workItems.flatMap((item) => (item.kind === "subscription" ? [item.subscriptionId] : [])))], resourceIds: [...(request.resourceIds ?? [])] },
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
  return subscriptions.map((subscriptionId) => subscriptionWorkItem({ runId, subscriptionId, dryRun, mode: "full" }));
}

export type WorkItemOutcome = "done" | "busy";

/**
 * Processes one work item. Idempotent: a redelivered item re-reads Azure and finds nothing left to
 * write, and the run counts it once. A subscription already being swept or flushed returns "busy" and
 * the item is queued again for later (one writer per subscription at a time).
 */
export async function processWorkItem(service: Service, item: WorkItem): Promise<WorkItemOutcome> {
  const { state } = service;
  if (item.kind === "machine") {
    await reconcileWorkItem(service, item);
    return "done";
  }
  const lease = await acquireSubscription(service, item);
  if (!lease) {
    await state.workQueue.enqueue([item], { visibilityTimeoutInSeconds: BUSY_RETRY_SECONDS });
    service.logger.info({ runId: item.runId, resourceId: `/subscriptions/${item.subscriptionId}` }, "subscription busy: work item requeued");
    return "busy";
  }
  try {
    const startedAt = new Date();
    if (item.mode === "events") {
      await flushPendingMachines(service, item);
    } else {
      await reconcileWorkItem(service, item);
      // A dry run changed nothing: the next sweep must still look at what it looked at.
      if (!item.dryRun) await state.checkpoints.record(item.subscriptionId, { lastSweepAt: startedAt, ...(item.mode === "full" ? { lastFullReconcileAt: startedAt } : {}) });
    }
  } finally {
    await state.checkpoints.release(lease);
  }
  return "done";
}

export function subscriptionLeaseOwner(item: WorkItem & { kind: "subscription" }): string {
  return `${item.runId}:${item.workItemId}`;
}

/**
 * One writer per subscription: the lease's owner names this run's item, so a redelivery of it may
 * retake its own lease and another run may not. Short overlaps (two flushes, a flush beside a
 * sweep's end) are waited out here rather than costing a requeue.
 */
async function acquireSubscription(service: Service, item: WorkItem & { kind: "subscription" }): Promise<Lease | undefined> {
  const deadline = Date.now() + LEASE_WAIT_MS;
  for (;;) {
    const lease = await service.state.checkpoints.acquire(item.subscriptionId, SUBSCRIPTION_LEASE_MS, subscriptionLeaseOwner(item));
    if (lease || Date.now() >= deadline) return lease;
    await new Promise((resolve) => setTimeout(resolve, LEASE_POLL_MS));
  }
}

/** Machines reconciled per round of an events flush (a burst larger than this takes several rounds). */
const FLUSH_MACHINES = 500;
const FLUSH_ROUNDS = 20;

/** Reconciles every machine events named for the subscription, a round at a time, then removes them. */
async function flushPendingMachines(service: Service, item: WorkItem & { kind: "subscription" }): Promise<void> {
  const counts = { compliant: 0, remediated: 0, planned: 0, failed: 0, skipped: 0 };
  const entries: unknown[] = [];
  // Machines named while a round runs are taken by the next round; bounded so a storm cannot hold the lease forever.
  for (let round = 0; round < FLUSH_ROUNDS; round++) {
    const pending = await service.state.pending.list(item.subscriptionId, FLUSH_MACHINES);
    if (pending.length === 0) break;
    const report = await reconcileForWorkItem(service, item, { resourceIds: pending.map((machine) => machine.machineId) });
    for (const status of Object.keys(counts) as (keyof typeof counts)[]) counts[status] += report.summary[status];
    entries.push(...reportEntries(report));
    await service.state.pending.remove(item.subscriptionId, pending);
  }
  await settle(service, item, counts, entries);
}

async function reconcileWorkItem(service: Service, item: WorkItem): Promise<void> {
  const report = await reconcileForWorkItem(
    service,
    item,
    item.kind === "machine" ? { resourceIds: item.resourceIds } : { subscriptions: [item.subscriptionId], ...(item.since ? { createdSince: new Date(item.since) } : {}) },
  );
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
  service.logger.error({ runId: item.runId, resourceId: item.kind === "subscription" ? `/subscriptions/${item.subscriptionId}` : item.resourceIds[0], workItemId: item.workItemId, reason }, "work item poisoned");
  logIfFinished(service, settled);
}

/** The run store ends a run when its last work item settles; this only says so in the log. */
function logIfFinished(service: Service, settled: SettledWorkItem): void {
  const run = settled.run;
  if (!settled.recorded || !run.finishedAt) return;
  service.logger.info({ runId: run.runId, resourceId: "(scope)", status: run.status, counts: run.counts, error: run.error }, "run finished");
}
