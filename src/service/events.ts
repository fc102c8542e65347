/**
 * Event Grid delivery: validate, keep what the service handles in scope, deduplicate by event id,
 * queue the machine and return fast (Event Grid retries anything slower than 30 s). The event only
 * names the machine; its state is re-read from Azure when the work item runs.
 */
import { parseEvent } from "../events/parse.js";
import { startRun } from "./runs.js";
import type { Service } from "./service.js";

export type EventDisposition =
  | { readonly outcome: "queued"; readonly runId: string }
  | { readonly outcome: "duplicate" | "ignored" | "rejected"; readonly reason: string };

/** Event ids are remembered longer than Event Grid keeps retrying a delivery (24 h). */
const DEDUPE_TTL_MS = 25 * 60 * 60 * 1000;

export async function acceptEvent(service: Service, delivered: unknown): Promise<EventDisposition> {
  const parsed = await parseEvent(delivered);
  const log = service.logger;
  if (parsed.outcome !== "accepted") {
    log.info({ runId: null, resourceId: null, outcome: parsed.outcome, reason: parsed.reason }, `event ${parsed.outcome}`);
    return { outcome: parsed.outcome, reason: parsed.reason };
  }
  const event = parsed.event;
  const scope = service.settings.subscriptions;
  if (scope.length > 0 && !scope.includes(event.subscriptionId)) {
    log.info({ runId: null, resourceId: event.resourceId, eventId: event.id }, "event ignored: subscription outside the configured scope");
    return { outcome: "ignored", reason: "subscription outside the configured scope" };
  }
  if (!(await service.state.dedupe.claim(event.id, DEDUPE_TTL_MS))) {
    log.info({ runId: null, resourceId: event.resourceId, eventId: event.id }, "event ignored: already delivered");
    return { outcome: "duplicate", reason: `event ${event.id} was already delivered` };
  }
  try {
    const run = await startRun(service, { trigger: "eventGrid", resourceIds: [event.resourceId] });
    log.info({ runId: run.runId, resourceId: event.resourceId, eventId: event.id, operation: event.operationName }, "event queued");
    return { outcome: "queued", runId: run.runId };
  } catch (error) {
    // Not queued: give the id back so Event Grid's retry is not mistaken for a duplicate.
    await service.state.dedupe.release(event.id);
    throw error;
  }
}
