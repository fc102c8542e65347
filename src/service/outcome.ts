/**
 * What happens next to a piece of work, in three words (controller-runtime's reconcile result):
 * done, retry after a known wait, or terminal (never retried). Work returns one; the trigger edge
 * (src/functions/workItems.ts) maps it onto the queue once, with `queueActionFor`.
 */
import { ArmError, InputError, describeError, retryAfterInMsOf } from "../errors.js";

export type Outcome =
  | { readonly kind: "done" }
  | {
      readonly kind: "retryAfter";
      readonly retryAfterInMs: number;
      readonly reason: string;
      /** A failed attempt counts toward the queue's max dequeue count; waiting for a busy lease does not. */
      readonly failed: boolean;
    }
  | { readonly kind: "terminal"; readonly reason: string };

export const done: Outcome = { kind: "done" };

export function retryAfter(retryAfterInMs: number, reason: string, failed: boolean): Outcome {
  return { kind: "retryAfter", retryAfterInMs, reason, failed };
}

export function terminal(reason: string): Outcome {
  return { kind: "terminal", reason };
}

/** The wait after a failure Azure gave no Retry-After for. */
export const FAILURE_RETRY_MS = 30_000;

/**
 * Classifies what a piece of work threw. Refused input, scope and settings, and ARM's 400/401/403
 * (a deny policy's RequestDisallowedByPolicy included) fail the same way on every attempt: terminal.
 * Anything else (429, 409, 5xx, a dropped connection) may pass: retry, after ARM's Retry-After when known.
 */
export function outcomeOfError(error: unknown): Outcome {
  if (error instanceof InputError) return terminal(`refused: ${error.message}`);
  if (error instanceof ArmError && isPermanent(error.statusCode)) return terminal(`refused by Azure: ${describeError(error)}`);
  return retryAfter(retryAfterOf(error) ?? FAILURE_RETRY_MS, describeError(error), true);
}

/** 400 a validation failure, 401/403 authorization: the same request gets the same answer. */
function isPermanent(statusCode: number | undefined): boolean {
  return statusCode === 400 || statusCode === 401 || statusCode === 403;
}

/** ARM's Retry-After: carried by an ArmError, or still on the response of an SDK error; undefined otherwise. */
function retryAfterOf(error: unknown): number | undefined {
  if (error instanceof ArmError) return error.retryAfterInMs;
  return retryAfterInMsOf((error as { response?: { headers?: { get?(name: string): string | undefined } } } | null)?.response?.headers?.get?.("retry-after"));
}

/** What the queue does with the message that carried the work. */
export type QueueAction =
  | { readonly action: "complete" }
  | { readonly action: "requeue"; readonly visibilityTimeoutInSeconds: number; readonly failedAttempts: number; readonly reason: string }
  | { readonly action: "poison"; readonly reason: string };

/** Storage queues hide a message for at most 7 days. */
const MAX_VISIBILITY_SECONDS = 7 * 24 * 60 * 60;

/**
 * The one mapping from an outcome to the queue. `failedAttempts` counts the failures before this
 * delivery; the failure that reaches `maxAttempts` (host.json maxDequeueCount) poisons the item.
 */
export function queueActionFor(outcome: Outcome, failedAttempts: number, maxAttempts: number): QueueAction {
  switch (outcome.kind) {
    case "done":
      return { action: "complete" };
    case "terminal":
      return { action: "poison", reason: outcome.reason };
    case "retryAfter": {
      const failures = failedAttempts + (outcome.failed ? 1 : 0);
      if (failures >= maxAttempts) return { action: "poison", reason: `failed ${failures} times; last error: ${outcome.reason}` };
      const visibilityTimeoutInSeconds = Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil(outcome.retryAfterInMs / 1000)));
      return { action: "requeue", visibilityTimeoutInSeconds, failedAttempts: failures, reason: outcome.reason };
    }
  }
}
