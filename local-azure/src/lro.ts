import { createHash, randomUUID } from "node:crypto";
import { parseArmPath } from "./armPath.js";
import { definedOptions } from "./options.js";
import { behaviourOf } from "./resourceTypes.js";

/**
 * How operations progress. `polls` (default): a fixed number of InProgress polls, then the end, so tests
 * are fast and deterministic. `durations`: each operation runs for a seeded time drawn from its resource
 * type's range (resourceTypes.ts `durationSeconds`) and ends when that time is up, polled or not.
 */
export type LroModel = "polls" | "durations";

export interface LroOptions {
  /** Default "polls". */
  model?: LroModel;
  /** `polls` model: status polls answered InProgress before the terminal one (default 1). */
  polls?: number;
  /**
   * Retry-After on the initial response and on InProgress polls, in ARM seconds (default 0: not sent). The
   * header carries it scaled by `timeScale` and rounded up to whole seconds (HTTP allows no fractions).
   */
  retryAfterSeconds?: number;
  /**
   * `polls` model: real ARM finishes an operation whether or not its client polls (a client may crash or lose
   * the response): one nobody has polled for this long finishes at the emulator's next request (default 100: clients that confirm without polling, as the service does, wait no longer).
   */
  finishUnpolledAfterMs?: number;
  /** `durations` model: multiplies every type's range (default 1), to measure cost against duration. */
  durationScale?: number;
  /** `durations` model: seed of the drawn durations (default 1). */
  seed?: number;
  /** ARM seconds per wall second, the throttle's `timeScale` (the emulator keeps the two equal; default 1). */
  timeScale?: number;
}

export type LroStatus = "InProgress" | "Succeeded" | "Failed";

export interface Operation {
  id: string;
  status: LroStatus;
  startTime: string;
  endTime?: string;
  error?: { code: string; message: string };
  pollsLeft: number;
  /** `durations` model: when it ends (wall clock, ms). */
  dueAtMs?: number;
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
 * Long-running operations. Under the `polls` model each status poll (or resource GET for body-style
 * operations) moves an operation one step, and one its client abandoned still finishes, as in ARM, once it has
 * gone unpolled for `finishUnpolledAfterMs`. Under the `durations` model an operation ends when its drawn time
 * is up. Either way the end is applied lazily, at the next request (`settle`): nothing runs between requests.
 */
export class OperationTracker {
  private readonly operations = new Map<string, Operation>();
  private readonly locks = new Map<string, string>();
  private readonly byResource = new Map<string, string>();
  /** Operations still running -> when they were started or last polled (ms). */
  private readonly lastActivity = new Map<string, number>();
  /** Operations started per resource: the n-th write of a resource draws its own duration. */
  private readonly startsPerResource = new Map<string, number>();
  private settings: Required<LroOptions>;

  constructor(
    options: LroOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.settings = { model: "polls", polls: 1, retryAfterSeconds: 0, finishUnpolledAfterMs: 100, durationScale: 1, seed: 1, timeScale: 1 };
    this.configure(options);
  }

  /** The options as configured (`retryAfterSeconds` in ARM seconds; the header sends `retryAfterHeader()`). */
  get options(): Required<LroOptions> {
    return { ...this.settings };
  }

  configure(options: LroOptions): void {
    const next = { ...this.settings, ...definedOptions(options) };
    if (next.model !== "polls" && next.model !== "durations") throw new Error(`unknown LRO model '${String(next.model)}' (polls or durations)`);
    for (const key of ["polls", "retryAfterSeconds", "finishUnpolledAfterMs", "durationScale", "seed"] as const) {
      if (!Number.isFinite(next[key]) || next[key] < 0) throw new Error(`LRO option ${key} must be a number >= 0, not ${String(next[key])}`);
    }
    if (!Number.isFinite(next.timeScale) || next.timeScale <= 0) throw new Error(`LRO option timeScale must be a number > 0, not ${String(next.timeScale)}`);
    this.settings = next;
  }

  /**
   * Retry-After is whole seconds of real time (HTTP delay-seconds; core-lro reads `^[0-9]+$` only). Under a time
   * scale the header carries the ARM value divided by it, rounded up so a client never polls sooner than ARM
   * asked: at timeScale 15, Retry-After 15 is sent as 1, but Retry-After 10 is sent as 1 too (15 ARM seconds).
   */
  retryAfterHeader(): number {
    const { retryAfterSeconds, timeScale } = this.settings;
    return retryAfterSeconds > 0 ? Math.ceil(retryAfterSeconds / timeScale) : 0;
  }

  /**
   * The seeded duration, in ARM seconds, of the next operation on a resource: drawn from its type's range,
   * times `durationScale`; 0 for a type with no range. Keyed by seed, resource and its n-th operation, so the
   * order requests arrive in does not change any draw.
   */
  durationSeconds(resourceId: string, occurrence = 0): number {
    const range = behaviourOf(parseArmPath(resourceId).type).durationSeconds;
    if (!range) return 0;
    const [min, max] = range;
    const digest = createHash("sha256").update(`${this.settings.seed}|${resourceId.toLowerCase()}|${occurrence}`).digest();
    const unit = digest.readUInt32BE(0) / 2 ** 32;
    return (min + unit * (max - min)) * this.settings.durationScale;
  }

  start(request: StartOperation): Operation {
    const now = this.now();
    const op: Operation = {
      id: randomUUID(),
      status: "InProgress",
      startTime: new Date(now).toISOString(),
      pollsLeft: this.settings.polls,
      resourceId: request.resourceId,
      lockKey: request.lockKey,
      resourceKey: request.resourceKey,
      error: request.failure,
      finish: request.finish,
    };
    if (this.settings.model === "durations") {
      const key = request.resourceId.toLowerCase();
      const occurrence = this.startsPerResource.get(key) ?? 0;
      this.startsPerResource.set(key, occurrence + 1);
      op.dueAtMs = now + (this.durationSeconds(request.resourceId, occurrence) * 1000) / this.settings.timeScale;
    }
    this.operations.set(op.id, op);
    this.lastActivity.set(op.id, now);
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

  /** One status poll: InProgress until the operation's polls or time run out, then the terminal state (applied once). */
  poll(id: string): Operation | undefined {
    const op = this.get(id);
    if (!op || op.status !== "InProgress") return op;
    if (op.dueAtMs !== undefined) {
      if (this.now() >= op.dueAtMs) this.complete(op);
      return op;
    }
    if (op.pollsLeft > 0) {
      op.pollsLeft -= 1;
      this.lastActivity.set(op.id, this.now());
      return op;
    }
    this.complete(op);
    return op;
  }

  /**
   * Finishes what is due (called at every request): operations whose time is up (`durations`), or that nobody
   * has polled for `finishUnpolledAfterMs` (`polls`).
   */
  settle(now = this.now()): void {
    for (const [id, last] of this.lastActivity) {
      const op = this.operations.get(id);
      if (!op) continue;
      const due = op.dueAtMs !== undefined ? now >= op.dueAtMs : now - last >= this.settings.finishUnpolledAfterMs;
      if (due) this.complete(op);
    }
  }

  private complete(op: Operation): void {
    this.lastActivity.delete(op.id);
    op.status = op.error ? "Failed" : "Succeeded";
    op.endTime = new Date(this.now()).toISOString();
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
    this.startsPerResource.clear();
  }
}

