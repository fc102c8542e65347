/**
 * reconcile(scope) = discover -> evaluate -> plan -> (apply) -> report. Every trigger (CLI, timer,
 * Event Grid, queue, HTTP) reduces to a scope and calls this; state is always re-read from Azure.
 */
import { randomUUID } from "node:crypto";
import type { Settings } from "./config/settings.js";
import type { ArmGateway } from "./azure/gateway.js";
import { idKey, machineKindOf, owningMachineId, parseResourceId } from "./azure/ids.js";
import { InputError, ScopeError, describeError, toArmError, type ArmError } from "./errors.js";
import { discoverMachines } from "./discover/machineDiscovery.js";
import type { SharedReadCache } from "./discover/sharedReadCache.js";
import { discoverSweep } from "./discover/sweepDiscovery.js";
import { discoverChanges } from "./discover/changeDiscovery.js";
import { evaluate } from "./evaluate/evaluate.js";
import { writeRefusal } from "./evaluate/writeScope.js";
import { buildPlan } from "./plan/buildPlan.js";
import { PLAN_VERSION, type Plan, type PlanItem, type SubscriptionFinding } from "./plan/plan.js";
import { WriteSlots, applyPlan, pendingWriteOf, type ItemResult } from "./apply/applyPlan.js";
import { OPERATION_UNCONFIRMED, confirmationsOf, type Confirmations } from "./apply/confirmations.js";
import type { RunningOperation } from "./azure/gateway.js";
import { staleAgainst } from "./apply/staleness.js";
import { wholePlanRefusal, type SavedPlan } from "./plan/savedPlan.js";
import { buildReport, driftEntryFor, driftSeenFor, mergeReports, type Report, type ReportResource } from "./report/buildReport.js";
import { countCompliantMachines } from "./report/compliantCounts.js";
import type { DriftSeen } from "./report/timing.js";
import type { Snapshot } from "./model.js";
import type { Logger } from "./log.js";

export interface ReconcileRequest {
  /** Subscriptions to sweep; empty/absent = the configured scope (or every listable subscription). */
  readonly subscriptions?: readonly string[];
  /** Machines to reconcile instead of a sweep (events, targeted HTTP runs). */
  readonly resourceIds?: readonly string[];
  readonly dryRun?: boolean;
  readonly runId?: string;
  /**
   * The timer's incremental sweep: only what Resource Graph's change history shows changed at or after this
   * time (changeDiscovery.ts): changed machines read directly, affected subscriptions swept in full.
   */
  readonly changedSince?: Date;
  /**
   * Apply this reviewed plan instead of today's: its scope is discovered again and each item is written
   * only if today's plan would make the same write over the same state (else refused as stale).
   */
  readonly savedPlan?: SavedPlan;
  /** What the trigger knew of each machine's drift (an event's cause and eventTime), by `idKey`. */
  readonly drift?: ReadonlyMap<string, DriftSeen>;
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
  /** `drift`: what the run knows of the drift of the item's machine (absent for shared resources). */
  readonly onResult?: (item: PlanItem, result: ItemResult, runId: string, drift?: DriftSeen) => void | Promise<void>;
  /** One human line per stage (the CLI shows them on a terminal). */
  readonly onProgress?: (message: string) => void;
  /** Remembers across runs when machines were first seen out of line; without it each run is the first to see them. */
  readonly driftMemory?: DriftMemory;
  /** Subscription-level reads kept across the process's runs (events in one subscription read them once). */
  readonly sharedReads?: SharedReadCache;
  /** Keeps accepted long-running writes until confirmed, so a crash in between loses none (src/state/operationJournal.ts). */
  readonly journal?: OperationJournal;
}

/** Long-running writes ARM accepted and nobody has confirmed yet, kept between runs and across crashes. */
export interface OperationJournal {
  accepted(runId: string, item: PlanItem, operation: RunningOperation): Promise<void>;
  settled(item: PlanItem): Promise<void>;
  /** What earlier runs in these subscriptions left unconfirmed (they ended, or their host died). */
  pending(subscriptionIds: readonly string[]): Promise<JournalEntry[]>;
}

export interface JournalEntry {
  readonly runId: string;
  readonly acceptedAt: string;
  readonly item: PlanItem;
  readonly operation: RunningOperation;
}

/** When machines were first seen out of line, kept between runs (src/state/firstSeen.ts). */
export interface DriftMemory {
  /** What is remembered of machines in these subscriptions, by idKey. */
  recall(subscriptionIds: readonly string[]): Promise<ReadonlyMap<string, DriftSeen>>;
  /**
   * Learns from a report: remembers machines newly seen out of line, forgets those back in line and, in
   * `wholeSubscriptions` (every machine there was read), those the report no longer names.
   */
  update(remembered: ReadonlyMap<string, DriftSeen>, resources: readonly ReportResource[], wholeSubscriptions: readonly string[]): Promise<void>;
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
  const refusal = request.savedPlan && wholePlanRefusal(request.savedPlan, settings, startedAt);
  if (refusal) throw new InputError(refusal);

  const outcomes: { plan: Plan; report: Report }[] = [];
  if (request.resourceIds && request.resourceIds.length > 0) {
    const machineIds = machinesInScope(request.resourceIds, settings);
    outcomes.push(...(await reconcileMachines(machineIds, request, dependencies, { runId, logger, dryRun, startedAt })));
  } else {
    const subscriptions = await resolveSubscriptions(request.subscriptions, settings, gateway);
    const parts = await sweepParts(subscriptions, request, dependencies, logger);
    const manyBatches = parts.filter((part) => !part.request.resourceIds).length > 1;
    // A function of its own: a suspended async function keeps its temporaries alive, and a batch's whole outcome must not outlive it.
    const reconcilePart = async (part: SweepPart) => {
      const outcome = await reconcileSnapshot(await part.discover(), part.request, dependencies, { runId, logger, dryRun, startedAt });
      return manyBatches ? keptOfBatch(outcome, dryRun) : outcome;
    };
    for (const part of parts) outcomes.push(await reconcilePart(part));
  }
  const plan = mergePlans(outcomes.map((outcome) => outcome.plan), dryRun, startedAt);
  const report = mergeReports(outcomes.map((outcome) => outcome.report), runId, dryRun, startedAt);
  logger.info({ resourceId: "(scope)", summary: report.summary }, "run finished");
  return { runId, plan, report };
}

interface RunContext {
  readonly runId: string;
  readonly logger: Logger;
  readonly dryRun: boolean;
  readonly startedAt: Date;
}

/** A group of named machines within a run (reconcileMachines); a sweep's batch leaves all three out. */
interface GroupContext {
  /** Subscriptions whose journal an earlier group of the run carried already. */
  readonly carried?: Set<string>;
  readonly writeSlots?: WriteSlots;
  /** Called once the group's shared writes (none in a dry run) have their results. */
  readonly onSharedSettled?: () => void;
}

/**
 * Machines named by id (an events flush, a targeted run) are read this many at a time, and each group's writes start
 * while the next group is read: a burst's reads (3 per new machine) then overlap its writes instead of all coming first.
 */
export const MACHINES_PER_GROUP = 100;

/**
 * Named machines, a group at a time. The next group is read once this group's shared writes (a region's workspace or
 * rule, created for its first machines) are settled, so no two groups plan the same create and every later group
 * reads what was created; its machines' own writes and their confirmations go on meanwhile. Write slots are shared by
 * the groups, so the send order (identities, then agents, then associations) holds across them. A saved plan is
 * applied whole: it was reviewed as one.
 */
async function reconcileMachines(machineIds: readonly string[], request: ReconcileRequest, dependencies: EngineDependencies, run: RunContext): Promise<{ plan: Plan; report: Report }[]> {
  const { gateway, settings, sharedReads } = dependencies;
  const size = request.savedPlan ? Math.max(1, machineIds.length) : MACHINES_PER_GROUP;
  const writeSlots = new WriteSlots();
  const carried = new Set<string>();
  const groups: Promise<{ plan: Plan; report: Report }>[] = [];
  let failed = false;
  for (let start = 0; start < machineIds.length && !failed; start += size) {
    const snapshot = await discoverMachines(gateway, settings, machineIds.slice(start, start + size), sharedReads);
    let sharedSettled!: () => void;
    const settled = new Promise<void>((resolve) => (sharedSettled = resolve));
    const group = reconcileSnapshot(snapshot, request, dependencies, { ...run, carried, writeSlots, onSharedSettled: sharedSettled });
    groups.push(group);
    // A group that fails reads and writes no further group; the run ends with its error, below.
    await Promise.race([settled, group.catch(() => (failed = true))]);
  }
  return Promise.all(groups);
}

interface SweepPart {
  readonly request: ReconcileRequest;
  readonly discover: () => Promise<Snapshot>;
}

/**
 * A sweep's parts, each discovered only when its turn comes so memory follows the part: batches of
 * subscriptions swept whole and, for an incremental sweep, batches of the changed machines, read directly.
 * Each part's request says what it covers: a whole subscription, or named machines.
 */
async function sweepParts(subscriptions: readonly string[], request: ReconcileRequest, { settings, gateway, sharedReads }: EngineDependencies, logger: Logger): Promise<SweepPart[]> {
  const { changedSince, ...wholeRequest } = request;
  let whole = subscriptions;
  let changedMachines: (readonly string[])[] = [];
  if (changedSince) {
    const changed = await discoverChanges(gateway, settings, subscriptions, changedSince);
    whole = changed.subscriptions;
    changedMachines = [...changed.machines.values()];
    logger.info({ resourceId: "(scope)", changedSince: changedSince.toISOString(), subscriptionsSweptWhole: whole.length, machinesChanged: changedMachines.flat().length }, "changes found");
  }
  const parts: SweepPart[] = [];
  for (let start = 0; start < whole.length; start += SWEEP_BATCH_SUBSCRIPTIONS) {
    const batch = whole.slice(start, start + SWEEP_BATCH_SUBSCRIPTIONS);
    parts.push({ request: wholeRequest, discover: () => discoverSweep(gateway, settings, batch) });
  }
  for (let start = 0; start < changedMachines.length; start += SWEEP_BATCH_SUBSCRIPTIONS) {
    const resourceIds = changedMachines.slice(start, start + SWEEP_BATCH_SUBSCRIPTIONS).flat();
    parts.push({ request: { ...wholeRequest, resourceIds }, discover: () => discoverMachines(gateway, settings, resourceIds, sharedReads) });
  }
  return parts;
}

async function reconcileSnapshot(
  snapshot: Snapshot,
  request: ReconcileRequest,
  dependencies: EngineDependencies,
  run: RunContext & GroupContext,
): Promise<{ plan: Plan; report: Report }> {
  const { settings, gateway } = dependencies;
  const { runId, logger, dryRun } = run;
  logger.info({ resourceId: "(scope)", subscriptions: snapshot.subscriptions.size, machines: snapshot.machines.length }, "discovered");
  dependencies.onProgress?.(`discovered ${snapshot.machines.length} machines in ${snapshot.subscriptions.size} subscriptions`);
  for (const entry of snapshot.unreadable) logger.warn({ resourceId: entry.id, reason: entry.reason }, "not discovered");

  const { plan, refused } = planFor(snapshot, request.savedPlan, { ...settings, dryRun });
  logger.info({ resourceId: "(scope)", items: plan.items.length, dryRun }, "planned");
  dependencies.onProgress?.(`planned ${plan.items.length} writes${dryRun ? " (dry run: nothing is applied)" : plan.items.length > 0 ? ", applying" : ""}`);

  // Read before any write: state that cannot be read stops the run while Azure is still untouched.
  const whole = wholeSubscriptions(snapshot, request);
  const remembered = await recallDrift(dependencies.driftMemory, snapshot);
  const drift = machineDrift(plan, request.drift, remembered);

  const { onResult, journal } = dependencies;
  // Writes earlier runs here left unconfirmed (or this run, before its host died) are confirmed beside this run's own,
  // read before this run writes there: a subscription's journal is carried by the first group that reads it.
  const toCarry = [...snapshot.subscriptions.keys()].filter((subscriptionId) => !run.carried?.has(subscriptionId));
  for (const subscriptionId of toCarry) run.carried?.add(subscriptionId);
  const carried = !dryRun && journal && toCarry.length > 0 ? confirmCarried(journal, await journal.pending(toCarry), dependencies) : Promise.resolve([]);
  let sharedLeft = dryRun ? 0 : plan.items.filter((item) => !item.machineId).length;
  if (sharedLeft === 0) run.onSharedSettled?.();
  let results: Map<string, ItemResult> | undefined;
  if (!dryRun && plan.items.length > 0) {
    const writer = gateway.writer(writeGuard(snapshot, settings));
    results = await applyPlan(plan, writer, {
      runId,
      confirmations: confirmationsFor(gateway, settings),
      ...(journal ? { onAccepted: (item: PlanItem, operation: RunningOperation) => journal.accepted(runId, item, operation), onSettled: (item: PlanItem) => journal.settled(item) } : {}),
      ...(refused ? { refused } : {}),
      ...(run.writeSlots ? { writeSlots: run.writeSlots } : {}),
      // applyPlan puts runId on each of its lines itself: the run's child logger would write it twice.
      logger: dependencies.logger,
      onResult: async (item: PlanItem, result: ItemResult) => {
        await onResult?.(item, result, runId, item.machineId ? driftSeenFor(drift, item.machineId, run.startedAt) : undefined);
        if (item.machineId) return;
        // What the service created or changed in a subscription is no longer what the shared reads hold.
        dependencies.sharedReads?.forget(item.subscriptionId);
        if (--sharedLeft === 0) run.onSharedSettled?.();
      },
    });
  }
  const carriedFindings = await carried;
  const reported = carriedFindings.length > 0 ? { ...plan, findings: [...plan.findings, ...carriedFindings] } : plan;
  const report = buildReport(runId, reported, results, run.startedAt, new Date(), drift);
  if (dependencies.driftMemory) {
    try {
      await dependencies.driftMemory.update(remembered, report.resources, whole);
    } catch (error) {
      // The writes are done and must be reported; a sighting not remembered only makes a later timing shorter.
      logger.warn({ resourceId: "(scope)", error: describeError(error) }, "first-seen drift not recorded");
    }
  }
  for (const resource of report.resources) {
    if (resource.kind !== "shared") logger.info({ resourceId: resource.id, status: resource.status, actions: resource.actions.length }, "machine reconciled");
  }
  return { plan, report };
}

/**
 * Writes earlier runs accepted and left unconfirmed (their host died, or they gave up waiting): confirmed
 * now, their outcome recorded under the run that made them, and let go of by the journal; one finding per
 * subscription says what became of them.
 */
async function confirmCarried(journal: OperationJournal, entries: readonly JournalEntry[], { gateway, settings, onResult }: EngineDependencies): Promise<SubscriptionFinding[]> {
  const confirmations = confirmationsFor(gateway, settings);
  const outcomes = await Promise.all(
    entries.map(async ({ runId, acceptedAt, item, operation }) => {
      const finish = (outcome: ItemResult["outcome"], error?: ArmError): ItemResult => ({
        key: item.key,
        outcome,
        startedAt: acceptedAt,
        durationMs: Date.now() - Date.parse(acceptedAt),
        ...(error ? { error: { code: error.code, message: error.message } } : {}),
      });
      let result: ItemResult;
      try {
        await confirmations.confirm(pendingWriteOf(item, operation, Date.now()));
        result = finish("succeeded");
      } catch (thrown) {
        const error = toArmError(thrown);
        if (error.is(OPERATION_UNCONFIRMED)) return { item, runId, outcome: "unconfirmed" as const };
        result = finish("failed", error);
      }
      await onResult?.(item, result, runId);
      await journal.settled(item);
      return { item, runId, outcome: result.outcome };
    }),
  );
  const bySubscription = new Map<string, typeof outcomes>();
  for (const outcome of outcomes) bySubscription.set(outcome.item.subscriptionId, [...(bySubscription.get(outcome.item.subscriptionId) ?? []), outcome]);
  return [...bySubscription].map(([subscriptionId, settled]) => {
    const count = (outcome: string) => settled.filter((entry) => entry.outcome === outcome).length;
    const runs = [...new Set(settled.map((entry) => entry.runId))].join(", ");
    return { subscriptionId, message: `${settled.length} write(s) accepted by earlier run(s) ${runs} and left unconfirmed: ${count("succeeded")} confirmed done, ${count("failed")} failed, ${count("unconfirmed")} still unconfirmed` };
  });
}

/** The process's Confirmations for this gateway, timed by the settings. */
export function confirmationsFor(gateway: ArmGateway, settings: Settings): Confirmations {
  return confirmationsOf(gateway, { intervalMs: settings.pollIntervalMs, checkOperationAfterMs: settings.operationCheckAfterMs, timeoutMs: settings.operationTimeoutMs });
}

/** Subscriptions whose every machine this reconcile reported: a full sweep's (not a saved plan's), less any it could not read. */
function wholeSubscriptions(snapshot: Snapshot, request: ReconcileRequest): string[] {
  if (request.savedPlan || (request.resourceIds && request.resourceIds.length > 0)) return [];
  const unreadable = snapshot.unreadable.map((entry) => entry.id.toLowerCase());
  return [...snapshot.subscriptions.keys()].filter((id) => !unreadable.some((entry) => entry.includes(id.toLowerCase())));
}

/**
 * Remembered drift of the subscriptions read, one query each, so what is back in line is forgotten (an
 * incremental sweep reads changed machines by id: its subscriptions are those with changes).
 */
async function recallDrift(memory: DriftMemory | undefined, snapshot: Snapshot): Promise<ReadonlyMap<string, DriftSeen>> {
  if (!memory) return new Map();
  const unique = [...new Set([...snapshot.subscriptions.keys()].map((id) => id.toLowerCase()))];
  return unique.length === 0 ? new Map() : memory.recall(unique);
}

/**
 * The plan a run applies: today's, or the saved one's items for this snapshot's machines and
 * subscriptions, each refused (with why) unless today's plan would make the same write. Writes today's
 * plan has and the saved one lacks are said, never made: apply executes the reviewed plan and nothing else.
 */
function planFor(snapshot: Snapshot, saved: SavedPlan | undefined, settings: Settings): { plan: Plan; refused?: ReadonlyMap<string, string> } {
  const today = buildPlan(snapshot, evaluate(snapshot, settings), settings);
  if (!saved) return { plan: today };
  // A sweep goes a batch of subscriptions at a time; machines named by id are all in one snapshot.
  const inSnapshot = (subscriptionId: string) => saved.scope.resourceIds.length > 0 || snapshot.subscriptions.has(subscriptionId.toLowerCase());
  const items = saved.plan.items.filter((item) => inSnapshot(item.subscriptionId));
  const listed = new Set(items.map((item) => item.key));
  const unlisted = new Map<string, number>();
  for (const item of today.items) if (!listed.has(item.key)) unlisted.set(item.subscriptionId, (unlisted.get(item.subscriptionId) ?? 0) + 1);
  const findings = [
    ...saved.plan.findings.filter((finding) => inSnapshot(finding.subscriptionId)),
    ...[...unlisted].map(([subscriptionId, count]) => ({ subscriptionId, message: `${count} write(s) needed now are not in plan ${saved.planId}: not made; make a new plan to review them` })),
  ];
  const refused = staleAgainst(items, today.items);
  // What is sent is today's item, proven equal to the reviewed one: never the file's own fields.
  const todays = new Map(today.items.map((item) => [item.key, item]));
  const applied = items.map((item) => (refused.has(item.key) ? item : (todays.get(item.key) ?? item)));
  return {
    plan: { ...saved.plan, dryRun: settings.dryRun, items: applied, assessments: saved.plan.assessments.filter((assessment) => inSnapshot(assessment.machine.subscriptionId)), findings },
    refused,
  };
}

/**
 * Each machine's drift, by idKey: an event about the machine itself wins (time-to-compliant is measured
 * per cause), then an earlier sighting (the machine was out of line before), then an event about its
 * resource group or subscription (a plan switched on, a shared resource deleted).
 */
function machineDrift(plan: Plan, fromTrigger: ReadonlyMap<string, DriftSeen> | undefined, remembered: ReadonlyMap<string, DriftSeen>): Map<string, DriftSeen> {
  const drift = new Map<string, DriftSeen>();
  for (const { machine } of plan.assessments) {
    const seen = fromTrigger?.get(idKey(machine.id)) ?? driftEntryFor(remembered, machine.id) ?? driftEntryFor(fromTrigger, machine.id);
    if (seen) drift.set(idKey(machine.id), seen);
  }
  return drift;
}

/**
 * What a sweep of many batches keeps of each batch until it ends, so memory follows the batch and not the tenant:
 * compliant machines with nothing to report are counted per subscription instead of listed, and their
 * assessments (each holds the machine's whole state) are dropped unless the plan is a dry run's, which may be
 * saved for review and a later apply that reports every machine it covered.
 */
function keptOfBatch({ plan, report }: { plan: Plan; report: Report }, dryRun: boolean): { plan: Plan; report: Report } {
  const counted = countCompliantMachines(report);
  if (dryRun) return { plan, report: counted };
  const listed = new Set(counted.resources.map((resource) => idKey(resource.id)));
  return { plan: { ...plan, assessments: plan.assessments.filter((assessment) => listed.has(idKey(assessment.machine.id))) }, report: counted };
}

function mergePlans(plans: readonly Plan[], dryRun: boolean, createdAt: Date): Plan {
  if (plans.length === 1) return plans[0] as Plan;
  return {
    version: PLAN_VERSION,
    createdAt: createdAt.toISOString(),
    dryRun,
    items: plans.flatMap((plan) => plan.items),
    assessments: plans.flatMap((plan) => plan.assessments),
    // Groups of named machines in one subscription each find what is true of the subscription.
    findings: [...new Map(plans.flatMap((plan) => plan.findings).map((finding) => [`${finding.subscriptionId.toLowerCase()}|${finding.message}`, finding])).values()],
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
