/**
 * Apply executes exactly the plan: each item once, after its dependencies succeeded, with a bounded
 * number of writes being sent per subscription, one write at a time per machine (its items are
 * chained), every result recorded with ARM's error code. One failing item never stops the others;
 * items that depended on it are skipped with that reason. A long-running write frees its slot as soon
 * as ARM accepted it and succeeds only once confirmed done (confirmations.ts), so a burst's writes
 * pace by ARM's write bucket, not by how long each operation runs.
 */
import type { ArmWriter, RunningOperation, StartedWrite } from "../azure/gateway.js";
import { ArmError, InputError, describePolicyViolation, toArmError, type PolicyViolation } from "../errors.js";
import type { Logger } from "../log.js";
import type { Plan, PlanItem } from "../plan/plan.js";
import { Semaphore } from "../concurrency.js";
import { staleReason } from "./staleness.js";
import { OPERATION_UNCONFIRMED, type Confirmations, type EndState, type PendingWrite } from "./confirmations.js";

export type ItemOutcome = "succeeded" | "failed" | "skipped";

export interface ItemResult {
  readonly key: string;
  readonly outcome: ItemOutcome;
  readonly httpStatus?: number;
  readonly correlationId?: string;
  readonly error?: { readonly code: string; readonly message: string };
  /** The deny policies that refused the write (403 RequestDisallowedByPolicy): terminal, never retried. */
  readonly deniedBy?: readonly PolicyViolation[];
  readonly startedAt: string;
  readonly durationMs: number;
  /** ARM requests the write took (retries and polls included) and how many were turned away and retried. */
  readonly requests?: number;
  readonly retried?: number;
}

export interface ApplyOptions {
  readonly runId: string;
  readonly logger: Logger;
  /** Send slots per subscription; runs that pass the same ones share them (and their send order). */
  readonly writeSlots?: WriteSlots;
  /** Called as each item finishes (audit rows, progress). */
  readonly onResult?: (item: PlanItem, result: ItemResult) => void | Promise<void>;
  /** Items known stale before apply starts (a saved plan against today's), by key, with why: never written. */
  readonly refused?: ReadonlyMap<string, string>;
  /** Where long-running writes wait to be confirmed done (one per process, shared by every run). */
  readonly confirmations: Confirmations;
  /** Called when ARM accepted a long-running write, before waiting for it: the journal keeps it across a crash. */
  readonly onAccepted?: (item: PlanItem, operation: RunningOperation) => Promise<void>;
  /** Called when that write is confirmed done or failed, as the journal lets it go. */
  readonly onSettled?: (item: PlanItem) => Promise<void>;
}

/** Writes in flight per subscription (ARM's write bucket refills at 10/s per subscription). */
const WRITES_IN_FLIGHT = 8;

/** Send slots, per subscription. */
export class WriteSlots {
  private readonly limiters = new Map<string, Semaphore>();

  of(subscriptionId: string): Semaphore {
    let limiter = this.limiters.get(subscriptionId);
    if (!limiter) this.limiters.set(subscriptionId, (limiter = new Semaphore(WRITES_IN_FLIGHT)));
    return limiter;
  }
}

export async function applyPlan(plan: Plan, gateway: ArmWriter, options: ApplyOptions): Promise<Map<string, ItemResult>> {
  const items = new Map(plan.items.map((item) => [item.key, item]));
  const results = new Map<string, ItemResult>();
  const running = new Map<string, Promise<ItemResult>>();
  const slots = options.writeSlots ?? new WriteSlots();

  const run = (item: PlanItem): Promise<ItemResult> => {
    let promise = running.get(item.key);
    if (!promise) {
      promise = (async () => {
        const prior = (keys: readonly string[]) => Promise.all(keys.flatMap((key) => (items.has(key) ? [run(items.get(key) as PlanItem)] : [])));
        const [dependencies] = await Promise.all([prior(item.dependsOn), prior(item.after)]);
        const failed = dependencies.find((dependency) => dependency.outcome !== "succeeded");
        const result = failed
          ? skipped(item.key, `depends on ${failed.key}, which ${whatBecameOf(failed)}`)
          : await execute(item, gateway, slots.of(item.subscriptionId), options);
        results.set(item.key, result);
        log(options, item, result);
        await options.onResult?.(item, result);
        return result;
      })();
      running.set(item.key, promise);
    }
    return promise;
  };

  await Promise.all(plan.items.map(run));
  return results;
}

async function execute(item: PlanItem, gateway: ArmWriter, limiter: Semaphore, options: ApplyOptions): Promise<ItemResult> {
  const startedAt = new Date();
  const finish = (result: Omit<ItemResult, "key" | "startedAt" | "durationMs">): ItemResult => ({
    key: item.key,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    ...result,
  });
  let sent: StartedWrite | undefined;
  try {
    // The slot covers the read-before-write and the send, not the wait: ARM paces writes, not durations.
    const started = await limiter.use(async () => {
      const stale = options.refused?.get(item.key) ?? (await staleReason(item, gateway));
      if (stale) return { stale };
      const body = item.method === "DELETE" ? {} : { body: await bodyOf(item, gateway) };
      return { sent: await gateway.start({ method: item.method, id: item.targetId, apiVersion: item.apiVersion, ...body, ...(item.ifMatch ? { ifMatch: item.ifMatch } : {}) }) };
    }, SEND_PRIORITY[item.action] ?? 0);
    // Never written: reported, and the next run plans against what is there now.
    if ("stale" in started) return finish({ outcome: "skipped", error: { code: STALE_PLAN, message: `stale: ${started.stale}` } });
    const response = (sent = started.sent);
    const confirmation = response.operation ? await confirmed(item, response.operation, startedAt, options) : { reads: 0, retried: 0 };
    return finish({
      outcome: "succeeded",
      requests: response.requests + confirmation.reads,
      retried: response.retried + confirmation.retried,
      ...(response.status !== undefined ? { httpStatus: response.status } : {}),
      ...(response.correlationId ? { correlationId: response.correlationId } : {}),
    });
  } catch (thrown) {
    // The guard refuses (ScopeError) or cannot even read (InputError) the target: either way it is out of scope.
    const error = thrown instanceof InputError ? new ArmError("OutOfScope", thrown.message) : toArmError(thrown);
    // The target changed since discovery read it (If-Match refused): never written over; the next run plans again.
    if (error.statusCode === 412 && item.ifMatch) return finish({ outcome: "skipped", error: { code: STALE_PLAN, message: `stale: ${item.targetId} changed since it was read (ARM refused If-Match ${item.ifMatch})` } });
    // The machine stopped between discovery and apply: nothing failed, the next sweep will finish it.
    if (isGuestUnavailable(error)) return finish({ outcome: "skipped", error: { code: GUEST_UNAVAILABLE, message: error.message } });
    // Accepted, maybe done: not a failure, not a success; the journal keeps it for the next run.
    if (error.is(OPERATION_UNCONFIRMED)) return finish({ outcome: "skipped", error: { code: error.code, message: error.message } });
    // Tries of the send (when it was the send that failed) or of the send and of the confirmation that found the failure.
    const attempts = error.attempts || sent ? { requests: (error.attempts?.requests ?? 0) + (sent?.requests ?? 0), retried: (error.attempts?.retried ?? 0) + (sent?.retried ?? 0) } : undefined;
    const statusCode = error.statusCode ?? sent?.status;
    const correlationId = error.correlationId ?? sent?.correlationId;
    return finish({
      outcome: "failed",
      error: { code: error.code, message: error.message },
      ...(error.policyViolations.length > 0 ? { deniedBy: error.policyViolations } : {}),
      ...(attempts ? { requests: attempts.requests, retried: attempts.retried } : {}),
      ...(statusCode !== undefined ? { httpStatus: statusCode } : {}),
      ...(correlationId ? { correlationId } : {}),
    });
  }
}

/**
 * Waits until a long-running write is confirmed done (throws its ArmError when it failed); the journal
 * holds it meanwhile, so a crash loses nothing. Returns the ARM reads the confirmation took, and their retries.
 */
async function confirmed(item: PlanItem, operation: RunningOperation, startedAt: Date, options: ApplyOptions): Promise<{ reads: number; retried: number }> {
  await options.onAccepted?.(item, operation);
  try {
    const confirmation = await options.confirmations.confirm(pendingWriteOf(item, operation, startedAt.getTime()));
    await options.onSettled?.(item);
    return confirmation;
  } catch (error) {
    // A failed write is settled (the next run plans it again); an unconfirmed one stays in the journal.
    if (!(error instanceof ArmError && error.is(OPERATION_UNCONFIRMED))) await options.onSettled?.(item);
    throw error;
  }
}

/** A plan item's write ARM accepted, as the confirmations wait for it. */
export function pendingWriteOf(item: PlanItem, operation: RunningOperation, startedAtMs: number): PendingWrite {
  const endState = endStateOf(item);
  return { targetId: item.targetId, subscriptionId: item.subscriptionId, method: item.method, operation, startedAtMs, ...(endState ? { endState } : {}) };
}

/**
 * What Resource Graph will show once the write is done, when that differs from what the plan saw: a
 * target created, a system-assigned identity added, a Failed extension reinstalled. Otherwise (a repair of
 * a working resource) the old state looks like the new, and only the operation itself can tell.
 */
function endStateOf(item: PlanItem): EndState | undefined {
  if (item.method === "DELETE") return { exists: false };
  if (item.action === "updateMachineIdentity") return (item.observed as { systemAssigned?: boolean } | undefined)?.systemAssigned ? undefined : { exists: true, systemAssignedIdentity: true };
  if (item.observed === "absent") return { exists: true };
  if (item.action === "installExtension" && (item.observed as { problem?: string } | undefined)?.problem === "failed") return { exists: true };
  return undefined;
}

/** Role assignments name a principal that only exists once the assignment it belongs to was created. */
async function bodyOf(item: PlanItem, gateway: ArmWriter): Promise<Record<string, unknown>> {
  const body = item.body ?? {};
  if (!item.principalFrom) return body;
  const source = await gateway.getResource(item.principalFrom);
  const principalId = (source?.["identity"] as Record<string, unknown> | undefined)?.["principalId"];
  if (typeof principalId !== "string") throw new ArmError("PrincipalNotFound", `${item.principalFrom} has no system-assigned identity to grant roles to`);
  const properties = (body["properties"] as Record<string, unknown> | undefined) ?? {};
  return { ...body, properties: { ...properties, principalId } };
}

/**
 * Which waiting write is sent first when the subscription's write slots are busy (lower first): what
 * others stand on, then each machine's long chain (identity, then agent) so the minutes-long installs start
 * as early as the write bucket allows, and last the associations, which finish at once.
 */
const SEND_PRIORITY: Partial<Record<PlanItem["action"], number>> = { updateMachineIdentity: 1, installExtension: 2, removeExtension: 2, associateDataCollectionRule: 3 };

/** Result code of an item refused because its target changed since the plan. */
export const STALE_PLAN = "StalePlan";

/** Result code of a write skipped because the guest was not running; reported as skipped, never failed. */
export const GUEST_UNAVAILABLE = "GuestUnavailable";

function isGuestUnavailable(error: ArmError): boolean {
  return error.statusCode === 409 && /not running|deallocat|not connected|MachineNotConnected/i.test(`${error.code} ${error.message}`);
}

/** How a prerequisite ended, for the items skipped because of it. */
function whatBecameOf(prerequisite: ItemResult): string {
  if (prerequisite.deniedBy) return `a policy denied: ${prerequisite.deniedBy.map(describePolicyViolation).join(", ")}`;
  return prerequisite.outcome === "failed" ? "failed" : "was skipped";
}

function skipped(key: string, reason: string): ItemResult {
  return { key, outcome: "skipped", error: { code: "DependencyFailed", message: reason }, startedAt: new Date().toISOString(), durationMs: 0 };
}

function log(options: ApplyOptions, item: PlanItem, result: ItemResult): void {
  const fields = {
    runId: options.runId,
    resourceId: item.machineId ?? item.targetId,
    action: item.action,
    targetId: item.targetId,
    outcome: result.outcome,
    httpStatus: result.httpStatus,
    correlationId: result.correlationId,
    retried: result.retried,
    durationMs: result.durationMs,
    ...(result.error ? { errorCode: result.error.code, errorMessage: result.error.message } : {}),
  };
  if (result.outcome === "succeeded") options.logger.info(fields, "write applied");
  else options.logger.warn(fields, result.outcome === "failed" ? "write failed" : "write skipped");
}
