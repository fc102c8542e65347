/**
 * Bad-input corpus, Event Grid deliveries (what the onResourceWrite trigger hands acceptEvent): each is
 * dropped with a log line giving the reason, nothing is queued or noted as pending, no run is recorded,
 * no ARM request is made, and nothing is thrown (a throw would make Event Grid redeliver it).
 */
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { acceptEvent } from "../../src/service/events.js";
import { createService, type Service } from "../../src/service/service.js";
import { MAX_EVENT_BYTES } from "../../src/events/parse.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { useHarness } from "../service/harness.js";
import { captureLogger, type CapturedLogger } from "./support.js";

const harness = useHarness();
const OUTSIDE = "99999999-9999-4999-8999-999999999999";
let service: Service;
let log: CapturedLogger;

beforeAll(async () => {
  log = captureLogger("info");
  service = await createService(harness().env, { logger: log.logger });
});

const vm = () => machineWith(harness().estate, "no-identity", "windows");
const sub = () => vm().subscriptionId;

function gridEvent(overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}): Record<string, unknown> {
  const resourceUri = (data["resourceUri"] as string | undefined) ?? vm().id;
  return {
    topic: `/subscriptions/${sub()}`,
    subject: resourceUri,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: new Date().toISOString(),
    id: randomUUID(),
    dataVersion: "2",
    metadataVersion: "1",
    data: {
      resourceProvider: "Microsoft.Compute",
      resourceUri,
      operationName: "Microsoft.Compute/virtualMachines/write",
      status: "Succeeded",
      subscriptionId: sub(),
      tenantId: "72f988bf-0000-4000-8000-00000000a2e1",
      correlationId: randomUUID(),
      ...data,
    },
    ...overrides,
  };
}

function cloudEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const grid = gridEvent();
  return { specversion: "1.0", type: grid["eventType"], source: grid["topic"], subject: grid["subject"], id: grid["id"], time: grid["eventTime"], data: grid["data"], ...overrides };
}

function nested(depth: number): unknown {
  let value: unknown = "bottom";
  for (let level = 0; level < depth; level++) value = { inner: value };
  return value;
}

async function expectDropped(delivered: unknown, outcome: "rejected" | "ignored", reason: RegExp): Promise<void> {
  const { azure } = harness();
  const runsBefore = (await service.state.runs.listRecent(100)).length;
  const linesBefore = log.lines().length;
  azure.resetRequests();

  const disposition = await acceptEvent(service, delivered);

  expect(disposition).toMatchObject({ outcome, reason: expect.stringMatching(reason) });
  const lines = log.records().slice(linesBefore);
  expect(lines).toHaveLength(1);
  expect(lines[0]?.["msg"]).toMatch(/^event (rejected|ignored)/);
  if (outcome === "rejected" || lines[0]?.["reason"] !== undefined) expect(String(lines[0]?.["reason"])).toMatch(reason);
  expect(String(lines[0]?.["reason"] ?? "")).not.toMatch(/\n/);
  expect(JSON.stringify(lines[0]).length).toBeLessThan(2_000); // a 2 MB event does not become a 2 MB log line
  expect((await service.state.runs.listRecent(100)).length).toBe(runsBefore);
  expect((await service.state.workQueue.approximateLength()).work).toBe(0);
  expect(await service.state.pending.list(sub(), 10)).toEqual([]);
  expect(await service.state.pending.list(OUTSIDE, 10)).toEqual([]);
  expect(azure.requests).toEqual([]);
}

describe("not an event at all → rejected", () => {
  it.each<[string, () => unknown, RegExp]>([
    ["a string that is not JSON", () => "hello", /must be a JSON object, got string/],
    ["a JSON text instead of an object", () => JSON.stringify(gridEvent()), /got string/],
    ["a number", () => 42, /got number/],
    ["null", () => null, /got null/],
    ["a boolean", () => true, /got boolean/],
    ["an array of events (the trigger delivers one at a time)", () => [gridEvent()], /got an array/],
    ["an empty object", () => ({}), /not an Event Grid schema event/],
    ["an object of unrelated fields", () => ({ hello: "world", answer: 42 }), /not an Event Grid schema event/],
  ])("%s", async (_name, delivered, reason) => {
    await expectDropped(delivered(), "rejected", reason);
  });
});

describe("wrong schema → rejected", () => {
  it.each<[string, () => unknown, RegExp]>([
    ["no id", () => gridEvent({ id: undefined }), /id/],
    ["an empty id", () => gridEvent({ id: "  " }), /id is empty/],
    ["no eventTime", () => gridEvent({ eventTime: undefined }), /eventTime|event time/],
    ["an eventTime that is not a date", () => gridEvent({ eventTime: "yesterday" }), /no valid event time/],
    ["metadataVersion 2", () => gridEvent({ metadataVersion: "2" }), /Event Grid schema/],
    ["data as a string", () => gridEvent({ data: "resourceUri=/subscriptions/x" }), /data/],
    ["data as null", () => gridEvent({ data: null }), /data/],
    ["data as an array", () => gridEvent({ data: [gridEvent()["data"]] }), /data/],
    ["no resourceUri", () => gridEvent({}, { resourceUri: undefined }), /data\.resourceUri must be/],
    ["a resourceUri that is an object (nested garbage)", () => gridEvent({ subject: vm().id }, { resourceUri: { id: { id: [vm().id] } } }), /data\.resourceUri must be/],
    ["an operationName that is a number", () => gridEvent({}, { operationName: 7 }), /data\.operationName must be/],
    ["a resourceUri with '..'", () => gridEvent({}, { resourceUri: `/subscriptions/${sub()}/resourceGroups/../../${OUTSIDE}/providers/Microsoft.Compute/virtualMachines/vm` }), /not an ARM resource id/],
    ["a resourceUri of 3,000 characters", () => gridEvent({}, { resourceUri: `${vm().id}${"x".repeat(3_000)}` }), /not an ARM resource id/],
    ["a CloudEvent of spec 0.3", () => cloudEvent({ specversion: "0.3" }), /CloudEvents 1\.0/],
    ["a CloudEvent without time", () => cloudEvent({ time: undefined }), /no valid event time/],
    ["an event of 2 MB", () => gridEvent({}, { padding: "x".repeat(2 * MAX_EVENT_BYTES) }), /over Event Grid's 1 MB limit/],
    ["data nested 5,000 levels deep", () => gridEvent({}, { garbage: nested(5_000) }), /./],
  ])("%s", async (_name, delivered, reason) => {
    await expectDropped(delivered(), "rejected", reason);
  });
});

describe("subscriptions that do not add up → rejected", () => {
  it.each<[string, () => unknown, RegExp]>([
    ["resourceUri in another subscription than the topic", () => gridEvent({ topic: `/subscriptions/${OUTSIDE}` }), /does not match/],
    ["data.subscriptionId not the resource's", () => gridEvent({}, { subscriptionId: OUTSIDE }), /does not match/],
    ["a topic that is not a subscription", () => gridEvent({ topic: "/providers/Microsoft.Management/managementGroups/root" }), /does not name a subscription/],
    ["a CloudEvent source from another subscription", () => cloudEvent({ source: `/subscriptions/${OUTSIDE}` }), /does not match/],
  ])("%s", async (_name, delivered, reason) => {
    await expectDropped(delivered(), "rejected", reason);
  });
});

describe("well formed but not ours → ignored", () => {
  it.each<[string, () => unknown, RegExp]>([
    ["a Storage event type", () => gridEvent({ eventType: "Microsoft.Storage.BlobCreated" }), /event type .* is not handled/],
    ["ResourceActionSuccess", () => gridEvent({ eventType: "Microsoft.Resources.ResourceActionSuccess" }), /not handled/],
    ["ResourceWriteFailure", () => gridEvent({ eventType: "Microsoft.Resources.ResourceWriteFailure" }), /not handled/],
    ["a subscription validation event", () => gridEvent({ eventType: "Microsoft.EventGrid.SubscriptionValidationEvent", data: { validationCode: "x" } }), /not handled/],
    ["a made-up event type", () => gridEvent({ eventType: "Contoso.Remediate.Everything" }), /not handled/],
    ["an operation on a network interface", () => gridEvent({}, { operationName: "Microsoft.Network/networkInterfaces/write" }), /operation .* is not handled/],
    ["a status other than Succeeded", () => gridEvent({}, { status: "Failed" }), /not Succeeded/],
    ["a VM write whose resourceUri is a storage account", () => gridEvent({}, { resourceUri: `/subscriptions/${sub()}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st` }), /is not a machine/],
  ])("%s", async (_name, delivered, reason) => {
    await expectDropped(delivered(), "ignored", reason);
  });

  it("a machine in a subscription outside REMEDIATION_SUBSCRIPTIONS", async () => {
    const foreignVm = vm().id.replace(sub(), OUTSIDE);
    await expectDropped(gridEvent({ topic: `/subscriptions/${OUTSIDE}` }, { resourceUri: foreignVm, subscriptionId: OUTSIDE }), "ignored", /outside the configured scope/);
  });
});
