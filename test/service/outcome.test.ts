/** The outcome vocabulary: how a thrown error is classified, and the one mapping from outcome to queue action. */
import { describe, expect, it } from "vitest";
import { ArmError, InputError, ScopeError, SettingsError } from "../../src/errors.js";
import { FAILURE_RETRY_MS, done, outcomeOfError, queueActionFor, retryAfter, terminal, type Outcome, type QueueAction } from "../../src/service/outcome.js";
import { BUSY_RETRY_MS, subscriptionsBusy } from "../../src/service/leases.js";

/** What an SDK RestError looks like before the gateway turns it into an ArmError: the response is still there. */
function restError(statusCode: number, headers: Record<string, string>): Error {
  return Object.assign(new Error(`HTTP ${statusCode}`), { statusCode, response: { headers: { get: (name: string) => headers[name.toLowerCase()] } } });
}

describe("outcomeOfError", () => {
  it.each<[string, unknown, Outcome]>([
    ["bad input", new InputError("runId must be 1-64 letters"), terminal("refused: runId must be 1-64 letters")],
    ["outside the scope", new ScopeError("subscription x is outside the configured scope"), terminal("refused: subscription x is outside the configured scope")],
    ["a bad setting", new SettingsError("ARM_ENDPOINT must be https"), terminal("refused: ARM_ENDPOINT must be https")],
    ["ARM 403 AuthorizationFailed", new ArmError("AuthorizationFailed", "no read", { statusCode: 403 }), terminal("refused by Azure: AuthorizationFailed: no read")],
    ["ARM 403 RequestDisallowedByPolicy", new ArmError("RequestDisallowedByPolicy", "denied", { statusCode: 403, correlationId: "c-1" }), terminal("refused by Azure: RequestDisallowedByPolicy: denied (correlation id c-1)")],
    ["ARM 401", new ArmError("InvalidAuthenticationToken", "expired", { statusCode: 401 }), terminal("refused by Azure: InvalidAuthenticationToken: expired")],
    ["ARM 400 validation", new ArmError("InvalidRequestContent", "bad body", { statusCode: 400 }), terminal("refused by Azure: InvalidRequestContent: bad body")],
    ["ARM 409", new ArmError("Conflict", "another operation", { statusCode: 409 }), retryAfter(FAILURE_RETRY_MS, "Conflict: another operation", true)],
    ["ARM 429 without Retry-After", new ArmError("TooManyRequests", "slow down", { statusCode: 429 }), retryAfter(FAILURE_RETRY_MS, "TooManyRequests: slow down", true)],
    ["ARM 503", new ArmError("ServiceUnavailable", "later", { statusCode: 503 }), retryAfter(FAILURE_RETRY_MS, "ServiceUnavailable: later", true)],
    ["ARM 429 whose Retry-After the gateway kept", new ArmError("TooManyRequests", "slow down", { statusCode: 429, retryAfterInMs: 12_000 }), retryAfter(12_000, "TooManyRequests: slow down", true)],
    ["a 429 with Retry-After: 7", restError(429, { "retry-after": "7" }), retryAfter(7_000, "HTTP 429", true)],
    ["a 500 with an unusable Retry-After", restError(500, { "retry-after": "soon" }), retryAfter(FAILURE_RETRY_MS, "HTTP 500", true)],
    ["a dropped connection", Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), retryAfter(FAILURE_RETRY_MS, "socket hang up", true)],
  ])("%s", (_name, error, expected) => {
    expect(outcomeOfError(error)).toEqual(expected);
  });
});

describe("queueActionFor (max 5 attempts)", () => {
  it.each<[string, Outcome, number, QueueAction]>([
    ["done completes", done, 0, { action: "complete" }],
    ["done after failures still completes", done, 4, { action: "complete" }],
    ["terminal poisons on the first delivery", terminal("refused: x"), 0, { action: "poison", reason: "refused: x" }],
    ["a first failure requeues after the wait", retryAfter(30_000, "Conflict", true), 0, { action: "requeue", visibilityTimeoutInSeconds: 30, failedAttempts: 1, reason: "Conflict" }],
    ["a wait rounds up to whole seconds", retryAfter(1_500, "x", true), 1, { action: "requeue", visibilityTimeoutInSeconds: 2, failedAttempts: 2, reason: "x" }],
    ["no wait is still one second", retryAfter(0, "x", true), 0, { action: "requeue", visibilityTimeoutInSeconds: 1, failedAttempts: 1, reason: "x" }],
    ["a wait past 7 days is cut to the queue's limit", retryAfter(30 * 24 * 3600_000, "x", true), 0, { action: "requeue", visibilityTimeoutInSeconds: 7 * 24 * 3600, failedAttempts: 1, reason: "x" }],
    ["the failure that uses up the attempts poisons", retryAfter(30_000, "ServiceUnavailable", true), 4, { action: "poison", reason: "failed 5 times; last error: ServiceUnavailable" }],
    ["a busy lease requeues without spending an attempt", subscriptionsBusy(["s-1"]), 4, { action: "requeue", visibilityTimeoutInSeconds: BUSY_RETRY_MS / 1000, failedAttempts: 4, reason: "1 subscription(s) busy, e.g. /subscriptions/s-1" }],
  ])("%s", (_name, outcome, failedAttempts, expected) => {
    expect(queueActionFor(outcome, failedAttempts, 5)).toEqual(expected);
  });
});
