/**
 * Report: plan + results -> what happened to every machine and shared resource, in the five-word
 * vocabulary operators read: compliant | remediated | planned | failed | skipped. Pure.
 */
import { GUEST_UNAVAILABLE, type ItemResult } from "../apply/applyPlan.js";
import { idKey } from "../azure/ids.js";
import type { PolicyViolation } from "../errors.js";
import type { Plan, PlanItem } from "../plan/plan.js";
import { NO_POLICY_DENIALS, countPolicyDenials, mergePolicyDenials, type PolicyDenials } from "./policyDenials.js";
import type { DriftSeen, Timing } from "./timing.js";

export type ResourceStatus = "compliant" | "remediated" | "planned" | "failed" | "skipped";

export interface ReportAction {
  readonly action: PlanItem["action"];
  readonly method: PlanItem["method"];
  readonly targetId: string;
  readonly reason: string;
  readonly outcome: "planned" | ItemResult["outcome"];
  readonly error?: { readonly code: string; readonly message: string };
  /** The deny policies that refused this write. */
  readonly deniedBy?: readonly PolicyViolation[];
  readonly correlationId?: string;
  /** Requests ARM turned away (throttling, busy machine, 5xx) and the SDK sent again. */
  readonly retries?: number;
}

export interface ReportResource {
  readonly id: string;
  readonly kind: "virtualMachine" | "arcMachine" | "shared";
  readonly subscriptionId: string;
  readonly status: ResourceStatus;
  readonly actions: readonly ReportAction[];
  /** Why it was skipped, what could not be done, and observations (e.g. MMA and AMA both running). */
  readonly notes: readonly string[];
  /** On a machine the run acted on (it has actions): when its drift began, when the run started, when it was verified. */
  readonly timing?: Timing;
}

export interface Report {
  readonly runId: string;
  readonly dryRun: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly summary: Readonly<Record<ResourceStatus, number>>;
  /** Writes Azure Policy refused, and which assignments refused them. */
  readonly deniedByPolicy: PolicyDenials;
  readonly resources: readonly ReportResource[];
  readonly subscriptions: readonly ReportSubscription[];
}

export interface ReportSubscription {
  readonly subscriptionId: string;
  readonly notes: readonly string[];
  /**
   * Compliant machines with nothing to report, counted here instead of listed in `resources`: a sweep of more
   * than one batch of subscriptions keeps no row per machine of the tenant (compliantCounts.ts).
   */
  readonly compliantMachines?: number;
}

export const EMPTY_SUMMARY: Readonly<Record<ResourceStatus, number>> = Object.freeze({ compliant: 0, remediated: 0, planned: 0, failed: 0, skipped: 0 });

/** One report of several (the batches of a sweep, the rounds of an events flush): counts summed, lists joined. */
export function mergeReports(reports: readonly Report[], runId: string, dryRun: boolean, startedAt: Date): Report {
  const summary: Record<ResourceStatus, number> = { ...EMPTY_SUMMARY };
  for (const report of reports) for (const status of Object.keys(summary) as ResourceStatus[]) summary[status] += report.summary[status];
  return {
    runId,
    dryRun,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    summary,
    deniedByPolicy: mergePolicyDenials(reports.map((report) => report.deniedByPolicy)),
    resources: reports.flatMap((report) => report.resources),
    subscriptions: mergeSubscriptions(reports.flatMap((report) => report.subscriptions)),
  };
}

/** One entry per subscription: the groups of an events flush each report the subscription they read. */
function mergeSubscriptions(entries: readonly ReportSubscription[]): ReportSubscription[] {
  const merged = new Map<string, ReportSubscription>();
  for (const entry of entries) {
    const key = entry.subscriptionId.toLowerCase();
    const earlier = merged.get(key);
    if (!earlier) {
      merged.set(key, entry);
      continue;
    }
    const compliantMachines = (earlier.compliantMachines ?? 0) + (entry.compliantMachines ?? 0);
    merged.set(key, { subscriptionId: earlier.subscriptionId, notes: [...new Set([...earlier.notes, ...entry.notes])], ...(compliantMachines > 0 ? { compliantMachines } : {}) });
  }
  return [...merged.values()];
}

/**
 * `drift`: what the run knew of each machine's drift, by `idKey` (an event's cause and eventTime, or when a
 * sweep first saw it); a machine acted on without an entry was first seen out of line by this run.
 */
export function buildReport(
  runId: string,
  plan: Plan,
  results: ReadonlyMap<string, ItemResult> | undefined,
  startedAt: Date,
  finishedAt: Date,
  drift: ReadonlyMap<string, DriftSeen> = new Map(),
): Report {
  const byMachine = new Map<string, PlanItem[]>();
  const shared: PlanItem[] = [];
  for (const item of plan.items) {
    if (item.machineId) {
      const key = item.machineId.toLowerCase();
      byMachine.set(key, [...(byMachine.get(key) ?? []), item]);
    } else {
      shared.push(item);
    }
  }
  const actionOf = (item: PlanItem): ReportAction => {
    const result = results?.get(item.key);
    return {
      action: item.action,
      method: item.method,
      targetId: item.targetId,
      reason: item.reason,
      outcome: result?.outcome ?? "planned",
      ...(result?.error ? { error: result.error } : {}),
      ...(result?.deniedBy ? { deniedBy: result.deniedBy } : {}),
      ...(result?.correlationId ? { correlationId: result.correlationId } : {}),
      ...(result?.retried !== undefined ? { retries: result.retried } : {}),
    };
  };

  const resources: ReportResource[] = plan.assessments.map((assessment) => {
    const machine = assessment.machine;
    const items = byMachine.get(machine.id.toLowerCase()) ?? [];
    const allActions = items.map(actionOf);
    // A write the guest could not take (the machine stopped meanwhile) is as if it had been blocked at planning.
    const actions = allActions.filter((action) => action.error?.code !== GUEST_UNAVAILABLE);
    const blocked = [...assessment.blocked.map((entry) => entry.reason), ...allActions.filter((action) => !actions.includes(action)).map((action) => action.error?.message ?? "")];
    const notes = [...(assessment.skipReason ? [assessment.skipReason] : []), ...new Set(blocked), ...assessment.notes];
    const status: ResourceStatus = assessment.status === "skipped" ? "skipped" : actions.length === 0 ? (blocked.length > 0 ? "skipped" : "compliant") : statusOf(actions);
    const timing = items.length > 0 ? timingOf(driftSeenFor(drift, machine.id, startedAt), startedAt, status === "remediated" ? verifiedAt(items, results) : undefined) : undefined;
    return { id: machine.id, kind: machine.kind, subscriptionId: machine.subscriptionId, status, actions: allActions, notes, ...(timing ? { timing } : {}) };
  });
  for (const item of shared) {
    const action = actionOf(item);
    resources.push({ id: item.targetId, kind: "shared", subscriptionId: item.subscriptionId, status: statusOf([action]), actions: [action], notes: createdNotes(item, action) });
  }

  const summary: Record<ResourceStatus, number> = { ...EMPTY_SUMMARY };
  for (const resource of resources) summary[resource.status]++;
  const notesBySubscription = new Map<string, string[]>();
  for (const finding of plan.findings) notesBySubscription.set(finding.subscriptionId, [...(notesBySubscription.get(finding.subscriptionId) ?? []), finding.message]);
  return {
    runId,
    dryRun: plan.dryRun,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    summary,
    deniedByPolicy: results ? countPolicyDenials([...results.values()].flatMap((result) => (result.deniedBy ? [result.deniedBy] : []))) : NO_POLICY_DENIALS,
    resources,
    subscriptions: [...notesBySubscription].map(([subscriptionId, notes]) => ({ subscriptionId, notes })),
  };
}

/**
 * What the run knew of a machine's drift: an entry for the machine, else for its resource group, else for
 * its subscription (an event about a whole group or subscription). None, or an unreadable time, means
 * this run is the first to see it.
 */
export function driftSeenFor(drift: ReadonlyMap<string, DriftSeen>, machineId: string, startedAt: Date): DriftSeen {
  return driftEntryFor(drift, machineId) ?? { cause: "sweep", since: startedAt.toISOString() };
}

/** The entry `drift` holds for a machine (its own, its resource group's or its subscription's), if any. */
export function driftEntryFor(drift: ReadonlyMap<string, DriftSeen> | undefined, machineId: string): DriftSeen | undefined {
  if (!drift || drift.size === 0) return undefined;
  const key = idKey(machineId);
  const scopes = [key, key.split("/").slice(0, 5).join("/"), key.split("/").slice(0, 3).join("/")];
  return scopes.map((scope) => drift.get(scope)).find((entry) => entry !== undefined && !Number.isNaN(Date.parse(entry.since)));
}

/** A machine's timing; `verified` only once its writes are confirmed. */
function timingOf(seen: DriftSeen, startedAt: Date, verified: Date | undefined): Timing {
  const driftBeganAt = new Date(seen.since);
  return {
    cause: seen.cause,
    driftBeganAt: driftBeganAt.toISOString(),
    startedAt: startedAt.toISOString(),
    ...(verified
      ? {
          verifiedAt: verified.toISOString(),
          // An event stamped ahead of this host's clock must not read as negative time.
          secondsToCompliant: Math.max(0, verified.getTime() - driftBeganAt.getTime()) / 1000,
        }
      : {}),
  };
}

/** When the last of a machine's writes that succeeded finished: what confirms it today (ARM answered Succeeded). */
function verifiedAt(items: readonly PlanItem[], results: ReadonlyMap<string, ItemResult> | undefined): Date | undefined {
  let latest: number | undefined;
  for (const item of items) {
    const result = results?.get(item.key);
    if (result?.outcome !== "succeeded") continue;
    const finished = Date.parse(result.startedAt) + result.durationMs;
    if (!Number.isNaN(finished)) latest = Math.max(latest ?? finished, finished);
  }
  return latest === undefined ? undefined : new Date(latest);
}

/** A group the service created is worth saying so, with where: it may hold resources the customer did not expect. */
function createdNotes(item: PlanItem, action: ReportAction): string[] {
  if (item.action !== "createResourceGroup" || action.outcome !== "succeeded") return [];
  return [`resource group created by ama-remediator in ${String(item.body?.["location"])}`];
}

function statusOf(actions: readonly ReportAction[]): ResourceStatus {
  if (actions.some((action) => action.outcome === "failed" || action.outcome === "skipped")) return "failed";
  if (actions.some((action) => action.outcome === "planned")) return "planned";
  return "remediated";
}
