/**
 * Event Grid deliveries -> what to reconcile, and why.
 *
 * The envelope is read by `@azure/eventgrid`'s EventGridDeserializer (Event Grid schema, or CloudEvents 1.0
 * when `specversion` is present) and typed with `isSystemEvent`; `filter.ts` decides which (type, operation)
 * pairs matter and `targets.ts` what each one names: a machine, a resource group or a subscription. An
 * event carries only an identity, never state (the reconciler re-reads it from Azure).
 *
 * Every input ends in exactly one bucket, and nothing here throws:
 *   accepted  an operation the service acts on, mapped to what to reconcile and the drift's cause
 *   ignored   well-formed but not ours (other event types, operations, resources, plans, unsuccessful operations)
 *   rejected  malformed (not an event, missing fields, bad ids, subscription mismatch, over 1 MB)
 */
import { EventGridDeserializer, isSystemEvent, type CloudEvent, type EventGridEvent } from "@azure/eventgrid";
import { tryParseResourceId } from "../azure/ids.js";
import type { DriftCause } from "../report/timing.js";
import { HANDLED_EVENT_TYPES, WRITE_FAILURE, ruleFor } from "./filter.js";
import { targetOf, type EventContext, type ReconcileScope } from "./targets.js";

export type { EventContext, ReconcileScope } from "./targets.js";

export interface ResourceEvent {
  readonly id: string;
  readonly eventType: string;
  readonly operationName: string;
  /** What `resourceId` names: a machine, a resource group (its machines), or a subscription to sweep (or every subscription in scope). */
  readonly scope: ReconcileScope;
  /**
   * What to reconcile: the machine (the written one, or the one an extension/DCRA belongs to), the resource
   * group, or `/subscriptions/<sub>` (for `everySubscription`, the subscription the event came from).
   */
  readonly resourceId: string;
  /** Why: what the event says put machines out of line. */
  readonly cause: DriftCause;
  /** Lower case. */
  readonly subscriptionId: string;
  readonly eventTime: Date;
  /** ARM's correlation id of the operation that raised the event. */
  readonly correlationId?: string;
}

export interface IgnoredEvent {
  readonly id?: string;
  readonly reason: string;
}

export interface RejectedEvent {
  /** Position in the delivered array (0 for a single object or a body that is not JSON at all). */
  readonly index: number;
  readonly reason: string;
}

export interface ParsedEvents {
  readonly accepted: ResourceEvent[];
  readonly ignored: IgnoredEvent[];
  readonly rejected: RejectedEvent[];
}

export type EventOutcome =
  | { readonly outcome: "accepted"; readonly event: ResourceEvent }
  | ({ readonly outcome: "ignored" } & IgnoredEvent)
  | { readonly outcome: "rejected"; readonly reason: string };

/** Event Grid refuses events over 1 MB; so do we, before any parsing work. */
export const MAX_EVENT_BYTES = 1024 * 1024;

const deserializer = new EventGridDeserializer();

/**
 * Parses a delivery: a request body (JSON text or already-parsed JSON) holding one event or an array,
 * in the Event Grid schema or CloudEvents 1.0 (each element's schema is detected on its own).
 */
export async function parseEvents(body: unknown, context: EventContext = {}): Promise<ParsedEvents> {
  const result: ParsedEvents = { accepted: [], ignored: [], rejected: [] };
  let decoded: unknown = body;
  if (typeof body === "string") {
    try {
      decoded = JSON.parse(body);
    } catch (error) {
      result.rejected.push({ index: 0, reason: oneLine(`body is not JSON: ${messageOf(error)}`) });
      return result;
    }
  }
  const events = Array.isArray(decoded) ? decoded : [decoded];
  for (const [index, event] of events.entries()) {
    const parsed = await parseEvent(event, context);
    if (parsed.outcome === "accepted") result.accepted.push(parsed.event);
    else if (parsed.outcome === "ignored") result.ignored.push({ ...(parsed.id !== undefined ? { id: parsed.id } : {}), reason: parsed.reason });
    else result.rejected.push({ index, reason: parsed.reason });
  }
  return result;
}

/**
 * Parses ONE event object, e.g. as the Functions Event Grid trigger delivers it (`EventGridEvent` from
 * @azure/functions, `eventTime` a string) or one CloudEvent. Never throws.
 */
export async function parseEvent(event: unknown, context: EventContext = {}): Promise<EventOutcome> {
  try {
    return await classify(event, context);
  } catch (error) {
    return rejected(`event could not be read: ${messageOf(error)}`);
  }
}

interface Envelope {
  readonly id: string;
  readonly eventType: string;
  readonly eventTime: Date | undefined;
  readonly topic: string | undefined;
  /** The SDK's deserialized event, for `isSystemEvent`. */
  readonly sdkEvent: { readonly schema: "cloudEvents"; readonly event: CloudEvent<unknown> } | { readonly schema: "eventGrid"; readonly event: EventGridEvent<unknown> };
}

async function classify(event: unknown, context: EventContext): Promise<EventOutcome> {
  if (event === null || typeof event !== "object" || Array.isArray(event)) {
    return rejected(`an event must be a JSON object, got ${event === null ? "null" : Array.isArray(event) ? "an array" : typeof event}`);
  }
  let bytes: number;
  try {
    bytes = Buffer.byteLength(JSON.stringify(event) ?? "", "utf8");
  } catch (error) {
    return rejected(`event is not JSON: ${messageOf(error)}`);
  }
  if (bytes > MAX_EVENT_BYTES) return rejected(`event is ${bytes} bytes, over Event Grid's 1 MB limit`);

  const envelope = await readEnvelope(event);
  if (typeof envelope === "string") return rejected(envelope);
  const { id } = envelope;
  if (id.trim() === "") return rejected("event id is empty");
  if (!envelope.eventTime || Number.isNaN(envelope.eventTime.getTime())) return rejected(`event ${id} has no valid event time`);

  // isSystemEvent types `data` for the event types the service subscribes to; others are not ours.
  const typed = resourceEventData(envelope.sdkEvent);
  if (!typed) return ignored(id, `event type ${brief(envelope.eventType)} is not handled`);
  // The type guard states what Azure promises; the payload is still checked field by field below.
  const data: unknown = typed.data;
  if (data === null || typeof data !== "object" || Array.isArray(data) || data instanceof Uint8Array) {
    return rejected(`event ${id}: data must be a JSON object`);
  }
  const fields = data as Record<string, unknown>;
  for (const name of ["operationName", "resourceUri", "status"] as const) {
    if (typeof fields[name] !== "string" || fields[name] === "") return rejected(`event ${id}: data.${name} must be a non-empty string`);
  }
  const operationName = fields["operationName"] as string;
  const resourceUri = fields["resourceUri"] as string;
  const status = fields["status"] as string;

  const rule = ruleFor(envelope.eventType, operationName);
  if (!rule) return ignored(id, `operation ${brief(operationName)} is not handled for ${brief(envelope.eventType)}`);
  // A failure event says so by its type; every other handled type must report success.
  const failureEvent = envelope.eventType.toLowerCase() === WRITE_FAILURE.toLowerCase();
  if (!failureEvent && status.toLowerCase() !== "succeeded") return ignored(id, `operation status is ${brief(status)}, not Succeeded`);

  const resource = tryParseResourceId(resourceUri);
  if (!resource) return rejected(`event ${id}: data.resourceUri is not an ARM resource id: ${brief(resourceUri)}`);
  const topic = envelope.topic === undefined ? undefined : tryParseResourceId(envelope.topic);
  if (!topic) return rejected(`event ${id}: topic/source ${brief(envelope.topic)} does not name a subscription`);
  if (topic.subscriptionId !== resource.subscriptionId) {
    return rejected(`event ${id}: topic subscription ${topic.subscriptionId} does not match resource subscription ${resource.subscriptionId}`);
  }
  const dataSubscription = fields["subscriptionId"];
  if (dataSubscription !== undefined && (typeof dataSubscription !== "string" || dataSubscription.toLowerCase() !== resource.subscriptionId)) {
    return rejected(`event ${id}: data.subscriptionId ${brief(dataSubscription)} does not match resource subscription ${resource.subscriptionId}`);
  }

  const target = targetOf(rule, resource, context);
  if ("ignored" in target) return ignored(id, target.ignored);
  const correlationId = fields["correlationId"];
  return {
    outcome: "accepted",
    event: {
      id,
      eventType: envelope.eventType,
      operationName,
      scope: target.scope,
      resourceId: target.resourceId,
      cause: rule.cause,
      subscriptionId: resource.subscriptionId,
      eventTime: envelope.eventTime,
      ...(typeof correlationId === "string" && correlationId !== "" ? { correlationId } : {}),
    },
  };
}

/** The typed data of a Microsoft.Resources event of a handled type, or undefined for any other type. */
function resourceEventData(sdkEvent: Envelope["sdkEvent"]): { readonly data: unknown } | undefined {
  if (sdkEvent.schema === "cloudEvents") {
    const { event } = sdkEvent;
    return HANDLED_EVENT_TYPES.some((type) => isSystemEvent(type, event)) ? { data: event.data } : undefined;
  }
  const { event } = sdkEvent;
  return HANDLED_EVENT_TYPES.some((type) => isSystemEvent(type, event)) ? { data: event.data } : undefined;
}

/** Reads the envelope through the SDK; returns a rejection reason instead of throwing. */
async function readEnvelope(event: object): Promise<Envelope | string> {
  if ("specversion" in event) {
    try {
      const [cloudEvent] = await deserializer.deserializeCloudEvents(event as Record<string, unknown>);
      if (!cloudEvent) return "not a CloudEvents 1.0 event";
      return { id: cloudEvent.id, eventType: cloudEvent.type, eventTime: cloudEvent.time, topic: cloudEvent.source, sdkEvent: { schema: "cloudEvents", event: cloudEvent } };
    } catch (error) {
      return `not a CloudEvents 1.0 event: ${messageOf(error)}`;
    }
  }
  try {
    const [gridEvent] = await deserializer.deserializeEventGridEvents(event as Record<string, unknown>);
    if (!gridEvent) return "not an Event Grid event";
    return { id: gridEvent.id, eventType: gridEvent.eventType, eventTime: gridEvent.eventTime, topic: gridEvent.topic, sdkEvent: { schema: "eventGrid", event: gridEvent } };
  } catch (error) {
    return `not an Event Grid schema event: ${messageOf(error)}`;
  }
}

function rejected(reason: string): EventOutcome {
  return { outcome: "rejected", reason: oneLine(reason) };
}

function ignored(id: string, reason: string): EventOutcome {
  return { outcome: "ignored", id, reason: oneLine(reason) };
}

function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "unreadable error"; // e.g. a thrown object without a prototype
  }
}

/** Reasons end up in logs and HTTP bodies: one line, bounded. */
function oneLine(text: string): string {
  const line = text.replace(/[\r\n\t]+/g, " ");
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

function brief(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = typeof value;
  }
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
