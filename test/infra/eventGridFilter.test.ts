import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HANDLED_EVENT_TYPES, HANDLED_OPERATIONS, isHandled } from "../../src/events/filter.js";
import { DELIVERY } from "../../infra/templates/eventGridSubscription.js";
import { allTemplates, asArray, asObject, lintTemplate, policyDeployment, readInfraFile, resourcesOf, type JsonObject } from "./templateLint.js";

/** The event subscription resource inside a subscription-scope wiring template. */
function eventSubscriptionOf(template: JsonObject): JsonObject {
  const found = allTemplates(template)
    .flatMap(({ template: inner }) => resourcesOf(inner))
    .filter((resource) => resource.type === "Microsoft.EventGrid/systemTopics/eventSubscriptions");
  if (found.length !== 1) throw new Error(`expected one event subscription, found ${found.length}`);
  return asObject(found[0]!.properties);
}

/**
 * What Event Grid delivers for a filter (https://learn.microsoft.com/azure/event-grid/event-filtering):
 * event type in includedEventTypes, and every advanced filter true; string comparisons ignore case.
 * Only the operators the template uses are modelled; any other fails loudly.
 */
function eventGridDelivers(filter: JsonObject, event: { eventType: string; data: { operationName: string } }): boolean {
  const types = asArray(filter.includedEventTypes).map((type) => String(type).toLowerCase());
  if (!types.includes(event.eventType.toLowerCase())) return false;
  return asArray(filter.advancedFilters ?? []).every((advanced) => {
    const { operatorType, key, values } = asObject(advanced);
    if (operatorType !== "StringIn" || key !== "data.operationName") throw new Error(`unmodelled filter ${String(operatorType)} on ${String(key)}`);
    return asArray(values).some((value) => String(value).toLowerCase() === event.data.operationName.toLowerCase());
  });
}

const wiring = readInfraFile("eventgrid-subscription.json");
const filter = asObject(eventSubscriptionOf(wiring).filter);

describe("Event Grid filter", () => {
  it("lists exactly the handler's event types and operations", () => {
    expect(filter.includedEventTypes).toEqual([...HANDLED_EVENT_TYPES]);
    expect(filter.advancedFilters).toEqual([{ operatorType: "StringIn", key: "data.operationName", values: [...HANDLED_OPERATIONS] }]);
  });

  it("stays within Event Grid's limits (25 advanced filter values per subscription, 512 characters each)", () => {
    const values = asArray(filter.advancedFilters).flatMap((advanced) => asArray(asObject(advanced).values));
    expect(values.length).toBeLessThanOrEqual(25);
    expect(values.every((value) => String(value).length <= 512)).toBe(true);
  });

  it("delivers exactly the events the handler accepts", () => {
    const otherTypes = ["Microsoft.Resources.ResourceWriteFailure", "Microsoft.Resources.ResourceActionSuccess", "Microsoft.Resources.ResourceDeleteCancel"];
    const otherOperations = [
      "Microsoft.Compute/virtualMachines/delete",
      "Microsoft.Network/networkInterfaces/write",
      "Microsoft.Compute/virtualMachines/extensions/write",
      "Microsoft.Insights/dataCollectionRuleAssociations/write",
      "Microsoft.Compute/virtualMachines/start/action",
    ];
    const randomCase = (text: string) => fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }).map((upper) =>
      [...text].map((char, index) => (upper[index] ? char.toUpperCase() : char.toLowerCase())).join(""),
    );
    const eventType = fc.constantFrom(...HANDLED_EVENT_TYPES, ...otherTypes).chain(randomCase);
    const operationName = fc.constantFrom(...HANDLED_OPERATIONS, ...otherOperations).chain(randomCase);
    fc.assert(
      fc.property(eventType, operationName, (type, operation) => {
        expect(eventGridDelivers(filter, { eventType: type, data: { operationName: operation } })).toBe(isHandled(type, operation));
      }),
    );
  });

  it("delivers one event per call to the Azure Function, retries, and dead-letters with an identity", () => {
    const subscription = eventSubscriptionOf(wiring);
    expect(subscription.destination).toEqual({
      endpointType: "AzureFunction",
      properties: { resourceId: "[parameters('functionResourceId')]", maxEventsPerBatch: 1, preferredBatchSizeInKilobytes: 64 },
    });
    expect(subscription.retryPolicy).toEqual(DELIVERY);
    expect(DELIVERY.maxDeliveryAttempts).toBeGreaterThanOrEqual(1);
    expect(DELIVERY.maxDeliveryAttempts).toBeLessThanOrEqual(30);
    expect(DELIVERY.eventTimeToLiveInMinutes).toBeLessThanOrEqual(1440);
    expect(subscription.deadLetterWithResourceIdentity).toMatchObject({
      identity: { type: "UserAssigned", userAssignedIdentity: "[parameters('eventGridIdentityId')]" },
      deadLetterDestination: { endpointType: "StorageBlob" },
    });
  });

  it("targets the function app.json names as the Event Grid trigger", () => {
    const outputs = asObject(readInfraFile("app.json").outputs);
    expect(asObject(outputs.eventGridFunctionResourceId).value).toBe("[format('{0}/functions/onResourceWrite', resourceId('Microsoft.Web/sites', parameters('appName')))]");
  });
});

describe("the policy's embedded deployment", () => {
  const main = readInfraFile("main.json");

  it("is infra/eventgrid-subscription.json, unchanged", () => {
    expect(asObject(policyDeployment(main).properties).template).toEqual(wiring);
  });

  it("passes the template checks", () => {
    const template = asObject(asObject(policyDeployment(main).properties).template);
    expect(allTemplates(template).flatMap(({ template: inner }) => lintTemplate(inner))).toEqual([]);
    expect(asObject(eventSubscriptionOf(template).filter)).toEqual(filter);
  });
});
