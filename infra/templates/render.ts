import { appTemplate } from "./app.js";
import type { JsonObject } from "./arm.js";
import { eventGridSubscriptionTemplate } from "./eventGridSubscription.js";
import { mainTemplate } from "./main.js";

/** The committed artifacts under infra/, by file name. */
export function renderTemplates(): Record<string, JsonObject> {
  return {
    "main.json": mainTemplate(),
    "app.json": appTemplate(),
    "eventgrid-subscription.json": eventGridSubscriptionTemplate(),
  };
}

/** The exact bytes written for a template: two-space JSON and a final newline. */
export function serializeTemplate(template: JsonObject): string {
  return `${JSON.stringify(template, null, 2)}\n`;
}
