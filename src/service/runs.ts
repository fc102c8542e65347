/**
 * Runs: every trigger starts one the same way (a run record plus queued work items, from a scope the
 * trigger has already resolved) and every work item is processed the same way (reconcile under the
 * subscriptions' leases, audit, settle), ending in an Outcome the queue trigger maps onto the queue.
 * Work fans out through the queue so a burst of events or a tenant-wide sweep never runs inline in a trigger.
 */
import { reconcile, machinesInScope, resolveSubscriptions, type OperationJournal, type ReconcileOutcome, type ReconcileRequest } from "../engine.js";
import { idKey, parseResourceId } from "../azure/ids.js";
import { heldBackByReinstallLimit, heldBackReport, plannedReinstalls } from "../events/reinstallLimit.js";
import { EMPTY_SUMMARY, mergeReports, type Report } from "../report/buildReport.js";
import type { DriftSeen } from "../report/timing.js";
import type { PendingEntry } from "../state/pendingMachines.js";
import type { ItemResult } from "../apply/applyPlan.js";
import type { Plan, PlanItem } from "../plan/plan.js";
import { bodyHash } from "../state/auditLog.js";
import { storedPlanPart, type StoredPlanPart } from "../plan/savedPlan.js";
import { requireStoredPlan } from "./savedPlans.js";
import { recordReport } from "../telemetry/instruments.js";
import type { RunSummary, RunTrigger, SettledWorkItem } from "../state/runStore.js";
import { machineWorkItem, subscriptionWorkItem, subscriptionWorkItems, type MachineWorkItem, type SubscriptionWorkItem, type WorkItem } from "../state/workQueue.js";
import { BUSY_RETRY_MS, subscriptionsBusy, withSubscriptionLeases } from "./leases.js";
import { done, outcomeOfError, type Outcome } from "./outcome.js";
import type { Service } from "./service.js";
import { MAX_MACHINES_PER_WORK_ITEM } from "../schemas.js";
import { describeError } from "../errors.js";

/** One sweep of some subscriptions: every machine (`full`) or what changed at or after `since` (`incremental`). */
export interface SweepGroup {
  readonly mode: "full" | "incremental";
  /** ISO 8601; only with `incremental`. */
  readonly since?: string;
  readonly subscriptionIds: readonly string[];
}

/** What a run covers, already checked against the configured scope (ScopeError otherwise) by whoever resolved it. */
export type ResolvedScope =
  | { readonly kind: "machines"; readonly requested: readonly string[]; readonly machineIds: readonly string[] }
  | { readonly kind: "sweeps"; readonly sweeps: readonly SweepGroup[] }
  /** A dry run's stored plan, applied to the subscriptions it covered. */
  | { readonly kind: "savedPlan"; readonly planId: string; readonly subscriptionIds: readonly string[] }
  /** One flush of pending events per subscription (several when an event concerns every subscription). */
  | { readonly kind: "events"; readonly subscriptionIds: readonly string[] };

export interface RunStart {
  readonly trigger: RunTrigger;
  /** Defaults to the DRY_RUN setting. */
  readonly dryRun?: boolean;
}

/** A manual run's scope (HTTP): the named machines, else the named subscriptions, else the configured scope. */
export async function resolveRunScope(service: Service, requested: { readonly subscriptions?: readonly string[]; readonly resourceIds?: readonly string[] }): Promise<ResolvedScope> {
  if (requested.resourceIds && requested.resourceIds.length > 0) {
    return { kind: "machines", requested: requested.resourceIds, machineIds: machinesInScope(requested.resourceIds, service.settings) };
  }
  const subscriptionIds = await resolveSubscriptions(requested.subscriptions, service.settings, service.gateway);
  return { kind: "sweeps", sweeps: [{ mode: "full", subscriptionIds }] };
}

/** Records the run and queues its work items. */
export async function startRun(service: Service, start: RunStart, scope: ResolvedScope, enqueue: { readonly visibilityTimeoutInSeconds?: number } = {}): Promise<RunSummary> {
  const dryRun = start.dryRun ?? service.settings.dryRun;
  const runId = crypto.randomUUID();
  const workItems = workItemsFor(scope, runId, dryRun);
  const run = await service.state.runs.create({
    runId,
    trigger: start.trigger,
    dryRun,
    scope: { subscriptions: [...new Set(workItems.flatMap((item) => (item.kind === "subscription" ? item.subscriptionIds : [])))], resourceIds: scope.kind === "machines" ? [...scope.requested] : [] },
    workItemIds: workItems.map((item) => item.workItemId),
  });
  if (workItems.length === 0) return service.state.runs.finish(runId, { status: "succeeded" });
  await service.state.workQueue.enqueue(workItems, enqueue);
  service.logger.info({ runId, resourceId: "(scope)", trigger: start.trigger, workItems: workItems.length, dryRun }, "run queued");
  return run;
}

function workItemsFor(scope: ResolvedScope, runId: string, dryRun: boolean): WorkItem[] {
  switch (scope.kind) {
    case "machines": {
      const chunks: WorkItem[] = [];
      for (let start = 0; start < scope.machineIds.length; start += MAX_MACHINES_PER_WORK_ITEM) {
        chunks.push(machineWorkItem({ runId, dryRun, resourceIds: scope.machineIds.slice(start, start + MAX_MACHINES_PER_WORK_ITEM) }));
      }
      return chunks;
    }
    case "sweeps":
      return scope.sweeps.flatMap((sweep) => subscriptionWorkItems({ runId, dryRun, ...sweep }));
    case "savedPlan":
      return subscriptionWorkItems({ runId, dryRun: false, mode: "full", planId: scope.planId, subscriptionIds: scope.subscriptionIds });
    case "events":
      return scope.subscriptionIds.map((subscriptionId) => subscriptionWorkItem({ runId, dryRun, mode: "events", subscriptionIds: [subscriptionId] }));
  }
}

/**
 * Processes one work item and says what should happen next; never throws. Idempotent: a redelivered
 * item re-reads Azure and finds nothing left to write, and the run counts it once. One writer per
 * subscription: a subscription item sweeps the subscriptions it could lease and defers the busy ones to
 * a work item of their own; a machine item needs every one of its machines' subscriptions.
 */
export async function processWorkItem(service: Service, item: WorkItem): Promise<Outcome> {
  try {
    if (item.kind === "machine") {
      const subscriptionIds = [...new Set(item.resourceIds.map((id) => parseResourceId(id).subscriptionId))];
      return await withSubscriptionLeases(service, subscriptionIds, subscriptionLeaseOwner(item), (_held, busy) =>
        busy.length > 0 ? Promise.resolve(subscriptionsBusy(busy)) : reconcileMachines(service, item),
      );
    }
    return await withSubscriptionLeases(service, item.subscriptionIds, subscriptionLeaseOwner(item), async (held, busy) => {
      if (busy.length > 0) await deferSubscriptions(service, item, busy);
      return reconcileSubscriptions(service, item, held);
    });
  } catch (error) {
    return outcomeOfError(error);
  }
}

export function subscriptionLeaseOwner(item: WorkItem): string {
  return `${item.runId}:${item.workItemId}`;
}

async function reconcileMachines(service: Service, item: MachineWorkItem): Promise<Outcome> {
  await reconcileWorkItem(service, item, { resourceIds: item.resourceIds });
  return done;
}

async function reconcileSubscriptions(service: Service, item: SubscriptionWorkItem, held: readonly string[]): Promise<Outcome> {
  const startedAt = new Date();
  if (item.mode === "events") {
    await flushPendingMachines(service, item, held[0] as string);
    return done;
  }
  if (item.planId) {
    // A reviewed plan's writes, not a sweep: the checkpoints stay where the last sweep left them.
    await reconcileWorkItem(service, item, { subscriptions: held, savedPlan: await requireStoredPlan(service, item.planId) });
    return done;
  }
  // `new-since` is what an earlier release queued incremental sweeps as: a message of it may still be on the queue.
  await reconcileWorkItem(service, item, { subscriptions: held, ...(item.since ? { changedSince: new Date(item.since) } : {}) });
  // Only a sweep that succeeded moves the checkpoints (one that threw is retried from the same `since`), and
  // a dry run changed nothing: the next sweep must still look at what it looked at.
  if (!item.dryRun) {
    await Promise.all(held.map((id) => service.state.checkpoints.record(id, { lastSweepAt: startedAt, ...(item.mode === "full" ? { lastFullReconcileAt: startedAt } : {}) })));
  }
  return done;
}

/** Busy subscriptions become a work item of the same run, registered before it is queued (so the run waits for it). */
async function deferSubscriptions(service: Service, item: SubscriptionWorkItem, busy: readonly string[]): Promise<void> {
  const rest = subscriptionWorkItem({ runId: item.runId, dryRun: item.dryRun, mode: item.mode, ...(item.since ? { since: item.since } : {}), ...(item.planId ? { planId: item.planId } : {}), subscriptionIds: busy });
  await service.state.runs.registerWorkItems(item.runId, [rest.workItemId]);
  await service.state.workQueue.enqueue([rest], { visibilityTimeoutInSeconds: BUSY_RETRY_MS / 1000 });
  service.logger.info({ runId: item.runId, resourceId: `/subscriptions/${busy[0]}`, busy: busy.length }, "busy subscriptions deferred to a work item of their own");
}

/**
 * Machines reconciled per round of an events flush (a burst larger than this takes several rounds, one after the
 * other). Within a round the engine reads and writes a group of machines at a time, overlapping them
 * (engine.ts MACHINES_PER_GROUP); a round ends with its slowest install, so rounds are large.
 */
export const FLUSH_MACHINES = 2_000;
const FLUSH_ROUNDS = 5;

/**
 * Reconciles everything events named for the subscription, a round at a time, then removes it: the
 * machines named, or, when a resource group or the whole subscription was named (a plan switched on, a
 * shared resource deleted, an opt-out tag removed), one sweep of the subscription, which covers them all.
 * Each machine carries its drift's cause and eventTime into the report's timing.
 */
async function flushPendingMachines(service: Service, item: SubscriptionWorkItem, subscriptionId: string): Promise<void> {
  const startedAt = new Date();
  const reports: Report[] = [];
  // Machines named while a round runs are taken by the next round; bounded so a storm cannot hold the lease forever.
  for (let round = 0; round < FLUSH_ROUNDS; round++) {
    const pending = await service.state.pending.list(subscriptionId, FLUSH_MACHINES);
    if (pending.length === 0) break;
    const drift = driftOf(pending);
    if (pending.some((entry) => entry.scope !== "machine")) {
      const sweptAt = new Date();
      const { plan, report } = await reconcileForWorkItem(service, item, { subscriptions: [subscriptionId], drift });
      reports.push(report);
      if (!item.dryRun) {
        await countReinstalls(service, item, plan);
        await service.state.checkpoints.record(subscriptionId, { lastSweepAt: sweptAt, lastFullReconcileAt: sweptAt });
      }
    } else {
      reports.push(...(await reconcileNamedMachines(service, item, pending, drift)));
    }
    await service.state.pending.remove(subscriptionId, pending);
  }
  const flushed = mergeReports(reports, item.runId, item.dryRun, startedAt);
  await settle(service, item, flushed.summary, reportEntries(flushed));
}

/** What events said of each thing they named, by idKey (machines, resource groups, the subscription). */
function driftOf(pending: readonly PendingEntry[]): Map<string, DriftSeen> {
  return new Map(pending.flatMap((entry) => (entry.cause && entry.since ? [[idKey(entry.resourceId), { cause: entry.cause, since: entry.since }] as const] : [])));
}

/** Named machines, less those whose Failed extension events already reinstalled too often today (reported instead). */
async function reconcileNamedMachines(service: Service, item: SubscriptionWorkItem, pending: readonly PendingEntry[], drift: ReadonlyMap<string, DriftSeen>): Promise<Report[]> {
  const { state, settings } = service;
  const limit = settings.extensionReinstallAttemptsPerDay;
  const failed = pending.filter((entry) => entry.cause === "extensionFailed").map((entry) => entry.resourceId);
  const held = heldBackByReinstallLimit(pending, failed.length > 0 ? await state.reinstalls.today(failed) : new Map(), limit);
  const reports: Report[] = [];
  if (held.size > 0) {
    const resources = pending.filter((entry) => held.has(idKey(entry.resourceId))).map((entry) => heldBackReport(entry.resourceId, held.get(idKey(entry.resourceId)) as number, limit));
    for (const resource of resources) service.logger.warn({ runId: item.runId, resourceId: resource.id, notes: resource.notes }, "agent reinstall limit reached");
    reports.push({ ...mergeReports([], item.runId, item.dryRun, new Date()), summary: { ...EMPTY_SUMMARY, skipped: resources.length }, resources });
  }
  const machineIds = pending.filter((entry) => !held.has(idKey(entry.resourceId))).map((entry) => entry.resourceId);
  if (machineIds.length === 0) return reports;
  const { plan, report } = await reconcileForWorkItem(service, item, { resourceIds: machineIds, drift });
  if (!item.dryRun) await countReinstalls(service, item, plan);
  return [...reports, report];
}

/** Each Failed agent an event flush reinstalls counts against its machine's daily limit. */
async function countReinstalls(service: Service, item: WorkItem, plan: Plan): Promise<void> {
  await afterWrites(service, item, "counting agent reinstalls", () => Promise.all(plannedReinstalls(plan).map((machineId) => service.state.reinstalls.record(machineId))));
}

/**
 * Bookkeeping once Azure has been written: if Storage fails here the work item must still settle with its
 * report, as a retry would find nothing left to do and report the machines merely compliant.
 */
async function afterWrites(service: Service, item: WorkItem, what: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (error) {
    service.logger.warn({ runId: item.runId, resourceId: workItemResource(item), error: describeError(error) }, `${what} failed after the writes; the report stands`);
  }
}

async function reconcileWorkItem(service: Service, item: WorkItem, scope: Pick<ReconcileRequest, "resourceIds" | "subscriptions" | "changedSince" | "savedPlan">): Promise<void> {
  const { plan, report } = await reconcileForWorkItem(service, item, scope);
  // A dry run keeps its plan: `POST /api/runs {planId}` applies exactly it after review.
  const subscriptions = item.kind === "subscription" ? item.subscriptionIds : [...new Set(item.resourceIds.map((id) => parseResourceId(id).subscriptionId))];
  const stored = item.dryRun && !scope.changedSince ? storedPlanPart(plan, subscriptions, service.settings) : undefined;
  await settle(service, item, report.summary, reportEntries(report), stored);
}

async function reconcileForWorkItem(service: Service, item: WorkItem, scope: Pick<ReconcileRequest, "resourceIds" | "subscriptions" | "changedSince" | "drift" | "savedPlan">): Promise<ReconcileOutcome> {
  const { state } = service;
  const run = await state.runs.markRunning(item.runId);
  const audit = (planItem: PlanItem, result: ItemResult, runId: string, drift?: DriftSeen) =>
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
            ...(drift ? { drift } : {}),
          })
          .then(() => undefined);
  const outcome = await reconcile(
    { runId: item.runId, dryRun: item.dryRun, ...scope },
    { settings: service.settings, gateway: service.gateway, logger: service.logger, onResult: audit, driftMemory: state.firstSeen, sharedReads: service.sharedReads, journal: journalOf(service) },
  );
  // Time-to-compliant for GET /api/metrics and Azure Monitor, once per reconcile.
  await afterWrites(service, item, "recording time-to-compliant", () => state.timings.record(outcome.report));
  recordReport(outcome.report);
  return outcome;
}

/** How long the events of the service's own writes are recognised: far longer than Event Grid takes to deliver them. */
const OWN_WRITE_TTL_MS = 6 * 60 * 60 * 1000;

/** The operation journal, which also remembers each accepted write's correlation id so its events are known as the service's own. */
function journalOf(service: Service): OperationJournal {
  const { operations, ownWrites } = service.state;
  return {
    pending: (subscriptionIds) => operations.pending(subscriptionIds),
    settled: (item) => operations.settled(item),
    accepted: async (runId, item, operation) => {
      if (operation.correlationId) await ownWrites.claim(operation.correlationId, OWN_WRITE_TTL_MS);
      await operations.accepted(runId, item, operation);
    },
  };
}

/** The run's report keeps every machine with its actions, and each subscription's findings. */
function reportEntries(report: Report): unknown[] {
  return [...report.resources, ...report.subscriptions.map((subscription) => ({ ...subscription, kind: "subscription" }))];
}

async function settle(service: Service, item: WorkItem, counts: Report["summary"], entries: readonly unknown[], plan?: StoredPlanPart): Promise<void> {
  logIfFinished(service, await service.state.runs.completeWorkItem(item.runId, { workItemId: item.workItemId, counts, entries, ...(plan ? { plan } : {}) }));
}

/** Gives up on a work item: it shows in the run's status with the reason. */
export async function poisonWorkItem(service: Service, item: WorkItem, reason: string): Promise<void> {
  const settled = await service.state.runs.poisonWorkItem(item.runId, { workItemId: item.workItemId, reason });
  service.logger.error({ runId: item.runId, resourceId: workItemResource(item), workItemId: item.workItemId, reason }, "work item poisoned");
  logIfFinished(service, settled);
}

/** The resource a work item's log lines name: its first subscription or machine. */
export function workItemResource(item: WorkItem): string {
  return item.kind === "subscription" ? `/subscriptions/${item.subscriptionIds[0]}` : (item.resourceIds[0] as string);
}

/** The run store ends a run when its last work item settles; this only says so in the log. */
function logIfFinished(service: Service, settled: SettledWorkItem): void {
  const run = settled.run;
  if (!settled.recorded || !run.finishedAt) return;
  service.logger.info({ runId: run.runId, resourceId: "(scope)", status: run.status, counts: run.counts, error: run.error }, "run finished");
}
