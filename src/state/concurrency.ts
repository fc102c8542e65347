/**
 * Optimistic concurrency over Table Storage: read with an ETag, write conditioned on it, and on a lost
 * race read again. The retry loop lives here once; callers only describe one attempt.
 */
import { setInterval, setTimeout as sleep } from "node:timers/promises";

/** The HTTP status of a Storage SDK error (RestError), if it carries one. */
export function statusCodeOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

export const isNotFound = (error: unknown): boolean => statusCodeOf(error) === 404;

/** 412: the ETag moved under us; 409: someone created the same entity first. Both mean "read again". */
const isConcurrencyConflict = (error: unknown): boolean => {
  const status = statusCodeOf(error);
  return status === 412 || status === 409;
};

export interface ConflictRetryOptions {
  readonly maxAttempts?: number;
  readonly baseDelayInMs?: number;
  readonly maxDelayInMs?: number;
}

/**
 * Runs `attempt` until it does not lose a race. Backoff is jittered so that many writers contending for
 * one entity (queue workers finishing items of one run) spread out instead of colliding in lock-step.
 */
export async function retryOnConflict<T>(attempt: () => Promise<T>, options: ConflictRetryOptions = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 60;
  const baseDelayInMs = options.baseDelayInMs ?? 5;
  const maxDelayInMs = options.maxDelayInMs ?? 250;
  for (let attemptNumber = 1; ; attemptNumber++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isConcurrencyConflict(error) || attemptNumber >= maxAttempts) throw error;
      const ceilingInMs = Math.min(maxDelayInMs, baseDelayInMs * 2 ** Math.min(attemptNumber, 10));
      await sleep(Math.random() * ceilingInMs);
    }
  }
}

/**
 * Asks `attempt` now and then every `intervalInMs` until it answers true or `timeoutInMs` has passed;
 * returns its last answer. For waiting out a short overlap on something another process holds.
 */
export async function waitUntil(attempt: () => Promise<boolean>, options: { readonly timeoutInMs: number; readonly intervalInMs: number }): Promise<boolean> {
  const deadline = Date.now() + options.timeoutInMs;
  if (await attempt()) return true;
  for await (const _tick of setInterval(options.intervalInMs)) {
    if (await attempt()) return true;
    if (Date.now() >= deadline) return false;
  }
  return false;
}
