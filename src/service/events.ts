/**
 * Event Grid delivery: validate, keep what the service handles in scope, deduplicate by event id,
 * note what the event named (a machine, a resource group or the whole subscription, with the drift's
 * cause and eventTime) as pending for its subscription and return fast (Event Grid retries anything
 * slower than 30 s). The first event of a batching window schedules one flush work item per
 * subscription; the flush re-reads Azure for everything noted meanwhile, so a burst shares the
 * subscription's reads and a burst of subscription-wide events becomes one sweep.
 */
import { confirmationsFor, resolveSubscriptions } from "../engine.js";
import { parseEvent, type ResourceEvent } from "../events/parse.js";
import { eventContextOf } from "../events/targets.js";
import { WRITE_SUCCESS } from "../events/filter.js";
import { operationEndedOf } from "../events/operationEnded.js";
import type { PendingNaming } from "../state/pendingMachines.js";
import { startRun } from "./runs.js";
import type { Service } from "./service.js";

export type EventDisposition =
  | { readonly outcome: "queued"; readonly runId: string }
  | { readonly outcome: "batched"; readonly reason: string }
  | { readonly outcome: "duplicate" | "ignored" | "rejected"; readonly reason: string };

/** Event ids are remembered longer than Event Grid keeps retrying a delivery (24 h). */
const DEDUPE_TTL_MS = 25 * 60 * 60 * 1000;

/**
 * Deletes the event-id and flush claims that have expired, and past days' reinstall counts: claims are
 * only ever checked for being alive, so without this the dedupe table grows by one row per event forever.
 * The timer runs it.
 */
export async function purgeExpiredClaims(service: Service): Promise<void> {
  const [events, flushes, reinstallCounts] = await Promise.all([service.state.dedupe.purgeExpired(), service.state.flushes.purgeExpired(), service.state.reinstalls.purgeBefore()]);
  service.logger.info({ runId: null, resourceId: null, events, flushes, reinstallCounts }, "expired dedupe claims purged");
}

export async function acceptEvent(service: Service, delivered: unknown): Promise<EventDisposition> {
  const { logger: log, state, settings } = service;
  const parsed = await parseEvent(delivered, eventContextOf(settings));
  if (parsed.outcome !== "accepted") {
    log.info({ runId: null, resourceId: null, outcome: parsed.outcome, reason: parsed.reason }, `event ${parsed.outcome}`);
    return { outcome: parsed.outcome, reason: parsed.reason };
  }
  const event = parsed.event;
  const logged = { runId: null, resourceId: event.resourceId, eventId: event.id, cause: event.cause };
  const scope = settings.subscriptions;
  // A configured workspace or rule may live outside the scope and still serve every subscription in it.
  if (event.scope !== "everySubscription" && scope.length > 0 && !scope.includes(event.subscriptionId)) {
    log.info(logged, "event ignored: subscription outside the configured scope");
    return { outcome: "ignored", reason: "subscription outside the configured scope" };
  }
  // The end of an operation this process may be waiting on: settled now, without a read or Resource Graph's lag.
  const ended = operationEndedOf(event);
  if (ended) confirmationsFor(service.gateway, settings).hear(ended);
  // A write the service made itself and ARM finished: the run that made it confirms it; a re-check would only spend reads.
  if (event.eventType === WRITE_SUCCESS && event.correlationId && (await state.ownWrites.isClaimed(event.correlationId))) {
    log.info(logged, "event ignored: the service's own write");
    return { outcome: "ignored", reason: "the service's own write" };
  }
  if (!(await state.dedupe.claim(event.id, DEDUPE_TTL_MS))) {
    log.info(logged, "event ignored: already delivered");
    return { outcome: "duplicate", reason: `event ${event.id} was already delivered` };
  }
  // Anything wider than a machine (a plan, a shared resource, a group's tags) may change what the shared reads hold.
  if (event.scope !== "machine") service.sharedReads.forget(event.scope === "everySubscription" ? undefined : event.subscriptionId);
  const windowMs = settings.eventBatchSeconds * 1000;
  const claimed: string[] = [];
  try {
    const subscriptionIds = event.scope === "everySubscription" ? await resolveSubscriptions(undefined, settings, service.gateway) : [event.subscriptionId];
    for (const subscriptionId of subscriptionIds) {
      await state.pending.add(subscriptionId, pendingNaming(event, subscriptionId));
      if (await state.flushes.claim(subscriptionId, Math.max(windowMs, 1))) claimed.push(subscriptionId);
    }
    if (claimed.length === 0) {
      log.info(logged, "event batched into the subscription's scheduled flush");
      return { outcome: "batched", reason: "joins the flush already scheduled for this subscription" };
    }
    const run = await startRun(service, { trigger: "eventGrid" }, { kind: "events", subscriptionIds: claimed }, { visibilityTimeoutInSeconds: settings.eventBatchSeconds });
    log.info({ ...logged, runId: run.runId, operation: event.operationName, scope: event.scope, flushes: claimed.length }, "event queued");
    return { outcome: "queued", runId: run.runId };
  } catch (error) {
    // Not queued: give the ids back so Event Grid's retry is not mistaken for a duplicate.
    await state.dedupe.release(event.id);
    await Promise.all(claimed.map((subscriptionId) => state.flushes.release(subscriptionId)));
    throw error;
  }
}

/** What the event leaves pending in one subscription: a subscription-wide event is a sweep of it. */
function pendingNaming(event: ResourceEvent, subscriptionId: string): PendingNaming {
  const named = { cause: event.cause, since: event.eventTime, eventId: event.id };
  switch (event.scope) {
    case "machine":
    case "resourceGroup":
      return { ...named, scope: event.scope, resourceId: event.resourceId };
    case "subscription":
    case "everySubscription":
      return { ...named, scope: "subscription", resourceId: `/subscriptions/${subscriptionId}` };
  }
}
