import { randomUUID } from "node:crypto";

export interface LroOptions {
  /** Status polls answered InProgress before the terminal one (default 1). */
  polls?: number;
  /** Sent as Retry-After on the initial response and on InProgress polls (default 0: tests poll at once). */
  retryAfterSeconds?: number;
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
 * body-style operations) moves the operation one step, so tests are deterministic and fast.
 */
export class OperationTracker {
  private readonly operations = new Map<string, Operation>();
  private readonly locks = new Map<string, string>();
  private readonly byResource = new Map<string, string>();
  options: Required<LroOptions>;

  constructor(options: LroOptions = {}) {
    this.options = { polls: 1, retryAfterSeconds: 0 };
    this.configure(options);
  }

  configure(options: LroOptions): void {
    this.options = {
      polls: options.polls ?? this.options.polls,
      retryAfterSeconds: options.retryAfterSeconds ?? this.options.retryAfterSeconds,
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
      return op;
    }
    op.status = op.error ? "Failed" : "Succeeded";
    op.endTime = new Date().toISOString();
    if (op.lockKey && this.locks.get(op.lockKey) === op.id) this.locks.delete(op.lockKey);
    if (op.resourceKey && this.byResource.get(op.resourceKey) === op.id) this.byResource.delete(op.resourceKey);
    op.finish(op.status);
    return op;
  }

  /** A GET on a resource with a body-style operation running counts as a poll of it. */
  pollResource(resourceKey: string): void {
    const id = this.byResource.get(resourceKey);
    if (id) this.poll(id);
  }

  reset(): void {
    this.operations.clear();
    this.locks.clear();
    this.byResource.clear();
  }
}
