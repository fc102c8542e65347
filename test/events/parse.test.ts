import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_EVENT_BYTES, parseEvent, parseEvents, type EventContext } from "../../src/events/parse.js";
import { asCloudEvent, resourceWriteEvent, systemTopicEvent, type ArmEventType } from "../../local-azure/src/events.js";

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
  scope: "machine",
  resourceId: VM,
  cause: "machineCreated",
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
    ["another event type", gridEvent({ eventType: "Microsoft.Resources.ResourceDeleteCancel" }), /event type .* is not handled/],
    ["an action that is not a VM start", gridEvent({ eventType: "Microsoft.Resources.ResourceActionSuccess" }, { operationName: "Microsoft.Compute/virtualMachines/deallocate/action" }), /operation .* is not handled/],
    ["a failed VM write (only extension writes count when they fail)", gridEvent({ eventType: "Microsoft.Resources.ResourceWriteFailure" }, { status: "Failed" }), /not handled for/],
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

describe("drift causes: what each event asks to reconcile, and why", () => {
  const OTHER_SUB = "11111111-2222-3333-4444-555555555555";
  const SUBSCRIPTION = `/subscriptions/${SUB}`;
  const DEFAULT_RG = `${SUBSCRIPTION}/resourceGroups/DefaultResourceGroup-EUS`;
  const ARC = `${RG}/providers/Microsoft.HybridCompute/machines/arc-01`;
  const CUSTOM_WORKSPACE = `/subscriptions/${OTHER_SUB}/resourceGroups/rg-soc/providers/Microsoft.OperationalInsights/workspaces/law-soc`;
  const CUSTOM_RULE = `/subscriptions/${OTHER_SUB}/resourceGroups/rg-soc/providers/Microsoft.Insights/dataCollectionRules/dcr-soc`;
  const WRITE: ArmEventType = "Microsoft.Resources.ResourceWriteSuccess";
  const WRITE_FAILED: ArmEventType = "Microsoft.Resources.ResourceWriteFailure";
  const DELETE: ArmEventType = "Microsoft.Resources.ResourceDeleteSuccess";
  const ACTION: ArmEventType = "Microsoft.Resources.ResourceActionSuccess";

  /** An event as the emulator's system topic raises it (local-azure/src/events.ts). */
  function armEvent(eventType: ArmEventType, resourceUri: string, operationName: string, status: "Succeeded" | "Failed" = "Succeeded"): Record<string, unknown> {
    return systemTopicEvent({ eventType, resourceUri, operationName, status, id: "drift-1", eventTime: "2026-11-30T08:00:00Z" });
  }

  it.each<[string, Record<string, unknown>, { scope: string; resourceId: string; cause: string }, EventContext?]>([
    ["Defender for Servers switched on", armEvent(WRITE, `${SUBSCRIPTION}/providers/Microsoft.Security/pricings/VirtualMachines`, "Microsoft.Security/pricings/write"), { scope: "subscription", resourceId: SUBSCRIPTION, cause: "planEnabled" }],
    ["Defender for SQL on machines switched on", armEvent(WRITE, `${SUBSCRIPTION}/providers/Microsoft.Security/pricings/SqlServerVirtualMachines`, "Microsoft.Security/pricings/write"), { scope: "subscription", resourceId: SUBSCRIPTION, cause: "planEnabled" }],
    ["a VM started", armEvent(ACTION, VM, "Microsoft.Compute/virtualMachines/start/action"), { scope: "machine", resourceId: VM, cause: "machineStarted" }],
    ["a VM restarted", armEvent(ACTION, VM, "Microsoft.Compute/virtualMachines/restart/action"), { scope: "machine", resourceId: VM, cause: "machineStarted" }],
    ["an Arc machine reconnected or its SQL discovered", armEvent(WRITE, ARC, "Microsoft.HybridCompute/machines/write"), { scope: "machine", resourceId: ARC, cause: "arcMachineChanged" }],
    ["an agent extension left Failed", armEvent(WRITE_FAILED, `${VM}/extensions/AzureMonitorWindowsAgent`, "Microsoft.Compute/virtualMachines/extensions/write", "Failed"), { scope: "machine", resourceId: VM, cause: "extensionFailed" }],
    ["an Arc extension written (changed, not failed)", armEvent(WRITE, `${ARC}/extensions/AzureMonitorLinuxAgent`, "Microsoft.HybridCompute/machines/extensions/write"), { scope: "machine", resourceId: ARC, cause: "extensionChanged" }],
    ["Defender's default workspace deleted", armEvent(DELETE, `${DEFAULT_RG}/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-${SUB}-EUS`, "Microsoft.OperationalInsights/workspaces/delete"), { scope: "subscription", resourceId: SUBSCRIPTION, cause: "sharedResourceDeleted" }],
    ["Defender for SQL's workspace deleted", armEvent(DELETE, `${DEFAULT_RG}/providers/Microsoft.OperationalInsights/workspaces/D4SQL-${SUB.replace(/-/g, "")}-eastus`, "Microsoft.OperationalInsights/workspaces/delete"), { scope: "subscription", resourceId: SUBSCRIPTION, cause: "sharedResourceDeleted" }],
    ["a Defender solution deleted", armEvent(DELETE, `${DEFAULT_RG}/providers/Microsoft.OperationsManagement/solutions/SecurityCenterFree(DefaultWorkspace-${SUB}-EUS)`, "Microsoft.OperationsManagement/solutions/delete"), { scope: "subscription", resourceId: SUBSCRIPTION, cause: "sharedResourceDeleted" }],
    ["the service's own rule deleted", armEvent(DELETE, `${DEFAULT_RG}/providers/Microsoft.Insights/dataCollectionRules/ama-remediator-eastus-dcr`, "Microsoft.Insights/dataCollectionRules/delete"), { scope: "subscription", resourceId: SUBSCRIPTION, cause: "sharedResourceDeleted" }],
    ["Defender for SQL's rule deleted", armEvent(DELETE, `${DEFAULT_RG}/providers/Microsoft.Insights/dataCollectionRules/MicrosoftDefenderForSQL-eastus-dcr`, "Microsoft.Insights/dataCollectionRules/delete"), { scope: "subscription", resourceId: SUBSCRIPTION, cause: "sharedResourceDeleted" }],
    ["the Defender for SQL identity deleted", armEvent(DELETE, `${SUBSCRIPTION}/resourceGroups/Built-In-Identity-RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Built-In-Identity-eastus`, "Microsoft.ManagedIdentity/userAssignedIdentities/delete"), { scope: "subscription", resourceId: SUBSCRIPTION, cause: "sharedResourceDeleted" }],
    ["the SQL initiative's assignment deleted", armEvent(DELETE, `${SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/Defender for SQL on SQL VMs and Arc-enabled SQL Servers`, "Microsoft.Authorization/policyAssignments/delete"), { scope: "subscription", resourceId: SUBSCRIPTION, cause: "sharedResourceDeleted" }],
    ["a role assignment at subscription scope deleted", armEvent(DELETE, `${SUBSCRIPTION}/providers/Microsoft.Authorization/roleAssignments/0b7f5e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b`, "Microsoft.Authorization/roleAssignments/delete"), { scope: "subscription", resourceId: SUBSCRIPTION, cause: "sharedResourceDeleted" }],
    ["Defender's default resource group deleted", armEvent(DELETE, DEFAULT_RG, "Microsoft.Resources/subscriptions/resourceGroups/delete"), { scope: "subscription", resourceId: SUBSCRIPTION, cause: "sharedResourceDeleted" }],
    ["the configured workspace deleted (in another subscription)", armEvent(DELETE, CUSTOM_WORKSPACE, "Microsoft.OperationalInsights/workspaces/delete"), { scope: "everySubscription", resourceId: `/subscriptions/${OTHER_SUB}`, cause: "sharedResourceDeleted" }, { customWorkspaceId: CUSTOM_WORKSPACE }],
    ["a solution on the configured workspace deleted", armEvent(DELETE, `/subscriptions/${OTHER_SUB}/resourceGroups/rg-soc/providers/Microsoft.OperationsManagement/solutions/Security(law-soc)`, "Microsoft.OperationsManagement/solutions/delete"), { scope: "everySubscription", resourceId: `/subscriptions/${OTHER_SUB}`, cause: "sharedResourceDeleted" }, { customWorkspaceId: CUSTOM_WORKSPACE }],
    ["the configured rule deleted", armEvent(DELETE, CUSTOM_RULE, "Microsoft.Insights/dataCollectionRules/delete"), { scope: "everySubscription", resourceId: `/subscriptions/${OTHER_SUB}`, cause: "sharedResourceDeleted" }, { dataCollectionRuleId: CUSTOM_RULE }],
    ["the resource group holding the configured rule deleted", armEvent(DELETE, `/subscriptions/${OTHER_SUB}/resourceGroups/RG-SOC`, "Microsoft.Resources/subscriptions/resourceGroups/delete"), { scope: "everySubscription", resourceId: `/subscriptions/${OTHER_SUB}`, cause: "sharedResourceDeleted" }, { dataCollectionRuleId: CUSTOM_RULE }],
    ["a subscription's tags written", armEvent(WRITE, `${SUBSCRIPTION}/providers/Microsoft.Resources/tags/default`, "Microsoft.Resources/tags/write"), { scope: "subscription", resourceId: SUBSCRIPTION, cause: "optOutRemoved" }],
    ["a resource group's tags written", armEvent(WRITE, `${RG}/providers/Microsoft.Resources/tags/default`, "Microsoft.Resources/tags/write"), { scope: "resourceGroup", resourceId: RG, cause: "optOutRemoved" }],
    ["a machine's tags deleted", armEvent(DELETE, `${VM}/providers/Microsoft.Resources/tags/default`, "Microsoft.Resources/tags/delete"), { scope: "machine", resourceId: VM, cause: "optOutRemoved" }],
    ["a resource group written", armEvent(WRITE, RG, "Microsoft.Resources/subscriptions/resourceGroups/write"), { scope: "resourceGroup", resourceId: RG, cause: "optOutRemoved" }],
  ])("%s", async (_name, event, expected, context) => {
    const result = await parseEvent(event, context);
    expect(result).toEqual({ outcome: "accepted", event: expect.objectContaining({ ...expected, subscriptionId: expected.scope === "everySubscription" ? OTHER_SUB : SUB, eventTime: new Date("2026-11-30T08:00:00Z") }) });
  });

  const machinesOnly: EventContext = { profiles: new Set(["machines"]) };
  it.each<[string, Record<string, unknown>, RegExp, EventContext?]>([
    ["a plan the service does not act on", armEvent(WRITE, `${SUBSCRIPTION}/providers/Microsoft.Security/pricings/StorageAccounts`, "Microsoft.Security/pricings/write"), /not a plan the service acts on/],
    ["a customer's workspace", armEvent(DELETE, `${RG}/providers/Microsoft.OperationalInsights/workspaces/law-app`, "Microsoft.OperationalInsights/workspaces/delete"), /not a resource the service or Defender creates/],
    ["another subscription's default workspace name", armEvent(DELETE, `${DEFAULT_RG}/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-${OTHER_SUB}-EUS`, "Microsoft.OperationalInsights/workspaces/delete"), /not a resource/],
    ["a solution the service never installs", armEvent(DELETE, `${DEFAULT_RG}/providers/Microsoft.OperationsManagement/solutions/Updates(DefaultWorkspace-${SUB}-EUS)`, "Microsoft.OperationsManagement/solutions/delete"), /not a resource/],
    ["a customer's rule in Defender's group", armEvent(DELETE, `${DEFAULT_RG}/providers/Microsoft.Insights/dataCollectionRules/perf-counters`, "Microsoft.Insights/dataCollectionRules/delete"), /not a resource/],
    ["another identity", armEvent(DELETE, `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-identity`, "Microsoft.ManagedIdentity/userAssignedIdentities/delete"), /not a resource/],
    ["another policy assignment", armEvent(DELETE, `${SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/allowed-locations`, "Microsoft.Authorization/policyAssignments/delete"), /not a resource/],
    ["a role assignment on a resource group", armEvent(DELETE, `${RG}/providers/Microsoft.Authorization/roleAssignments/0b7f5e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b`, "Microsoft.Authorization/roleAssignments/delete"), /not a resource/],
    ["another resource group deleted", armEvent(DELETE, RG, "Microsoft.Resources/subscriptions/resourceGroups/delete"), /not a resource/],
    ["Defender for SQL's workspace with the SQL profile off", armEvent(DELETE, `${DEFAULT_RG}/providers/Microsoft.OperationalInsights/workspaces/D4SQL-${SUB.replace(/-/g, "")}-eastus`, "Microsoft.OperationalInsights/workspaces/delete"), /not a resource/, machinesOnly],
    ["a role assignment with the SQL profile off", armEvent(DELETE, `${SUBSCRIPTION}/providers/Microsoft.Authorization/roleAssignments/0b7f5e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b`, "Microsoft.Authorization/roleAssignments/delete"), /not a resource/, machinesOnly],
    ["tags of a storage account", armEvent(WRITE, `${RG}/providers/Microsoft.Storage/storageAccounts/st1/providers/Microsoft.Resources/tags/default`, "Microsoft.Resources/tags/write"), /not a machine/],
    ["a tags delete reported as a write", armEvent(WRITE, `${RG}/providers/Microsoft.Resources/tags/default`, "Microsoft.Resources/tags/delete"), /not handled for/],
    ["a failed pricing write", armEvent(WRITE_FAILED, `${SUBSCRIPTION}/providers/Microsoft.Security/pricings/VirtualMachines`, "Microsoft.Security/pricings/write", "Failed"), /not handled for/],
    ["a start action that failed", armEvent(ACTION, VM, "Microsoft.Compute/virtualMachines/start/action", "Failed"), /not Succeeded/],
    ["a start action on something that is not a machine", armEvent(ACTION, `${RG}/providers/Microsoft.Web/sites/app`, "Microsoft.Compute/virtualMachines/start/action"), /not a machine/],
  ])("ignores %s, with a reason", async (_name, event, reason, context) => {
    expect(await parseEvent(event, context)).toEqual({ outcome: "ignored", id: "drift-1", reason: expect.stringMatching(reason) });
  });

  it("rejects a malformed event of a new kind like any other (no write follows a rejection)", async () => {
    const event = armEvent(WRITE, `${SUBSCRIPTION}/providers/Microsoft.Security/pricings/VirtualMachines`, "Microsoft.Security/pricings/write");
    const noUri = { ...event, data: { ...(event["data"] as object), resourceUri: "/subscriptions/../pricings" } };
    const foreign = { ...event, topic: `/subscriptions/${OTHER_SUB}` };
    expect(await parseEvent(noUri)).toEqual({ outcome: "rejected", reason: expect.stringMatching(/not an ARM resource id/) });
    expect(await parseEvent(foreign)).toEqual({ outcome: "rejected", reason: expect.stringMatching(/does not match/) });
  });
});
