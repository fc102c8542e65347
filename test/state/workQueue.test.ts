import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { createQueueClient } from "../../src/state/storageConnection.js";
import {
  decodeWorkItem,
  encodeWorkItem,
  machineWorkItem,
  parseWorkItem,
  subscriptionWorkItem,
  subscriptionWorkItems,
  WORK_QUEUE,
  type WorkItem,
} from "../../src/state/workQueue.js";
import { useAzurite } from "./stateFixture.js";

const azurite = useAzurite();
const SUB = "8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f";
const VM = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1`;
const ARC = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/arc-1`;

const sweep = subscriptionWorkItem({ runId: "run-1", subscriptionIds: [SUB.toUpperCase()], dryRun: false, mode: "new-since", since: "2026-11-24T09:00:00Z" });
const machines = machineWorkItem({ runId: "run-1", resourceIds: [VM, ARC], dryRun: true });

describe("work items", () => {
  it("get deterministic ids and normalised fields", () => {
    expect(sweep).toEqual({
      kind: "subscription",
      workItemId: `sub:${SUB}:new-since`,
      runId: "run-1",
      subscriptionIds: [SUB],
      dryRun: false,
      mode: "new-since",
      since: "2026-11-24T09:00:00.000Z",
    });
    expect(machineWorkItem({ runId: "run-1", resourceIds: [ARC.toUpperCase(), VM], dryRun: true }).workItemId).toBe(machines.workItemId);
  });

  it("carry up to 200 subscriptions each: a scope is split into Resource Graph-sized batches", () => {
    const ids = Array.from({ length: 450 }, (_, index) => `00000000-0000-4000-8000-${String(index).padStart(12, "0")}`);
    const items = subscriptionWorkItems({ runId: "run-1", subscriptionIds: ids, dryRun: false, mode: "full" });
    expect(items.map((item) => item.subscriptionIds.length)).toEqual([200, 200, 50]);
    expect(items.flatMap((item) => item.subscriptionIds)).toEqual(ids);
    expect(new Set(items.map((item) => item.workItemId)).size).toBe(3);
  });

  it("round-trip through base64", () => {
    const text = encodeWorkItem(machines);
    expect(JSON.parse(Buffer.from(text, "base64").toString("utf8"))).toEqual(machines);
    expect(decodeWorkItem(text)).toEqual(machines);
  });

  it.each<[string, unknown, RegExp]>([
    ["not an object", [1, 2], /JSON object/],
    ["unknown kind", { kind: "tenant" }, /kind/],
    ["extra field", { ...machines, command: "rm -rf" }, /unknown field/],
    ["bad run id", { ...machines, runId: "../x" }, /runId/],
    ["no work item id", { ...machines, workItemId: undefined }, /workItemId/],
    ["dryRun as string", { ...machines, dryRun: "false" }, /dryRun/],
    ["not a machine", { ...machines, resourceIds: [`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa`] }, /resourceIds\[0\]/],
    ["no machines", { ...machines, resourceIds: [] }, /resourceIds/],
    ["bad subscription", { ...sweep, subscriptionIds: ["nope"] }, /subscriptionIds/],
    ["no subscriptions", { ...sweep, subscriptionIds: [] }, /subscriptionIds/],
    ["a subscription id as a string", { ...sweep, subscriptionIds: SUB }, /subscriptionIds/],
    ["an events flush over two subscriptions", { ...sweep, mode: "events", since: undefined, subscriptionIds: [SUB, "11111111-1111-4111-8111-111111111111"] }, /exactly one/],
    ["new-since without since", { ...sweep, since: undefined }, /since/],
    ["since with full", { ...sweep, mode: "full" }, /since/],
    ["bad mode", { ...sweep, mode: "partial" }, /mode/],
  ])("are rejected when malformed: %s", (_name, value, reason) => {
    expect(() => parseWorkItem(value)).toThrow(InputError);
    expect(() => parseWorkItem(value)).toThrow(reason);
  });

  it("reject text that is not base64 JSON", () => {
    expect(() => decodeWorkItem("{not base64}")).toThrow(/base64/);
    expect(() => decodeWorkItem(Buffer.from("not json").toString("base64"))).toThrow(/base64-encoded JSON/);
  });
});

describe("WorkQueue", () => {
  it("enqueues in batches and receives the same items", async () => {
    const { workQueue } = await azurite.store({ queueName: "roundtrip" });
    const items: WorkItem[] = [sweep, ...Array.from({ length: 40 }, (_, index) =>
      machineWorkItem({ runId: "run-2", resourceIds: [VM.replace("vm-1", `vm-${index}`)], dryRun: false }))];
    await workQueue.enqueue(items);
    const received = [...(await workQueue.receive({ max: 32 })), ...(await workQueue.receive({ max: 32 }))];
    expect(received).toHaveLength(41);
    expect(received.map((message) => (message.decoded.ok ? message.decoded.item.workItemId : "bad")).sort()).toEqual(
      items.map((item) => item.workItemId).sort(),
    );
    await Promise.all(received.map((message) => workQueue.delete(message)));
    expect((await workQueue.approximateLength()).work).toBe(0);
  });

  it("refuses to enqueue a malformed item (nothing is sent)", async () => {
    const { workQueue } = await azurite.store({ queueName: "refuse" });
    await expect(workQueue.enqueue([sweep, { ...machines, resourceIds: ["/nope"] }])).rejects.toBeInstanceOf(InputError);
    expect((await workQueue.approximateLength()).work).toBe(0);
  });

  it("rejects a malformed message on the way out and lists poison messages with reasons", async () => {
    const { workQueue } = await azurite.store({ queueName: WORK_QUEUE });
    const raw = createQueueClient(azurite.connection(), WORK_QUEUE);
    await raw.sendMessage(Buffer.from(JSON.stringify({ kind: "machine", runId: "r", workItemId: "w", dryRun: false, resourceIds: ["/x"] })).toString("base64"));
    const [message] = await workQueue.receive({ max: 1 });
    expect(message?.decoded).toEqual({ ok: false, reason: expect.stringMatching(/resourceIds\[0\]/) });
    // What the queue handler does with it: the text it was handed (base64 taken off) and the reason.
    await workQueue.sendToPoison(Buffer.from(message!.messageText, "base64").toString("utf8"), message!.decoded.ok ? "" : message!.decoded.reason);
    await workQueue.delete(message!);

    // What the Functions host does after maxDequeueCount: the original text lands in <queue>-poison as it was.
    const hostPoison = createQueueClient(azurite.connection(), `${WORK_QUEUE}-poison`);
    await hostPoison.sendMessage(encodeWorkItem(sweep));
    await hostPoison.sendMessage("garbage!");

    const poison = await workQueue.listPoison();
    expect(poison.map(({ item, reason }) => ({ item, reason }))).toEqual([
      { item: undefined, reason: expect.stringMatching(/resourceIds\[0\]/) },
      { item: sweep, reason: expect.stringMatching(/max dequeue count/) },
      { item: undefined, reason: expect.stringMatching(/^malformed: message is not base64/) },
    ]);
    expect((await workQueue.approximateLength()).work).toBe(0);
  });
});
