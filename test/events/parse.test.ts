import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_EVENT_BYTES, parseEvent, parseEvents } from "../../src/events/parse.js";
import { asCloudEvent, resourceWriteEvent } from "../../local-azure/src/events.js";

const SUB = "8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-sql-prod`;
const VM = `${RG}/providers/Microsoft.Compute/virtualMachines/sqlvm-01`;

/** The sample of docs/azure-domain.md §8.2 (abbreviated ids filled in). */
function gridEvent(overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}): Record<string, unknown> {
  return resourceWriteEvent(VM, overrides, data);
}

/** The same event in CloudEvents 1.0 (docs/azure-domain.md §8.3). */
function cloudEvent(overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}): Record<string, unknown> {
  return asCloudEvent(gridEvent({}, data), overrides);
}

const acceptedVm = {
  id: "6a1e0c7e-2f5b-4d7e-8a61-1f0b9f3c2d11",
  eventType: "Microsoft.Resources.ResourceWriteSuccess",
  operationName: "Microsoft.Compute/virtualMachines/write",
  resourceId: VM,
  subscriptionId: SUB,
  eventTime: new Date("2026-11-24T09:15:02.123Z"),
  correlationId: "c0a8f3d2-9b7e-4d16-a2c4-5e6f7a8b9c0d",
};

describe("parseEvents", () => {
  it("accepts the Event Grid schema sample, as a JSON string array", async () => {
    expect(await parseEvents(JSON.stringify([gridEvent()]))).toEqual({ accepted: [acceptedVm], ignored: [], rejected: [] });
  });

  it("accepts the same event as CloudEvents 1.0, and single objects as well as arrays", async () => {
    expect((await parseEvents(cloudEvent())).accepted).toEqual([acceptedVm]);
    expect((await parseEvents(gridEvent())).accepted).toEqual([acceptedVm]);
    expect((await parseEvents(JSON.stringify(cloudEvent()))).accepted).toEqual([acceptedVm]);
    expect(await parseEvents([])).toEqual({ accepted: [], ignored: [], rejected: [] });
  });

  it.each([
    ["a VM extension removed", "Microsoft.Resources.ResourceDeleteSuccess", "Microsoft.Compute/virtualMachines/extensions/delete", `${VM}/extensions/AzureMonitorWindowsAgent`, VM],
    ["an Arc extension removed", "Microsoft.Resources.ResourceDeleteSuccess", "Microsoft.HybridCompute/machines/extensions/delete", `${RG}/providers/Microsoft.HybridCompute/machines/arc-01/extensions/AzureMonitorLinuxAgent`, `${RG}/providers/Microsoft.HybridCompute/machines/arc-01`],
    ["a DCR association removed", "Microsoft.Resources.ResourceDeleteSuccess", "Microsoft.Insights/dataCollectionRuleAssociations/delete", `${VM}/providers/Microsoft.Insights/dataCollectionRuleAssociations/dcra-1`, VM],
    ["a SQL VM written", "Microsoft.Resources.ResourceWriteSuccess", "Microsoft.SqlVirtualMachine/sqlVirtualMachines/write", `${RG}/providers/Microsoft.SqlVirtualMachine/sqlVirtualMachines/sqlvm-01`, `${RG}/providers/Microsoft.SqlVirtualMachine/sqlVirtualMachines/sqlvm-01`],
  ])("maps %s to the machine", async (_name, eventType, operationName, resourceUri, machine) => {
    const result = await parseEvents([gridEvent({ eventType, subject: resourceUri }, { operationName, resourceUri })]);
    expect(result.accepted.map((event) => [event.resourceId, event.operationName])).toEqual([[machine, operationName]]);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ["another event type", gridEvent({ eventType: "Microsoft.Resources.ResourceActionSuccess" }), /event type .* is not handled/],
    ["a failed write", gridEvent({ eventType: "Microsoft.Resources.ResourceWriteFailure" }), /not handled/],
    ["another operation", gridEvent({}, { operationName: "Microsoft.Network/networkInterfaces/write", resourceUri: `${RG}/providers/Microsoft.Network/networkInterfaces/nic-1` }), /operation .* is not handled/],
    ["a status other than Succeeded", gridEvent({}, { status: "Accepted" }), /not Succeeded/],
    ["a DCRA on something that is not a machine", gridEvent({ eventType: "Microsoft.Resources.ResourceDeleteSuccess" }, { operationName: "Microsoft.Insights/dataCollectionRuleAssociations/delete", resourceUri: `${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/ss/providers/Microsoft.Insights/dataCollectionRuleAssociations/d` }), /is not a machine/],
    ["a subscription validation event", gridEvent({ eventType: "Microsoft.EventGrid.SubscriptionValidationEvent" }, {}), /not handled/],
  ])("ignores %s with a reason", async (_name, event, reason) => {
    const result = await parseEvents([event]);
    expect(result.accepted).toEqual([]);
    expect(result.rejected).toEqual([]);
    expect(result.ignored).toEqual([{ id: "6a1e0c7e-2f5b-4d7e-8a61-1f0b9f3c2d11", reason: expect.stringMatching(reason) }]);
  });

  it.each<[string, unknown, RegExp]>([
    ["a number", 42, /must be a JSON object, got number/],
    ["null", null, /got null/],
    ["a nested array", [[gridEvent()]], /got an array/],
    ["an Event Grid event without an id", gridEvent({ id: undefined }), /missing required property 'id'/],
    ["an Event Grid event with metadataVersion 2", gridEvent({ metadataVersion: "2" }), /not in the Event Grid schema/],
    ["a CloudEvent of spec 0.3", cloudEvent({ specversion: "0.3" }), /CloudEvents 1\.0/],
    ["a CloudEvent without time", cloudEvent({ time: undefined }), /no valid event time/],
    ["an unparseable time", gridEvent({ eventTime: "yesterday" }), /no valid event time/],
    ["data that is not an object", gridEvent({ data: "hello" }), /data/],
    ["data without resourceUri", gridEvent({}, { resourceUri: undefined }), /data\.resourceUri must be/],
    ["a resourceUri that is no ARM id", gridEvent({}, { resourceUri: "/subscriptions/x/../../etc" }), /not an ARM resource id/],
    ["a topic from another subscription", gridEvent({ topic: "/subscriptions/11111111-2222-3333-4444-555555555555" }), /does not match/],
    ["a CloudEvent source from another subscription", cloudEvent({ source: "/subscriptions/11111111-2222-3333-4444-555555555555" }), /does not match/],
    ["a data.subscriptionId from another subscription", gridEvent({}, { subscriptionId: "11111111-2222-3333-4444-555555555555" }), /does not match/],
    ["a topic that is no subscription", gridEvent({ topic: "not-a-topic" }), /does not name a subscription/],
    ["an event over 1 MB", gridEvent({}, { padding: "x".repeat(MAX_EVENT_BYTES) }), /over Event Grid's 1 MB limit/],
  ])("rejects %s with a one-line reason", async (_name, event, reason) => {
    const result = await parseEvents(Array.isArray(event) ? event : [gridEvent(), event]);
    const expectedIndex = Array.isArray(event) ? 0 : 1;
    expect(result.rejected).toEqual([{ index: expectedIndex, reason: expect.stringMatching(reason) }]);
    expect(result.rejected[0]?.reason).not.toMatch(/\n/);
  });

  it("rejects a body that is not JSON", async () => {
    expect(await parseEvents("[{not json")).toEqual({ accepted: [], ignored: [], rejected: [{ index: 0, reason: expect.stringMatching(/^body is not JSON/) }] });
  });

  it("sorts a mixed batch into the three buckets by position", async () => {
    const result = await parseEvents([gridEvent(), { nonsense: true }, cloudEvent({ id: "other", type: "Microsoft.Storage.BlobCreated" }), cloudEvent({ id: "second" })]);
    expect(result.accepted.map((event) => event.id)).toEqual(["6a1e0c7e-2f5b-4d7e-8a61-1f0b9f3c2d11", "second"]);
    expect(result.ignored.map((event) => event.id)).toEqual(["other"]);
    expect(result.rejected.map((event) => event.index)).toEqual([1]);
  });
});

describe("parseEvent (one event from the Functions trigger)", () => {
  it("takes the trigger's EventGridEvent with a string eventTime", async () => {
    expect(await parseEvent(gridEvent())).toEqual({ outcome: "accepted", event: acceptedVm });
  });

  it("never throws, even for hostile objects", async () => {
    const hostile = Object.defineProperty({}, "specversion", { enumerable: true, get: () => { throw Object.create(null); } });
    const cyclic: Record<string, unknown> = { ...gridEvent() };
    cyclic["self"] = cyclic;
    expect((await parseEvent(hostile)).outcome).toBe("rejected");
    expect(await parseEvent(cyclic)).toEqual({ outcome: "rejected", reason: expect.stringMatching(/not JSON/) });
    expect((await parseEvent(Object.create(null))).outcome).toBe("rejected");
    expect((await parseEvent(10n)).outcome).toBe("rejected");
  });
});

describe("properties", () => {
  const noThrow = async (body: unknown) => {
    const result = await parseEvents(body);
    const count = result.accepted.length + result.ignored.length + result.rejected.length;
    const expected = typeof body === "string" ? count : Array.isArray(body) ? body.length : 1;
    expect(count).toBe(expected);
  };

  it("parseEvents never throws on arbitrary JSON values", async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue(), noThrow), { numRuns: 300 });
  });

  it("parseEvents never throws on arbitrary strings", async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string(), fc.json(), fc.string({ unit: "binary" })), async (text) => {
      await expect(parseEvents(text)).resolves.toBeDefined();
    }), { numRuns: 300 });
  });

  it("never throws on events with arbitrary fields mutated, and accepts only well-formed ones", async () => {
    const fieldNames = ["id", "topic", "subject", "eventType", "eventTime", "dataVersion", "metadataVersion", "data"];
    const dataNames = ["resourceUri", "operationName", "status", "subscriptionId", "correlationId"];
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.dictionary(fc.constantFrom(...fieldNames), fc.jsonValue(), { maxKeys: 2 }),
        fc.dictionary(fc.constantFrom(...dataNames), fc.jsonValue(), { maxKeys: 2 }),
        async (asCloudEvent, overrides, dataOverrides) => {
          const event = asCloudEvent ? cloudEvent({}, dataOverrides) : gridEvent(overrides, dataOverrides);
          const result = await parseEvents([event]);
          expect(result.accepted.length + result.ignored.length + result.rejected.length).toBe(1);
          for (const accepted of result.accepted) {
            expect(accepted.subscriptionId).toBe(SUB);
            expect(Number.isNaN(accepted.eventTime.getTime())).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
