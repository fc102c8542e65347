/**
 * Long-running writes, confirmed in bulk. An operation ARM accepted but has not finished (an AMA install
 * takes minutes, an identity PATCH tens of seconds) is not polled on its own: polls are reads from the
 * subscription's bucket, so polling each operation costs reads in proportion to how long it runs. Every
 * operation waiting in this process is confirmed together instead, by one Resource Graph query per round
 * over their targets (Resource Graph has its own quota, not the ARM read bucket), whatever the duration.
 *
 * Resource Graph lags ARM (95% of changes within 30 s, no upper bound), so it can only prove a write whose
 * end state differs from what was there before: a target created, an identity added, a Failed extension
 * reinstalled. Anything else, an operation still unconfirmed long after it should have ended, and one
 * Resource Graph shows Failed, is asked about directly through its own operation (one read each time,
 * never sooner than ARM's Retry-After).
 *
 * ARM also raises an event when a write's operation ends (ResourceWriteSuccess or …Failure, carrying the
 * write's correlation id), and the service subscribes to those of machines and their extensions. When one
 * reaches this process it settles the write at once: a success without any read and without Resource
 * Graph's lag, a failure by one direct look for ARM's error. Events are at least once and may reach
 * another instance, so Resource Graph's rounds stay the way every write is confirmed when none comes.
 */
import type { OperationCheck, ResourceGraphRow, RunningOperation } from "../azure/gateway.js";
import { idKey } from "../azure/ids.js";
import { ARM_READ_CONCURRENCY, mapBounded } from "../concurrency.js";
import { ArmError, toArmError } from "../errors.js";
import { SWEEP_QUERIES } from "../discover/sweepDiscovery.js";
import { machineKeyOf } from "../discover/normalise.js";

/** A write ARM accepted and goes on with, and what would prove it done. */
export interface PendingWrite {
  readonly targetId: string;
  readonly subscriptionId: string;
  readonly method: "PUT" | "PATCH" | "DELETE";
  readonly operation: RunningOperation;
  readonly startedAtMs: number;
  /**
   * What Resource Graph must show once it is done, when that differs from the state before the write (else
   * Resource Graph can't tell the new state from the old, and only the operation itself is asked).
   */
  readonly endState?: EndState;
}

export type EndState = { readonly exists: false } | { readonly exists: true; readonly systemAssignedIdentity?: boolean };

export interface Confirmation {
  /** ARM reads the confirmation took (direct operation checks); Resource Graph queries are shared by every write waiting. */
  readonly reads: number;
  /** Of those, the tries ARM turned away and the pipeline retried. */
  readonly retried: number;
}

export interface ConfirmationSource {
  queryResourceGraph(query: string, subscriptions: readonly string[]): AsyncIterable<ResourceGraphRow[]>;
  checkOperation: OperationCheck;
}

export interface ConfirmationTiming {
  /** Between two looks at one write when ARM sent no Retry-After. */
  readonly intervalMs: number;
  /** A write Resource Graph has not confirmed after this long is asked about directly. */
  readonly checkOperationAfterMs: number;
  /** A write not confirmed after this long is given up on (OperationUnconfirmed): the next run sees where it stands. */
  readonly timeoutMs: number;
}

/** ARM's event for an operation that ended (ResourceWriteSuccess, ResourceWriteFailure, ResourceDeleteSuccess). */
export interface OperationEnded {
  /** The write's correlation id (the event's `data.correlationId`). */
  readonly correlationId: string;
  /** The machine the event is about: the written machine, or the one its extension belongs to. */
  readonly machineId: string;
  readonly succeeded: boolean;
}

/** Result code of a write ARM accepted but nobody could confirm in time: never reported as done. */
export const OPERATION_UNCONFIRMED = "OperationUnconfirmed";

/** Ids per Resource Graph query: keeps the query text short whatever the burst. */
const IDS_PER_QUERY = 200;

interface Waiter {
  readonly write: PendingWrite;
  readonly resolve: (confirmation: Confirmation) => void;
  readonly reject: (error: ArmError) => void;
  nextLookAtMs: number;
  reads: number;
  retried: number;
  /** Resource Graph showed Failed: asked directly once (a reinstall's old Failed state looks the same). */
  failedSeen: boolean;
  /** ARM's event said the operation failed: asked directly at the next round, for ARM's error. */
  failureHeard: boolean;
}

/** Events heard before their write was waited on (the operation ended while the journal was being written). */
const EARLY_EVENTS_KEPT = 10_000;

export class Confirmations {
  private readonly waiting = new Set<Waiter>();
  /** Waiters by their write's correlation id, lower-cased: what ARM's events name. */
  private readonly byCorrelation = new Map<string, Waiter>();
  /** Events for writes not (yet) waited on here, oldest first; kept as long as a write may wait. */
  private readonly heardEarly = new Map<string, OperationEnded & { readonly heardAtMs: number }>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly source: ConfirmationSource,
    private readonly timing: ConfirmationTiming,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves once the write is proven done; rejects with ARM's error when it failed, or OperationUnconfirmed. */
  confirm(write: PendingWrite): Promise<Confirmation> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { write, resolve, reject, nextLookAtMs: write.startedAtMs + this.pause(write), reads: 0, retried: 0, failedSeen: false, failureHeard: false };
      this.waiting.add(waiter);
      const correlationId = write.operation.correlationId?.toLowerCase();
      if (correlationId) this.byCorrelation.set(correlationId, waiter);
      const early = correlationId ? this.heardEarly.get(correlationId) : undefined;
      if (early && this.now() - early.heardAtMs < this.timing.timeoutMs) this.apply(waiter, early);
      this.schedule();
    });
  }

  /**
   * ARM's event that a write's operation ended. A success settles the write this process waits on; a failure
   * has it looked at directly at once. An event for a write not waited on yet is kept for when it is.
   */
  hear(event: OperationEnded): void {
    const correlationId = event.correlationId.toLowerCase();
    const waiter = this.byCorrelation.get(correlationId);
    if (!waiter) {
      this.heardEarly.set(correlationId, { ...event, heardAtMs: this.now() });
      for (const [key, kept] of this.heardEarly) {
        if (this.heardEarly.size <= EARLY_EVENTS_KEPT && this.now() - kept.heardAtMs < this.timing.timeoutMs) break;
        this.heardEarly.delete(key);
      }
      return;
    }
    this.apply(waiter, event);
    this.schedule();
  }

  private apply(waiter: Waiter, event: OperationEnded): void {
    this.heardEarly.delete(event.correlationId.toLowerCase());
    // The same correlation id on another machine's event is not this write's.
    if (machineKeyOf(waiter.write.targetId) !== idKey(event.machineId)) return;
    if (event.succeeded) return this.settle(waiter, () => waiter.resolve({ reads: waiter.reads, retried: waiter.retried }));
    waiter.failureHeard = true;
    waiter.nextLookAtMs = this.now();
  }

  private pause(write: PendingWrite): number {
    return Math.max(this.timing.intervalMs, write.operation.retryAfterMs ?? 0);
  }

  private schedule(): void {
    if (this.running || this.waiting.size === 0) return;
    const next = Math.min(...[...this.waiting].map((waiter) => waiter.nextLookAtMs));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.round(), Math.max(0, next - this.now()));
  }

  private async round(): Promise<void> {
    this.timer = undefined;
    this.running = true;
    try {
      const now = this.now();
      const due = [...this.waiting].filter((waiter) => waiter.nextLookAtMs <= now);
      const rows = await this.targetRows(due.filter((waiter) => waiter.write.endState)).catch(() => new Map<string, ResourceGraphRow>());
      const direct: Waiter[] = [];
      for (const waiter of due) {
        // An event may have settled it while Resource Graph answered.
        if (!this.waiting.has(waiter)) continue;
        const { write } = waiter;
        const verdict = write.endState ? judge(write.endState, rows.get(idKey(write.targetId))) : "unknown";
        if (verdict === "done") this.settle(waiter, () => waiter.resolve({ reads: waiter.reads, retried: waiter.retried }));
        else if (now - write.startedAtMs >= this.timing.timeoutMs) this.settle(waiter, () => waiter.reject(unconfirmed(write, this.timing.timeoutMs)));
        else if (!write.endState || waiter.failureHeard || (verdict === "failed" && !waiter.failedSeen) || now - write.startedAtMs >= this.timing.checkOperationAfterMs) {
          waiter.failureHeard = false;
          waiter.failedSeen ||= verdict === "failed";
          direct.push(waiter);
        } else waiter.nextLookAtMs = now + this.pause(write);
      }
      await mapBounded(direct, ARM_READ_CONCURRENCY, (waiter) => this.checkDirectly(waiter));
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  private async checkDirectly(waiter: Waiter): Promise<void> {
    try {
      const { status, requests, retried } = await this.source.checkOperation(waiter.write.operation);
      waiter.reads += requests;
      waiter.retried += retried;
      if (status === "succeeded") this.settle(waiter, () => waiter.resolve({ reads: waiter.reads, retried: waiter.retried }));
      else waiter.nextLookAtMs = this.now() + this.pause(waiter.write);
    } catch (error) {
      const armError = toArmError(error);
      const tries = armError.attempts;
      // The write's own tries and its confirmation's are one account.
      const attempts = { requests: waiter.reads + (tries?.requests ?? 0), retried: waiter.retried + (tries?.retried ?? 0) };
      this.settle(waiter, () => waiter.reject(armError.with({ attempts })));
    }
  }

  /** Settles a waiter once: an event and a round may both find it done. */
  private settle(waiter: Waiter, finish: () => void): void {
    if (!this.waiting.delete(waiter)) return;
    const correlationId = waiter.write.operation.correlationId?.toLowerCase();
    if (correlationId) this.byCorrelation.delete(correlationId);
    finish();
  }

  /** The targets' rows as Resource Graph has them now, by idKey; a target it does not show is absent. */
  private async targetRows(waiters: readonly Waiter[]): Promise<Map<string, ResourceGraphRow>> {
    const rows = new Map<string, ResourceGraphRow>();
    const ids = [...new Map(waiters.map(({ write }) => [idKey(write.targetId), write])).values()];
    for (let start = 0; start < ids.length; start += IDS_PER_QUERY) {
      const batch = ids.slice(start, start + IDS_PER_QUERY);
      const subscriptions = [...new Set(batch.map((write) => write.subscriptionId.toLowerCase()))];
      for await (const page of this.source.queryResourceGraph(SWEEP_QUERIES.writeTargets(batch.map((write) => write.targetId)), subscriptions)) {
        for (const row of page) rows.set(idKey(row.id), row);
      }
    }
    return rows;
  }
}

/** What a Resource Graph row says of a write whose end state is known. */
function judge(endState: EndState, row: ResourceGraphRow | undefined): "done" | "failed" | "unknown" {
  if (!endState.exists) return row ? "unknown" : "done";
  if (!row) return "unknown";
  const state = String(row.properties?.["provisioningState"] ?? "").toLowerCase();
  if (state === "failed") return "failed";
  if (state !== "succeeded") return "unknown";
  if (endState.systemAssignedIdentity && !/systemassigned/i.test(String(row.identity?.["type"] ?? ""))) return "unknown";
  return "done";
}

function unconfirmed(write: PendingWrite, timeoutMs: number): ArmError {
  return new ArmError(
    OPERATION_UNCONFIRMED,
    `${write.method} ${write.targetId} was accepted by ARM but not confirmed done within ${Math.round(timeoutMs / 1000)} s; the next run reads where it stands`,
  );
}

const perSource = new WeakMap<ConfirmationSource, Confirmations>();

/** The one Confirmations of a gateway: every run of the process shares its Resource Graph rounds. */
export function confirmationsOf(source: ConfirmationSource, timing: ConfirmationTiming): Confirmations {
  let confirmations = perSource.get(source);
  if (!confirmations) perSource.set(source, (confirmations = new Confirmations(source, timing)));
  return confirmations;
}
