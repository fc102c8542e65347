/**
 * The remediation work queue (Azure Storage queue) and its poison queue.
 *
 * A work item names what to reconcile, nothing more: a subscription (full or incremental sweep, or an events flush) or a few
 * machines. Items are validated when enqueued AND when read back, so a malformed or foreign message is
 * rejected with a reason and never acted on. Message text is base64 of the item's JSON, which is what the
 * Functions queue trigger decodes by default (`extensions.queues.messageEncoding: base64`).
 */
import type { QueueClient } from "@azure/storage-queue";
import { SWEEP_BATCH_SUBSCRIPTIONS } from "../engine.js";
import { InputError } from "../errors.js";
import { parseWith, workItemSchema, type MachineWorkItem, type SubscriptionWorkItem, type WorkItem } from "../schemas.js";
import { sha256Hex } from "./keys.js";

/** Queue name used by the Functions registration (`app.storageQueue`) and by `enqueue`. */
export const WORK_QUEUE = "remediation-work";
/** Where the Functions host moves a message after `maxDequeueCount` failed attempts. */
export const poisonQueueName = (queueName: string): string => `${queueName}-poison`;

// The work item's shape lives with its schema; the queue's callers find it here too.
export type { MachineWorkItem, SubscriptionWorkItem, WorkItem } from "../schemas.js";

/** A Storage queue message holds at most 64 KiB. */
const MAX_MESSAGE_CHARS = 64 * 1024;
const ENQUEUE_CONCURRENCY = 16;

type NewSubscriptionWorkItem = Omit<SubscriptionWorkItem, "kind" | "workItemId" | "failedAttempts">;

/** A subscription work item with a deterministic id, so re-enqueueing the same sweep is recognised. */
export function subscriptionWorkItem(input: NewSubscriptionWorkItem): SubscriptionWorkItem {
  const subscriptionIds = [...new Set(input.subscriptionIds.map((id) => id.toLowerCase()))].sort();
  const scope = subscriptionIds.length === 1 ? `sub:${subscriptionIds[0]}` : `subs:${sha256Hex(subscriptionIds.join("\n")).slice(0, 32)}`;
  return parseWorkItem({ kind: "subscription", workItemId: `${scope}:${input.mode}`, ...input, subscriptionIds }) as SubscriptionWorkItem;
}

/** Subscription work items for a scope, at most SWEEP_BATCH_SUBSCRIPTIONS (one engine batch) each. */
export function subscriptionWorkItems(input: NewSubscriptionWorkItem): SubscriptionWorkItem[] {
  const items: SubscriptionWorkItem[] = [];
  for (let start = 0; start < input.subscriptionIds.length; start += SWEEP_BATCH_SUBSCRIPTIONS) {
    items.push(subscriptionWorkItem({ ...input, subscriptionIds: input.subscriptionIds.slice(start, start + SWEEP_BATCH_SUBSCRIPTIONS) }));
  }
  return items;
}

/** A machine work item whose id is derived from its (case-normalised, sorted) resource ids. */
export function machineWorkItem(input: Omit<MachineWorkItem, "kind" | "workItemId" | "failedAttempts">): MachineWorkItem {
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
  return parseWith(workItemSchema, value);
}

export function encodeWorkItem(item: WorkItem): string {
  const text = toBase64(JSON.stringify(parseWorkItem(item)));
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

/**
 * What this service writes to the poison queue itself, base64 like every queue message: why the work
 * was given up, and the work message's own text as the handler received it (after the queue's base64).
 */
interface PoisonEnvelope {
  readonly poisonReason: string;
  readonly payload: string;
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

  /** What the Functions host does after maxDequeueCount failed deliveries: the message moves as it is, without a reason. */
  async moveToPoison(message: Pick<ReceivedMessage, "messageId" | "popReceipt" | "messageText">): Promise<void> {
    await this.poisonQueue.sendMessage(message.messageText);
    await this.delete(message);
  }

  /**
   * Puts a work message on the poison queue with the reason (the caller disposes of the original).
   * `payload`: the message as the handler received it: a work item's JSON text, or whatever text came.
   */
  async sendToPoison(payload: string, reason: string): Promise<void> {
    const envelope: PoisonEnvelope = { poisonReason: reason.slice(0, 2_000), payload: payload.slice(0, 32_000) };
    await this.poisonQueue.sendMessage(toBase64(JSON.stringify(envelope)));
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

/** A poison message is either our envelope (reason inside) or a work message the host moved as it was. */
function describePoison(messageText: string): { item?: WorkItem; reason: string } {
  let envelope: Partial<PoisonEnvelope> | undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(messageText, "base64").toString("utf8"));
    if (value !== null && typeof value === "object" && "poisonReason" in value) envelope = value as Partial<PoisonEnvelope>;
  } catch {
    // Not JSON at all: reported below as undecodable.
  }
  if (envelope && typeof envelope.poisonReason === "string") {
    const item = typeof envelope.payload === "string" ? itemOf(envelope.payload) : undefined;
    return { ...(item ? { item } : {}), reason: envelope.poisonReason };
  }
  const decoded = decode(messageText);
  return decoded.ok ? { item: decoded.item, reason: HOST_POISON_REASON } : { reason: `malformed: ${decoded.reason}` };
}

/** The work item a poisoned payload holds, when it holds one. */
function itemOf(payload: string): WorkItem | undefined {
  try {
    return parseWorkItem(JSON.parse(payload));
  } catch {
    return undefined;
  }
}

function toBase64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}
