/**
 * Event Grid delivery: validate, keep what the service handles in scope, deduplicate by event id,
 * note the machine as pending for its subscription and return fast (Event Grid retries anything slower
 * than 30 s). The first event of a batching window schedules one flush work item per subscription; the
 * flush re-reads Azure for every machine noted meanwhile, so a burst shares the subscription's reads.
 */
import { parseEvent } from "../events/parse.js";
import { startRun } from "./runs.js";
import type { Service } from "./service.js";

export type EventDisposition =
  | { readonly outcome: "queued"; readonly runId: string }
  | { readonly outcome: "batched"; readonly reason: string }
  | { readonly outcome: "duplicate" | "ignored" | "rejected"; readonly reason: string };

/** Event ids are remembered longer than Event Grid keeps retrying a delivery (24 h). */
const DEDUPE_TTL_MS = 25 * 60 * 60 * 1000;

/**
 * Deletes the event-id and flush claims that have expired: claims are only ever checked for being
 * alive, so without this the dedupe table grows by one row per event forever. The timer runs it.
 */
export async function purgeExpiredClaims(service: Service): Promise<void> {
  const [events, flushes] = await Promise.all([service.state.dedupe.purgeExpired(), service.state.flushes.purgeExpired()]);
  service.logger.info({ runId: null, resourceId: null, events, flushes }, "expired dedupe claims purged");
}

export async function acceptEvent(service: Service, delivered: unknown): Promise<EventDisposition> {
  const parsed = await parseEvent(delivered);
  const { logger: log, state, settings } = service;
  if (parsed.outcome !== "accepted") {
    log.info({ runId: null, resourceId: null, outcome: parsed.outcome, reason: parsed.reason }, `event ${parsed.outcome}`);
    return { outcome: parsed.outcome, reason: parsed.reason };
  }
  const event = parsed.event;
  const scope = settings.subscriptions;
  if (scope.length > 0 && !scope.includes(event.subscriptionId)) {
    log.info({ runId: null, resourceId: event.resourceId, eventId: event.id }, "event ignored: subscription outside the configured scope");
    return { outcome: "ignored", reason: "subscription outside the configured scope" };
  }
  if (!(await state.dedupe.claim(event.id, DEDUPE_TTL_MS))) {
    log.info({ runId: null, resourceId: event.resourceId, eventId: event.id }, "event ignored: already delivered");
    return { outcome: "duplicate", reason: `event ${event.id} was already delivered` };
  }
  const windowMs = settings.eventBatchSeconds * 1000;
  let flushClaimed = false;
  try {
    await state.pending.add(event.subscriptionId, event.resourceId, event.id);
    flushClaimed = await state.flushes.claim(event.subscriptionId, Math.max(windowMs, 1));
    if (!flushClaimed) {
      log.info({ runId: null, resourceId: event.resourceId, eventId: event.id }, "event batched into the subscription's scheduled flush");
      return { outcome: "batched", reason: "joins the flush already scheduled for this subscription" };
    }
    const run = await startRun(service, { trigger: "eventGrid" }, { kind: "events", subscriptionId: event.subscriptionId }, { visibilityTimeoutInSeconds: settings.eventBatchSeconds });
    log.info({ runId: run.runId, resourceId: event.resourceId, eventId: event.id, operation: event.operationName }, "event queued");
    return { outcome: "queued", runId: run.runId };
  } catch (error) {
    // Not queued: give the ids back so Event Grid's retry is not mistaken for a duplicate.
    await state.dedupe.release(event.id);
    if (flushClaimed) await state.flushes.release(event.subscriptionId);
    throw error;
  }
}
