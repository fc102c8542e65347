/**
 * The remediation work queue (Azure Storage queue) and its poison queue.
 *
 * A work item names what to reconcile, nothing more: a subscription (full or new-since sweep) or a few
 * machines. Items are validated when enqueued AND when read back, so a malformed or foreign message is
 * rejected with a reason and never acted on. Message text is base64 of the item's JSON, which is what the
 * Functions queue trigger decodes by default (`extensions.queues.messageEncoding: base64`).
 */
import type { QueueClient } from "@azure/storage-queue";
import { machineKindOf, tryParseResourceId, isGuid } from "../azure/ids.js";
import { InputError } from "../errors.js";
import { isRunId, isWorkItemId, sha256Hex } from "./keys.js";

/** Queue name used by the Functions registration (`app.storageQueue`) and by `enqueue`. */
export const WORK_QUEUE = "remediation-work";
/** Where the Functions host moves a message after `maxDequeueCount` failed attempts. */
export const poisonQueueName = (queueName: string): string => `${queueName}-poison`;

export interface SubscriptionWorkItem {
  readonly kind: "subscription";
  readonly workItemId: string;
  readonly runId: string;
  /**
   * Swept together (lower case, sorted, unique): one Resource Graph query answers for all of them.
   * An `events` flush names exactly one.
   */
  readonly subscriptionIds: readonly string[];
  readonly dryRun: boolean;
  /** `full`: every machine; `new-since`: machines created after `since`; `events`: the machines events named (pending). */
  readonly mode: "full" | "new-since" | "events";
  /** ISO 8601; required for `new-since`, absent otherwise. */
  readonly since?: string;
}

export interface MachineWorkItem {
  readonly kind: "machine";
  readonly workItemId: string;
  readonly runId: string;
  readonly resourceIds: readonly string[];
  readonly dryRun: boolean;
}

export type WorkItem = SubscriptionWorkItem | MachineWorkItem;

export const MAX_MACHINES_PER_WORK_ITEM = 50;
/** Subscriptions per sweep work item: what one Resource Graph query batch covers in the engine. */
export const MAX_SUBSCRIPTIONS_PER_WORK_ITEM = 200;
/** A Storage queue message holds at most 64 KiB. */
const MAX_MESSAGE_CHARS = 64 * 1024;
const ENQUEUE_CONCURRENCY = 16;

/** A subscription work item with a deterministic id, so re-enqueueing the same sweep is recognised. */
export function subscriptionWorkItem(input: Omit<SubscriptionWorkItem, "kind" | "workItemId" | "subscriptionIds"> & { readonly subscriptionIds: readonly string[] }): SubscriptionWorkItem {
  const subscriptionIds = [...new Set(input.subscriptionIds.map((id) => id.toLowerCase()))].sort();
  const scope = subscriptionIds.length === 1 ? `sub:${subscriptionIds[0]}` : `subs:${sha256Hex(subscriptionIds.join("\n")).slice(0, 32)}`;
  return parseWorkItem({ kind: "subscription", workItemId: `${scope}:${input.mode}`, ...input, subscriptionIds }) as SubscriptionWorkItem;
}

/** Subscription work items for a scope, at most MAX_SUBSCRIPTIONS_PER_WORK_ITEM subscriptions each. */
export function subscriptionWorkItems(input: Omit<SubscriptionWorkItem, "kind" | "workItemId" | "subscriptionIds"> & { readonly subscriptionIds: readonly string[] }): SubscriptionWorkItem[] {
  const items: SubscriptionWorkItem[] = [];
  for (let start = 0; start < input.subscriptionIds.length; start += MAX_SUBSCRIPTIONS_PER_WORK_ITEM) {
    items.push(subscriptionWorkItem({ ...input, subscriptionIds: input.subscriptionIds.slice(start, start + MAX_SUBSCRIPTIONS_PER_WORK_ITEM) }));
  }
  return items;
}

/** A machine work item whose id is derived from its (case-normalised, sorted) resource ids. */
export function machineWorkItem(input: Omit<MachineWorkItem, "kind" | "workItemId">): MachineWorkItem {
  const keys = [...new Set(input.resourceIds.map((id) => id.replace(/\/+$/, "").toLowerCase()))].sort();
  return parseWorkItem({
    kind: "machine",
    workItemId: `machines:${sha256Hex(keys.join("\n")).slice(0, 32)}`,
    ...input,
  }) as MachineWorkItem;
}

/**
 * Validates an untrusted value (a decoded queue message, what the Functions trigger hands over) as a
 * work item. Throws InputError with a one-line reason; unknown fields are refused too.
 */
export function parseWorkItem(value: unknown): WorkItem {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new InputError("work item must be a JSON object");
  const item = value as Record<string, unknown>;
  const allowed =
    item["kind"] === "subscription"
      ? ["kind", "workItemId", "runId", "subscriptionIds", "dryRun", "mode", "since"]
      : item["kind"] === "machine"
        ? ["kind", "workItemId", "runId", "resourceIds", "dryRun"]
        : undefined;
  if (!allowed) throw new InputError(`work item kind must be "subscription" or "machine", got ${brief(item["kind"])}`, "kind");
  const unknown = Object.keys(item).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) throw new InputError(`work item has unknown field(s): ${unknown.slice(0, 5).join(", ")}`, unknown[0]);
  if (!isWorkItemId(item["workItemId"])) throw new InputError("workItemId must be 1-128 letters, digits, '-', '_', '.' or ':'", "workItemId");
  if (!isRunId(item["runId"])) throw new InputError("runId must be 1-64 letters, digits, '-' or '_'", "runId");
  if (typeof item["dryRun"] !== "boolean") throw new InputError("dryRun must be a boolean", "dryRun");
  const common = { workItemId: item["workItemId"], runId: item["runId"], dryRun: item["dryRun"] };

  if (item["kind"] === "subscription") {
    const ids = item["subscriptionIds"];
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_SUBSCRIPTIONS_PER_WORK_ITEM || !ids.every((id) => typeof id === "string" && isGuid(id))) {
      throw new InputError(`subscriptionIds must be an array of 1-${MAX_SUBSCRIPTIONS_PER_WORK_ITEM} subscription ids (GUIDs)`, "subscriptionIds");
    }
    const subscriptionIds = [...new Set((ids as string[]).map((id) => id.toLowerCase()))].sort();
    const mode = item["mode"];
    if (mode !== "full" && mode !== "new-since" && mode !== "events") throw new InputError(`mode must be "full", "new-since" or "events", got ${brief(mode)}`, "mode");
    if (mode === "events" && subscriptionIds.length !== 1) throw new InputError("an events flush names exactly one subscription", "subscriptionIds");
    if (mode === "full" || mode === "events") {
      if (item["since"] !== undefined) throw new InputError("since is only allowed with mode new-since", "since");
      return { kind: "subscription", ...common, subscriptionIds, mode };
    }
    const since = item["since"];
    const sinceTime = typeof since === "string" && /^\d{4}-\d{2}-\d{2}T/.test(since) ? Date.parse(since) : Number.NaN;
    if (Number.isNaN(sinceTime)) throw new InputError("since must be an ISO 8601 date-time for mode new-since", "since");
    return { kind: "subscription", ...common, subscriptionIds, mode, since: new Date(sinceTime).toISOString() };
  }

  const resourceIds = item["resourceIds"];
  if (!Array.isArray(resourceIds) || resourceIds.length === 0 || resourceIds.length > MAX_MACHINES_PER_WORK_ITEM) {
    throw new InputError(`resourceIds must be an array of 1-${MAX_MACHINES_PER_WORK_ITEM} machine ids`, "resourceIds");
  }
  for (const [index, id] of resourceIds.entries()) {
    const parsed = typeof id === "string" ? tryParseResourceId(id) : undefined;
    if (!parsed || !machineKindOf(parsed)) {
      throw new InputError(`resourceIds[${index}] is not the id of a VM, Arc machine or SQL VM in a resource group: ${brief(id)}`, `resourceIds[${index}]`);
    }
  }
  return { kind: "machine", ...common, resourceIds: [...(resourceIds as string[])] };
}

export function encodeWorkItem(item: WorkItem): string {
  const text = Buffer.from(JSON.stringify(parseWorkItem(item)), "utf8").toString("base64");
  if (text.length > MAX_MESSAGE_CHARS) throw new InputError(`work item ${item.workItemId} is larger than a queue message (64 KiB)`, "workItemId");
  return text;
}

/** Decodes a base64 queue message text into a validated work item; throws InputError with the reason. */
export function decodeWorkItem(messageText: string): WorkItem {
  if (typeof messageText !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(messageText) || messageText.length % 4 !== 0) {
    throw new InputError("message is not base64 text");
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(messageText, "base64").toString("utf8"));
  } catch {
    throw new InputError("message is not base64-encoded JSON");
  }
  return parseWorkItem(value);
}

export type DecodedMessage = { readonly ok: true; readonly item: WorkItem } | { readonly ok: false; readonly reason: string };

export interface ReceivedMessage {
  readonly messageId: string;
  readonly popReceipt: string;
  readonly dequeueCount: number;
  readonly messageText: string;
  readonly decoded: DecodedMessage;
}

export interface PoisonMessage {
  readonly messageId: string;
  readonly insertedOn?: Date;
  /** The work item, when the message still decodes as one. */
  readonly item?: WorkItem;
  readonly reason: string;
}

/** What this service writes to the poison queue itself: the original text plus why it was given up. */
interface PoisonEnvelope {
  readonly poisonReason: string;
  readonly messageText: string;
}

const HOST_POISON_REASON = "failed on every attempt up to the queue's max dequeue count";

export class WorkQueue {
  constructor(
    private readonly queue: QueueClient,
    private readonly poisonQueue: QueueClient,
  ) {}

  get name(): string {
    return this.queue.name;
  }

  /** Validates every item first (all or nothing), then sends them with bounded concurrency. */
  async enqueue(items: readonly WorkItem[], options: { readonly visibilityTimeoutInSeconds?: number } = {}): Promise<void> {
    const texts = items.map(encodeWorkItem);
    for (let start = 0; start < texts.length; start += ENQUEUE_CONCURRENCY) {
      await Promise.all(
        texts.slice(start, start + ENQUEUE_CONCURRENCY).map((text) =>
          this.queue.sendMessage(text, {
            ...(options.visibilityTimeoutInSeconds !== undefined ? { visibilityTimeout: options.visibilityTimeoutInSeconds } : {}),
          }),
        ),
      );
    }
  }

  /** Takes up to `max` (1-32) messages out of sight for `visibilityTimeoutInSeconds`, each decoded or with its rejection reason. */
  async receive(options: { readonly max?: number; readonly visibilityTimeoutInSeconds?: number } = {}): Promise<ReceivedMessage[]> {
    const response = await this.queue.receiveMessages({
      numberOfMessages: options.max ?? 32,
      visibilityTimeout: options.visibilityTimeoutInSeconds ?? 300,
    });
    return response.receivedMessageItems.map((message) => ({
      messageId: message.messageId,
      popReceipt: message.popReceipt,
      dequeueCount: message.dequeueCount,
      messageText: message.messageText,
      decoded: decode(message.messageText),
    }));
  }

  async delete(message: Pick<ReceivedMessage, "messageId" | "popReceipt">): Promise<void> {
    await this.queue.deleteMessage(message.messageId, message.popReceipt);
  }

  /** Moves a received message to the poison queue with the reason it was given up. */
  async poison(message: Pick<ReceivedMessage, "messageId" | "popReceipt" | "messageText">, reason: string): Promise<void> {
    await this.sendToPoison(message.messageText, reason);
    await this.delete(message);
  }

  /** Puts a message's text on the poison queue with the reason (the caller disposes of the original). */
  async sendToPoison(messageText: string, reason: string): Promise<void> {
    const envelope: PoisonEnvelope = { poisonReason: reason.slice(0, 2_000), messageText: messageText.slice(0, 32_000) };
    await this.poisonQueue.sendMessage(Buffer.from(JSON.stringify(envelope), "utf8").toString("base64"));
  }

  /** Peeks (does not take) up to 32 poison messages, each with the reason it was given up. */
  async listPoison(max = 32): Promise<PoisonMessage[]> {
    const response = await this.poisonQueue.peekMessages({ numberOfMessages: max });
    return response.peekedMessageItems.map((message) => ({
      messageId: message.messageId,
      insertedOn: message.insertedOn,
      ...describePoison(message.messageText),
    }));
  }

  /** Approximate number of messages waiting (Storage's own estimate). */
  async approximateLength(): Promise<{ readonly work: number; readonly poison: number }> {
    const [work, poison] = await Promise.all([this.queue.getProperties(), this.poisonQueue.getProperties()]);
    return { work: work.approximateMessagesCount ?? 0, poison: poison.approximateMessagesCount ?? 0 };
  }
}

function decode(messageText: string): DecodedMessage {
  try {
    return { ok: true, item: decodeWorkItem(messageText) };
  } catch (error) {
    return { ok: false, reason: error instanceof InputError ? error.message : `undecodable message: ${String(error)}` };
  }
}

/** A poison message is either our envelope (reason inside) or a message the host moved as it was. */
function describePoison(messageText: string): { item?: WorkItem; reason: string } {
  let envelope: Partial<PoisonEnvelope> | undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(messageText, "base64").toString("utf8"));
    if (value !== null && typeof value === "object" && "poisonReason" in value) envelope = value as Partial<PoisonEnvelope>;
  } catch {
    // Not JSON at all: reported below as undecodable.
  }
  if (envelope && typeof envelope.poisonReason === "string") {
    const inner = typeof envelope.messageText === "string" ? decode(envelope.messageText) : undefined;
    return { ...(inner?.ok ? { item: inner.item } : {}), reason: envelope.poisonReason };
  }
  const decoded = decode(messageText);
  return decoded.ok ? { item: decoded.item, reason: HOST_POISON_REASON } : { reason: `malformed: ${decoded.reason}` };
}

function brief(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
