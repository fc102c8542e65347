import { randomUUID } from "node:crypto";

export interface LroOptions {
  /** Status polls answered InProgress before the terminal one (default 1). */
  polls?: number;
  /** Sent as Retry-After on the initial response and on InProgress polls (default 0: tests poll at once). */
  retryAfterSeconds?: number;
  /**
   * Real ARM finishes an operation whether or not its client polls (a client may crash or lose the
   * response): one nobody has polled for this long finishes at the emulator's next request (default 2,000).
   */
  finishUnpolledAfterMs?: number;
}

export type LroStatus = "InProgress" | "Succeeded" | "Failed";

export interface Operation {
  id: string;
  status: LroStatus;
  startTime: string;
  endTime?: string;
  error?: { code: string; message: string };
  pollsLeft: number;
  /** The resource being written (Location-style results answer with it). */
  resourceId: string;
  /** Resource id (lower-cased) whose writes are refused while this runs: the VM or machine. */
  lockKey?: string;
  /** Resource id (lower-cased) whose own GETs advance the operation (provisioningState-in-body style). */
  resourceKey?: string;
  finish: (status: "Succeeded" | "Failed") => void;
}

export interface StartOperation {
  resourceId: string;
  lockKey?: string;
  resourceKey?: string;
  /** Decided up front (faults, a disconnected machine); surfaced only when the operation ends. */
  failure?: { code: string; message: string };
  finish: (status: "Succeeded" | "Failed") => void;
}

/**
 * Long-running operations driven by polls rather than timers: each status poll (or resource GET for
 * body-style operations) moves the operation one step, so tests are deterministic and fast. An operation
 * its client abandoned still finishes, as in ARM, once it has gone unpolled for `finishUnpolledAfterMs`.
 */
export class OperationTracker {
  private readonly operations = new Map<string, Operation>();
  private readonly locks = new Map<string, string>();
  private readonly byResource = new Map<string, string>();
  /** Operations still running -> when they were started or last polled (ms). */
  private readonly lastActivity = new Map<string, number>();
  options: Required<LroOptions>;

  constructor(options: LroOptions = {}) {
    this.options = { polls: 1, retryAfterSeconds: 0, finishUnpolledAfterMs: 2_000 };
    this.configure(options);
  }

  configure(options: LroOptions): void {
    this.options = {
      polls: options.polls ?? this.options.polls,
      retryAfterSeconds: options.retryAfterSeconds ?? this.options.retryAfterSeconds,
      finishUnpolledAfterMs: options.finishUnpolledAfterMs ?? this.options.finishUnpolledAfterMs,
    };
  }

  start(request: StartOperation): Operation {
    const op: Operation = {
      id: randomUUID(),
      status: "InProgress",
      startTime: new Date().toISOString(),
      pollsLeft: this.options.polls,
      resourceId: request.resourceId,
      lockKey: request.lockKey,
      resourceKey: request.resourceKey,
      error: request.failure,
      finish: request.finish,
    };
    this.operations.set(op.id, op);
    this.lastActivity.set(op.id, Date.now());
    if (op.lockKey) this.locks.set(op.lockKey, op.id);
    if (op.resourceKey) this.byResource.set(op.resourceKey, op.id);
    return op;
  }

  isLocked(key: string): boolean {
    return this.locks.has(key);
  }

  get(id: string): Operation | undefined {
    return this.operations.get(id.toLowerCase());
  }

  /** One status poll: InProgress while polls remain, then the terminal state (applied once). */
  poll(id: string): Operation | undefined {
    const op = this.get(id);
    if (!op || op.status !== "InProgress") return op;
    if (op.pollsLeft > 0) {
      op.pollsLeft -= 1;
      this.lastActivity.set(op.id, Date.now());
      return op;
    }
    this.complete(op);
    return op;
  }

  /** Finishes the operations nobody has polled for `finishUnpolledAfterMs` (called at every request). */
  settle(now = Date.now()): void {
    for (const [id, last] of this.lastActivity) {
      const op = this.operations.get(id);
      if (op && now - last >= this.options.finishUnpolledAfterMs) this.complete(op);
    }
  }

  private complete(op: Operation): void {
    this.lastActivity.delete(op.id);
    op.status = op.error ? "Failed" : "Succeeded";
    op.endTime = new Date().toISOString();
    if (op.lockKey && this.locks.get(op.lockKey) === op.id) this.locks.delete(op.lockKey);
    if (op.resourceKey && this.byResource.get(op.resourceKey) === op.id) this.byResource.delete(op.resourceKey);
    op.finish(op.status);
  }

  /** A GET on a resource with a body-style operation running counts as a poll of it. */
  pollResource(resourceKey: string): void {
    const id = this.byResource.get(resourceKey);
    if (id) this.poll(id);
  }

  reset(): void {
    this.operations.clear();
    this.lastActivity.clear();
    this.locks.clear();
    this.byResource.clear();
  }
}
