/**
 * Queue trigger: one work item (a subscription to sweep or machines to reconcile). The work answers
 * with an Outcome (src/service/outcome.ts) and this is the one place it becomes a queue action:
 * done completes the message; retryAfter completes it and queues a copy that stays invisible for the
 * wait (counting failed attempts in the copy, up to host.json maxDequeueCount); terminal — and the
 * failure that uses up the attempts — records the item as poisoned on its run with the reason. A
 * message that is not a work item is put on the poison queue with the reason and never retried. The
 * handler throws only when Storage fails it, so the host's own retry covers exactly that.
 */
import { app, type InvocationContext } from "@azure/functions";
import { parseWorkItem, WORK_QUEUE, type WorkItem } from "../state/workQueue.js";
import { poisonWorkItem, processWorkItem, workItemResource } from "../service/runs.js";
import { queueActionFor, type QueueAction } from "../service/outcome.js";
import { sharedService, type Service } from "../service/service.js";
import { InputError, toError } from "../errors.js";
import { flushTelemetry } from "../telemetry/flush.js";

export async function workItems(message: unknown, context: InvocationContext): Promise<void> {
  await handleWorkItemMessage(await sharedService(), message, Number(context.triggerMetadata?.["dequeueCount"] ?? 1));
}

export async function handleWorkItemMessage(service: Service, message: unknown, dequeueCount: number): Promise<void> {
  let item: WorkItem;
  try {
    item = parseWorkItem(typeof message === "string" ? JSON.parse(message) : message);
  } catch (error) {
    const reason = error instanceof InputError ? error.message : `not JSON: ${toError(error).message}`;
    await service.state.workQueue.sendToPoison(typeof message === "string" ? message : JSON.stringify(message), reason);
    service.logger.error({ runId: null, resourceId: null, reason }, "malformed work item moved to the poison queue");
    return;
  }
  // Earlier deliveries of this very message ended without an outcome (the process died): failures too.
  const failedAttempts = (item.failedAttempts ?? 0) + Math.max(0, dequeueCount - 1);
  try {
    const outcome = await processWorkItem(service, item);
    await carryOut(service, item, queueActionFor(outcome, failedAttempts, service.maxDequeueCount));
  } finally {
    // The instance may stop before the next periodic export: this item's metrics and log records go now.
    await flushTelemetry(service.logger, { runId: item.runId, resourceId: workItemResource(item) });
  }
}

async function carryOut(service: Service, item: WorkItem, next: QueueAction): Promise<void> {
  switch (next.action) {
    case "complete":
      return;
    case "requeue": {
      const { failedAttempts: _previous, ...rest } = item;
      await service.state.workQueue.enqueue([{ ...rest, ...(next.failedAttempts > 0 ? { failedAttempts: next.failedAttempts } : {}) }], { visibilityTimeoutInSeconds: next.visibilityTimeoutInSeconds });
      service.logger.warn({ runId: item.runId, resourceId: workItemResource(item), workItemId: item.workItemId, retryInSeconds: next.visibilityTimeoutInSeconds, failedAttempts: next.failedAttempts, reason: next.reason }, "work item requeued");
      return;
    }
    case "poison":
      try {
        await poisonWorkItem(service, item, next.reason);
      } catch (recordError) {
        // The run itself is gone or unreadable: the poison queue still keeps the item and the reason.
        await service.state.workQueue.sendToPoison(JSON.stringify(item), `${next.reason}; not recorded on run ${item.runId}: ${toError(recordError).message}`);
      }
  }
}

app.storageQueue("workItems", { queueName: WORK_QUEUE, connection: "AzureWebJobsStorage", handler: workItems });
