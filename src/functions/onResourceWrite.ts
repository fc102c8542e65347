/**
 * Event Grid trigger (Microsoft.Resources subscription system topics): validates the event, notes what
 * it names (a machine, a resource group, a subscription, or every subscription for a configured shared
 * resource) as pending and returns. An unhandled error makes Event Grid redeliver, so only failures of
 * Storage (or of listing the subscriptions in scope) throw; bad or unrelated events are logged and dropped.
 */
import { app, type EventGridEvent, type InvocationContext } from "@azure/functions";
import { acceptEvent } from "../service/events.js";
import { sharedService } from "../service/service.js";

export async function onResourceWrite(event: EventGridEvent, _context: InvocationContext): Promise<void> {
  await acceptEvent(await sharedService(), event);
}

app.eventGrid("onResourceWrite", { handler: onResourceWrite });
