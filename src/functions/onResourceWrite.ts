/**
 * Event Grid trigger (Microsoft.Resources subscription system topics): validates the event, queues
 * the machine it names and returns. An unhandled error makes Event Grid redeliver, so only storage
 * failures throw; bad or unrelated events are logged and dropped.
 */
import { app, type EventGridEvent, type InvocationContext } from "@azure/functions";
import { acceptEvent } from "../service/events.js";
import { sharedService } from "../service/service.js";

export async function onResourceWrite(event: EventGridEvent, _context: InvocationContext): Promise<void> {
  await acceptEvent(await sharedService(), event);
}

app.eventGrid("onResourceWrite", { handler: onResourceWrite });
