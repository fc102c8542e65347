/**
 * reconcile(scope) = discover -> evaluate -> plan -> (apply) -> report. Every trigger (CLI, timer,
 * Event Grid, queue, HTTP) reduces to a scope and calls this; state is always re-read from Azure.
 */
import { randomUUID } from "node:crypto";
import type { Settings } from "./config/settings.js";
import type { ArmGateway } from "./azure/gateway.js";
import { machineKindOf, owningMachineId, parseResourceId } from "./azure/ids.js";
import { ScopeError } from "./errors.js";
import { discoverMachines } from "./discover/machineDiscovery.js";
import { discoverSweep } from "./discover/sweepDiscovery.js";
import { evaluate } from "./evaluate/evaluate.js";
import { writeRefusal } from "./evaluate/writeScope.js";
import { buildPlan } from "./plan/buildPlan.js";
import { PLAN_VERSION, type Plan, type PlanItem } from "./plan/plan.js";
import { applyPlan, type ItemResult } from "./apply/applyPlan.js";
import { buildReport, mergeReports, type Report } from "./report/buildReport.js";
import type { Snapshot } from "./model.js";
import type { Logger } from "./log.js";

export interface ReconcileRequest {
  /** Subscriptions to sweep; empty/absent = the configured scope (or every listable subscription). */
  readonly subscriptions?: readonly string[];
  /** Machines to reconcile instead of a sweep (events, targeted HTTP runs). */
  readonly resourceIds?: readonly string[];
  readonly dryRun?: boolean;
  readonly runId?: string;
  /** Sweep only machines created at or after this time (the timer's incremental sweeps). */
  readonly createdSince?: Date;
}

export interface ReconcileOutcome {
  readonly runId: string;
  readonly plan: Plan;
  readonly report: Report;
}

export interface EngineDependencies {
  readonly settings: Settings;
  readonly gateway: ArmGateway;
  readonly logger: Logger;
  readonly onResult?: (item: PlanItem, result: ItemResult, runId: string) => void | Promise<void>;
  /** One human line per stage (the CLI shows them on a terminal). */
  readonly onProgress?: (message: string) => void;
}

/**
 * A sweep goes through the scope this many subscriptions at a time: a batch is discovered, planned,
 * applied and reported before the next is read, so memory follows the batch, not the tenant, while
 * Resource Graph still answers for many subscriptions per query. Its one home: a sweep work item
 * carries at most one batch (src/schemas.ts), and the bench reads it from here.
 */
export const SWEEP_BATCH_SUBSCRIPTIONS = 200;

export async function reconcile(request: ReconcileRequest, dependencies: EngineDependencies): Promise<ReconcileOutcome> {
  const { settings, gateway } = dependencies;
  const runId = request.runId ?? randomUUID();
  const logger = dependencies.logger.child({ runId });
  const startedAt = new Date();
  const dryRun = request.dryRun ?? settings.dryRun;

  const outcomes: { plan: Plan; report: Report }[] = [];
  if (request.resourceIds && request.resourceIds.length > 0) {
    const machineIds = machinesInScope(request.resourceIds, settings);
    outcomes.push(await reconcileSnapshot(await discoverMachines(gateway, settings, machineIds), request, dependencies, { runId, logger, dryRun, startedAt }));
  } else {
    const subscriptions = await resolveSubscriptions(request.subscriptions, settings, gateway);
    for (let start = 0; start < subscriptions.length; start += SWEEP_BATCH_SUBSCRIPTIONS) {
      const snapshot = await discoverSweep(gateway, settings, subscriptions.slice(start, start + SWEEP_BATCH_SUBSCRIPTIONS));
      outcomes.push(await reconcileSnapshot(snapshot, request, dependencies, { runId, logger, dryRun, startedAt }));
    }
  }
  const plan = mergePlans(outcomes.map((outcome) => outcome.plan), dryRun, startedAt);
  const report = mergeReports(outcomes.map((outcome) => outcome.report), runId, dryRun, startedAt);
  logger.info({ resourceId: "(scope)", summary: report.summary }, "run finished");
  return { runId, plan, report };
}

async function reconcileSnapshot(
  discovered: Snapshot,
  request: ReconcileRequest,
  dependencies: EngineDependencies,
  run: { runId: string; logger: Logger; dryRun: boolean; startedAt: Date },
): Promise<{ plan: Plan; report: Report }> {
  const { settings, gateway } = dependencies;
  const { runId, logger, dryRun } = run;
  let snapshot = discovered;
  if (request.createdSince) {
    const since = request.createdSince.getTime();
    snapshot = { ...snapshot, machines: snapshot.machines.filter((machine) => !machine.timeCreated || Date.parse(machine.timeCreated) >= since) };
  }
  logger.info({ resourceId: "(scope)", subscriptions: snapshot.subscriptions.size, machines: snapshot.machines.length }, "discovered");
  dependencies.onProgress?.(`discovered ${snapshot.machines.length} machines in ${snapshot.subscriptions.size} subscriptions`);
  for (const entry of snapshot.unreadable) logger.warn({ resourceId: entry.id, reason: entry.reason }, "not discovered");

  const plan = buildPlan(snapshot, evaluate(snapshot, settings), { ...settings, dryRun });
  logger.info({ resourceId: "(scope)", items: plan.items.length, dryRun }, "planned");
  dependencies.onProgress?.(`planned ${plan.items.length} writes${dryRun ? " (dry run: nothing is applied)" : plan.items.length > 0 ? ", applying" : ""}`);

  let results: Map<string, ItemResult> | undefined;
  if (!dryRun && plan.items.length > 0) {
    const writer = gateway.writer(writeGuard(snapshot, settings));
    results = await applyPlan(plan, writer, {
      runId,
      // applyPlan puts runId on each of its lines itself: the run's child logger would write it twice.
      logger: dependencies.logger,
      ...(dependencies.onResult ? { onResult: (item: PlanItem, result: ItemResult) => dependencies.onResult?.(item, result, runId) } : {}),
    });
  }
  const report = buildReport(runId, plan, results, run.startedAt, new Date());
  for (const resource of report.resources) {
    if (resource.kind !== "shared") logger.info({ resourceId: resource.id, status: resource.status, actions: resource.actions.length }, "machine reconciled");
  }
  return { plan, report };
}

function mergePlans(plans: readonly Plan[], dryRun: boolean, createdAt: Date): Plan {
  if (plans.length === 1) return plans[0] as Plan;
  return {
    version: PLAN_VERSION,
    createdAt: createdAt.toISOString(),
    dryRun,
    items: plans.flatMap((plan) => plan.items),
    assessments: plans.flatMap((plan) => plan.assessments),
    findings: plans.flatMap((plan) => plan.findings),
  };
}

/** Explicit subscriptions must lie inside the configured scope; none given = the configured scope or all. */
export async function resolveSubscriptions(requested: readonly string[] | undefined, settings: Settings, gateway: ArmGateway): Promise<string[]> {
  const configured = new Set(settings.subscriptions);
  if (requested && requested.length > 0) {
    const ids = [...new Set(requested.map((id) => id.toLowerCase()))];
    const outside = ids.filter((id) => configured.size > 0 && !configured.has(id));
    if (outside.length > 0) throw new ScopeError(`subscription ${outside[0]} is outside the configured scope (REMEDIATION_SUBSCRIPTIONS)`, "subscriptions");
    return ids;
  }
  if (configured.size > 0) return [...configured];
  const all: string[] = [];
  for await (const subscription of gateway.listSubscriptions()) if (subscription.state === undefined || subscription.state === "Enabled") all.push(subscription.subscriptionId);
  return all;
}

/** Machine ids named by a request, checked against the scope; children resolve to their machine. */
export function machinesInScope(resourceIds: readonly string[], settings: Settings): string[] {
  const configured = new Set(settings.subscriptions);
  return resourceIds.map((id) => {
    const parsed = parseResourceId(id);
    if (configured.size > 0 && !configured.has(parsed.subscriptionId)) throw new ScopeError(`${parsed.id} is outside the configured scope`, "resourceIds");
    const machineId = machineKindOf(parsed) ? parsed.id : owningMachineId(parsed);
    if (!machineId) throw new ScopeError(`${parsed.id} is not a VM, Arc machine or SQL VM (type ${parsed.resourceType})`, "resourceIds");
    return machineId;
  });
}

/**
 * The last line of defence, applied to every write whatever the plan says: the target must be in a
 * discovered (in-scope) subscription, its machine and resource group must have been read in this run,
 * and neither it, its resource group, its subscription nor the machine it belongs to may carry the
 * opt-out tag.
 */
function writeGuard(snapshot: Snapshot, settings: Settings): (id: string) => void {
  const refusal = writeRefusal(snapshot, settings.optOutTag);
  return (id: string) => {
    const reason = refusal(id);
    if (reason) throw new ScopeError(`refusing to write ${id}: ${reason}`);
  };
}
