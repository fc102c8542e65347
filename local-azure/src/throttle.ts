import { definedOptions } from "./options.js";

/** A token bucket: `capacity` tokens, refilled continuously at `refillPerSecond`. */
export interface BucketLimit {
  capacity: number;
  refillPerSecond: number;
}

export interface ThrottleOptions {
  /** ARM per subscription × principal read bucket (250, refill 25/s); false disables. */
  reads?: BucketLimit | false;
  /** ARM per subscription × principal write bucket (200, refill 10/s); deletes count here too. */
  writes?: BucketLimit | false;
  /** Compute RP per-VM write bucket (12, refill 4/min) for VM PATCH and extension writes. */
  computeVmWrites?: BucketLimit | false;
  /** Resource Graph per-principal quota: `queries` per `windowSeconds` window (15 / 5 s). */
  resourceGraph?: { queries: number; windowSeconds: number } | false;
  /** Multiplies the passing of time for refills and windows (the benchmark can run faster than ARM). */
  timeScale?: number;
}

export const DEFAULT_THROTTLE: Required<ThrottleOptions> = {
  reads: { capacity: 250, refillPerSecond: 25 },
  writes: { capacity: 200, refillPerSecond: 10 },
  computeVmWrites: { capacity: 12, refillPerSecond: 4 / 60 },
  resourceGraph: { queries: 15, windowSeconds: 5 },
  timeScale: 1,
};

export type BucketName = "reads" | "writes" | "computeVmWrites";
/** ARM's subscription × principal buckets. */
export type ArmBucket = "reads" | "writes";

/** How low one kind of ARM bucket went since the last reset. */
export interface BucketLowWater {
  /** The bucket's size, to read `lowest` as a share of it; null when the bucket is disabled. */
  capacity: number | null;
  /** The lowest `remaining` any subscription's bucket reported (0 after a 429); null when none was used. */
  lowest: number | null;
  /** The lowest per subscription (lower-cased id; `tenant` for calls outside any subscription). */
  bySubscription: Record<string, number>;
}

export type LowestRemaining = Record<ArmBucket, BucketLowWater>;

/** The outcome of taking a token: how many remain, or how long until one is available. */
export type Take = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

interface BucketState {
  tokens: number;
  atMs: number;
}

interface WindowState {
  startMs: number;
  used: number;
}

/** Lazily refilled buckets keyed by (bucket name, key); one Map lookup per request. */
export class Throttle {
  private readonly buckets = new Map<string, BucketState>();
  private readonly windows = new Map<string, WindowState>();
  /** Per ARM bucket kind: subscription -> the lowest `remaining` it reported since the last reset. */
  private readonly lowest: Record<ArmBucket, Map<string, number>> = { reads: new Map(), writes: new Map() };
  private options: Required<ThrottleOptions>;

  constructor(
    options: ThrottleOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_THROTTLE, ...definedOptions(options) };
  }

  /** Changes some limits (omitted ones stay) and starts every bucket full. */
  configure(options: ThrottleOptions): void {
    this.options = { ...this.options, ...definedOptions(options) };
    this.reset();
  }

  reset(): void {
    this.buckets.clear();
    this.windows.clear();
    this.resetLowest();
  }

  /** Forgets the lowest levels seen (the buckets keep their tokens). */
  resetLowest(): void {
    this.lowest.reads.clear();
    this.lowest.writes.clear();
  }

  /**
   * A token from a subscription × principal bucket, remembering the lowest `remaining` reported per subscription:
   * the headroom left for the customer's own automation under the same principal's limits. The emulator has one
   * principal, so per subscription is per subscription × principal.
   */
  takeArm(kind: ArmBucket, subscriptionKey: string, principal: string): Take {
    const taken = this.take(kind, `${subscriptionKey}|${principal}`);
    const remaining = taken.ok ? taken.remaining : 0;
    const seen = this.lowest[kind];
    const was = seen.get(subscriptionKey);
    if (Number.isFinite(remaining) && (was === undefined || remaining < was)) seen.set(subscriptionKey, remaining);
    return taken;
  }

  lowestRemaining(): LowestRemaining {
    return { reads: this.lowWater("reads"), writes: this.lowWater("writes") };
  }

  private lowWater(kind: ArmBucket): BucketLowWater {
    const limit = this.options[kind];
    let lowest: number | null = null;
    for (const level of this.lowest[kind].values()) if (lowest === null || level < lowest) lowest = level;
    return { capacity: limit ? limit.capacity : null, lowest, bySubscription: Object.fromEntries(this.lowest[kind]) };
  }

  take(name: BucketName, key: string): Take {
    const limit = this.options[name];
    if (!limit) return { ok: true, remaining: Number.POSITIVE_INFINITY };
    const now = this.now();
    const id = `${name}|${key}`;
    const state = this.buckets.get(id) ?? { tokens: limit.capacity, atMs: now };
    const refill = ((now - state.atMs) / 1000) * limit.refillPerSecond * this.options.timeScale;
    state.tokens = Math.min(limit.capacity, state.tokens + refill);
    state.atMs = now;
    this.buckets.set(id, state);
    if (state.tokens >= 1) {
      state.tokens -= 1;
      return { ok: true, remaining: Math.floor(state.tokens) };
    }
    const seconds = (1 - state.tokens) / (limit.refillPerSecond * this.options.timeScale);
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(seconds)) };
  }

  /** Resource Graph quota: a fixed window per principal; returns remaining and the time to the reset. */
  takeQuery(principal: string): { ok: boolean; remaining: number; resetsAfterMs: number } {
    const quota = this.options.resourceGraph;
    if (!quota) return { ok: true, remaining: Number.POSITIVE_INFINITY, resetsAfterMs: 0 };
    const now = this.now();
    const windowMs = (quota.windowSeconds * 1000) / this.options.timeScale;
    let state = this.windows.get(principal);
    if (!state || now - state.startMs >= windowMs) {
      state = { startMs: now, used: 0 };
      this.windows.set(principal, state);
    }
    const resetsAfterMs = Math.max(0, state.startMs + windowMs - now);
    if (state.used >= quota.queries) return { ok: false, remaining: 0, resetsAfterMs };
    state.used += 1;
    return { ok: true, remaining: quota.queries - state.used, resetsAfterMs };
  }
}

/** `hh:mm:ss` as in `x-ms-user-quota-resets-after`. */
export function formatDuration(ms: number): string {
  const total = Math.ceil(ms / 1000);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${pad(Math.floor(total / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
}

