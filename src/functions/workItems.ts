/**
 * Queue trigger: one work item (a subscription to sweep or machines to reconcile). Failures throw so
 * the host retries with backoff; on the last attempt (host.json maxDequeueCount) the item is recorded
 * as poisoned with its reason on the run before the host moves it to the poison queue. A message that
 * is not a work item at all is put on the poison queue with the reason and never retried.
 */
import { app, type InvocationContext } from "@azure/functions";
import { parseWorkItem, WORK_QUEUE } from "../state/workQueue.js";
import { poisonWorkItem, processWorkItem } from "../service/runs.js";
import { sharedService, type Service } from "../service/service.js";
import { InputError, describeError, toError } from "../errors.js";

export async function workItems(message: unknown, context: InvocationContext): Promise<void> {
  await handleWorkItemMessage(await sharedService(), message, Number(context.triggerMetadata?.["dequeueCount"] ?? 1));
}

export async function handleWorkItemMessage(service: Service, message: unknown, dequeueCount: number): Promise<void> {
  let item;
  try {
    item = parseWorkItem(typeof message === "string" ? JSON.parse(message) : message);
  } catch (error) {
    const reason = error instanceof InputError ? error.message : `not JSON: ${toError(error).message}`;
    await service.state.workQueue.sendToPoison(typeof message === "string" ? message : JSON.stringify(message), reason);
    service.logger.error({ runId: null, resourceId: null, reason }, "malformed work item moved to the poison queue");
    return;
  }
  try {
    await processWorkItem(service, item);
  } catch (error) {
    // Bad input (an unknown run, an id outside the scope) fails the same way every time: give up at once.
    const terminal = error instanceof InputError;
    if (!terminal && dequeueCount < service.maxDequeueCount) throw error;
    const reason = terminal ? `refused: ${error.message}` : `failed ${dequeueCount} times; last error: ${describeError(error)}`;
    try {
      await poisonWorkItem(service, item, reason);
    } catch (recordError) {
      // The run itself is gone or unreadable: the poison queue still keeps the item and the reason.
      await service.state.workQueue.sendToPoison(JSON.stringify(item), `${reason}; not recorded on run ${item.runId}: ${toError(recordError).message}`);
    }
    if (!terminal) throw error;
  }
}


app.storageQueue("workItems", { queueName: WORK_QUEUE, connection: "AzureWebJobsStorage", handler: workItems });
