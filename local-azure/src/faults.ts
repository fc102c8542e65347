import { mulberry32 } from "./random.js";
/** Injected misbehaviour. Every random choice comes from one seeded PRNG, so a run repeats exactly. */
export interface Faults {
  seed?: number;
  /** Share of ARM requests answered 429 TooManyRequests with Retry-After, on top of the real buckets. */
  throttleRate?: number;
  /** Share of ARM requests answered 500 InternalServerError or 503 ServiceUnavailable. */
  serverErrorRate?: number;
  /** Share of long-running operations that end Failed with an error body. */
  lroFailureRate?: number;
  latency?: { fixedMs?: number; jitterMs?: number };
  /** Requests below `scope` (an id prefix, case-insensitive) get 403 AuthorizationFailed for these actions (all when omitted). */
  forbidden?: { scope: string; actions?: string[] }[];
  /** Share of requests whose connection is destroyed without a response. */
  dropConnectionRate?: number;
  /** Added to every response (after latency); simulates a slow ARM front door. */
  slowResponseMs?: number;
}

/** What the fault plan says about one request, drawn in a fixed order. */
export interface RequestFault {
  drop: boolean;
  delayMs: number;
  status?: 429 | 500 | 503;
}

export class FaultInjector {
  private faults: Faults = {};
  private random: () => number = mulberry32(0);

  constructor(faults: Faults = {}) {
    this.set(faults);
  }

  /** Replaces the fault plan; the PRNG restarts from the seed so a run can be replayed. */
  set(faults: Faults): void {
    this.faults = { ...faults };
    this.random = mulberry32(faults.seed ?? 0);
  }

  get current(): Faults {
    return this.faults;
  }

  /** Draws only for the faults that are switched on, always in the same order. */
  forRequest(): RequestFault {
    const f = this.faults;
    const drop = this.chance(f.dropConnectionRate);
    const jitter = f.latency?.jitterMs ? Math.floor(this.random() * f.latency.jitterMs) : 0;
    const delayMs = (f.latency?.fixedMs ?? 0) + jitter + (f.slowResponseMs ?? 0);
    if (this.chance(f.throttleRate)) return { drop, delayMs, status: 429 };
    if (this.chance(f.serverErrorRate)) return { drop, delayMs, status: this.random() < 0.5 ? 500 : 503 };
    return { drop, delayMs };
  }

  lroFails(): boolean {
    return this.chance(this.faults.lroFailureRate);
  }

  /** The forbidden rule matching this scope and action, if any. */
  forbids(scope: string, action: string): boolean {
    const s = scope.toLowerCase();
    const a = action.toLowerCase();
    return (this.faults.forbidden ?? []).some(
      (rule) =>
        s.startsWith(rule.scope.toLowerCase().replace(/\/+$/, "")) &&
        (!rule.actions || rule.actions.some((x) => x.toLowerCase() === a)),
    );
  }

  private chance(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.random() < rate;
  }
}
