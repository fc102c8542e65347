import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EVENT_GRID_LIMITS, EVENT_RULES, HANDLED_EVENT_TYPES, HANDLED_OPERATIONS, ruleFor } from "../../src/events/filter.js";
import { DELIVERY, eventGridFilter } from "../../infra/templates/eventGridSubscription.js";
import { eventGridDelivers, type EventGridFilter } from "../../local-azure/src/events.js";
import { allTemplates, asArray, asObject, lintTemplate, policyDeployment, readInfraFile, resourcesOf, type JsonObject } from "./templateLint.js";

/** The event subscription resource inside a subscription-scope wiring template. */
function eventSubscriptionOf(template: JsonObject): JsonObject {
  const found = allTemplates(template)
    .flatMap(({ template: inner }) => resourcesOf(inner))
    .filter((resource) => resource.type === "Microsoft.EventGrid/systemTopics/eventSubscriptions");
  if (found.length !== 1) throw new Error(`expected one event subscription, found ${found.length}`);
  return asObject(found[0]!.properties);
}

const wiring = readInfraFile("eventgrid-subscription.json");
const filter = asObject(eventSubscriptionOf(wiring).filter);
/** Whether Event Grid delivers an event of this type and operation through the rendered filter (local-azure/src/events.ts). */
const delivered = (eventType: string, operationName: string) => eventGridDelivers(filter as EventGridFilter, { eventType, data: { operationName } });

describe("Event Grid filter", () => {
  it("lists exactly the handler's event types and operations", () => {
    expect(filter.includedEventTypes).toEqual([...HANDLED_EVENT_TYPES]);
    expect(filter.advancedFilters).toEqual([{ operatorType: "StringIn", key: "data.operationName", values: [...HANDLED_OPERATIONS] }]);
  });

  it("stays within Event Grid's limits (25 advanced filters and 25 values across them per subscription, 512 characters each)", () => {
    const advanced = asArray(filter.advancedFilters);
    const values = advanced.flatMap((entry) => asArray(asObject(entry).values));
    expect(EVENT_GRID_LIMITS).toMatchObject({ advancedFilterValues: 25, advancedFilters: 25, valueLength: 512 });
    expect(advanced.length).toBeLessThanOrEqual(EVENT_GRID_LIMITS.advancedFilters);
    expect(values.length).toBeLessThanOrEqual(EVENT_GRID_LIMITS.advancedFilterValues);
    expect(values.every((value) => String(value).length <= EVENT_GRID_LIMITS.valueLength)).toBe(true);
  });

  it("the build refuses a filter Event Grid would refuse", () => {
    const tooMany = Array.from({ length: 26 }, (_, index) => `Microsoft.Example/things${index}/write`);
    expect(() => eventGridFilter(tooMany)).toThrow(/26 operations; Event Grid allows 25/);
    expect(() => eventGridFilter([`Microsoft.Example/${"x".repeat(520)}/write`])).toThrow(/at most 512 characters/);
  });

  it("delivers every event for each drift cause, ResourceActionSuccess and ResourceWriteFailure included", () => {
    for (const rule of EVENT_RULES) for (const type of rule.eventTypes) expect(delivered(type, rule.operation), `${type} ${rule.operation}`).toBe(true);
    expect(new Set(EVENT_RULES.map((rule) => rule.cause))).toEqual(new Set(["machineCreated", "arcMachineChanged", "machineStarted", "agentOrAssociationRemoved", "extensionFailed", "extensionChanged", "planEnabled", "sharedResourceDeleted", "optOutRemoved"]));
  });

  it("delivers nothing the handler could act on without, and the handler ignores what the filter cannot tell apart", () => {
    const otherTypes = ["Microsoft.Resources.ResourceActionFailure", "Microsoft.Resources.ResourceDeleteCancel", "Microsoft.Resources.ResourceWriteCancel"];
    const otherOperations = [
      "Microsoft.Compute/virtualMachines/delete",
      "Microsoft.Network/networkInterfaces/write",
      "Microsoft.Insights/dataCollectionRuleAssociations/write",
      "Microsoft.Compute/virtualMachines/deallocate/action",
      "Microsoft.Storage/storageAccounts/listKeys/action",
    ];
    const randomCase = (text: string) => fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }).map((upper) =>
      [...text].map((char, index) => (upper[index] ? char.toUpperCase() : char.toLowerCase())).join(""),
    );
    const eventType = fc.constantFrom(...HANDLED_EVENT_TYPES, ...otherTypes).chain(randomCase);
    const operationName = fc.constantFrom(...HANDLED_OPERATIONS, ...otherOperations).chain(randomCase);
    fc.assert(
      fc.property(eventType, operationName, (type, operation) => {
        // Event Grid's filter is "type in list AND operation in list": a superset of the handled pairs.
        if (ruleFor(type, operation)) expect(delivered(type, operation)).toBe(true);
        const known = HANDLED_EVENT_TYPES.some((handled) => handled.toLowerCase() === type.toLowerCase()) && HANDLED_OPERATIONS.some((handled) => handled.toLowerCase() === operation.toLowerCase());
        expect(delivered(type, operation)).toBe(known);
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
