/**
 * What the Azure Functions host does around our handlers, for machines where Core Tools cannot be
 * installed: deliver queue messages to the same queue handler (base64-decoded, JSON-parsed, with the
 * dequeue count), complete them when it returns, and move a message whose handler threw on each of
 * `maxDequeueCount` deliveries to the poison queue as it is. Only the delivery is emulated here; every
 * decision (retry after a wait, poison with a reason) stays in the handlers.
 */
import { handleWorkItemMessage } from "../src/functions/workItems.js";
import type { Service } from "../src/service/service.js";
import { setTimeout as sleep } from "node:timers/promises";

export interface PumpOptions {
  /** How long a taken message stays invisible before it is retried (the host's visibilityTimeout). */
  readonly visibilityTimeoutInSeconds?: number;
  readonly batchSize?: number;
}

/** Takes one batch off the work queue and hands each message to the queue handler. Returns how many were taken. */
export async function pumpWorkQueue(service: Service, options: PumpOptions = {}): Promise<number> {
  const queue = service.state.workQueue;
  const messages = await queue.receive({ max: options.batchSize ?? 16, visibilityTimeoutInSeconds: options.visibilityTimeoutInSeconds ?? 5 });
  await Promise.all(
    messages.map(async (message) => {
      try {
        await handleWorkItemMessage(service, hostDecoded(message.messageText), message.dequeueCount);
        await queue.delete(message);
      } catch {
        // The handler threw (Storage failed it): as the real host, move the message as it is once it has
        // been delivered maxDequeueCount times; until then it reappears after its visibility timeout.
        if (message.dequeueCount >= service.maxDequeueCount) await queue.moveToPoison(message);
      }
    }),
  );
  return messages.length;
}

/** Drains the queue until it stays empty (work items may queue more work, e.g. a busy subscription). */
export async function drainWorkQueue(service: Service, options: PumpOptions & { readonly idleRounds?: number; readonly pauseInMs?: number } = {}): Promise<void> {
  let idle = 0;
  while (idle < (options.idleRounds ?? 2)) {
    const taken = await pumpWorkQueue(service, options);
    idle = taken === 0 ? idle + 1 : 0;
    if (taken === 0) await sleep(options.pauseInMs ?? 100);
  }
}

/** The host base64-decodes queue messages and hands JSON to Node workers as parsed objects. */
function hostDecoded(messageText: string): unknown {
  const text = Buffer.from(messageText, "base64").toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
