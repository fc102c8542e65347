/**
 * The work-item queue trigger's failure handling against Azurite and the ARM emulator: retries up to
 * the queue's max dequeue count, then the item is poisoned with its reason and shows in the run's
 * status; a message that is not a work item goes to the poison queue at once and is never retried.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { InvocationContext } from "@azure/functions";
import { handleWorkItemMessage, workItems } from "../../src/functions/workItems.js";
import { handleRunsRequest } from "../../src/functions/runsApi.js";
import { startRun } from "../../src/service/runs.js";
import { connectionStringConnection, createQueueClient } from "../../src/state/storageConnection.js";
import { WORK_QUEUE, machineWorkItem, type WorkItem } from "../../src/state/workQueue.js";
import { pumpWorkQueue } from "../../scripts/functionsHost.js";
import { machineWith } from "../local-azure/estate.js";
import { newVirtualMachine, remediationOf, useHarness } from "../service/harness.js";
import { httpRequest, jsonOf } from "./http.js";

const harness = useHarness();
const GRAPH_READ = "Microsoft.ResourceGraph/resources/read";

async function runStatus(runId: string) {
  const response = await handleRunsRequest(harness().service, httpRequest("GET", `/api/runs/${runId}`, { params: { runId } }));
  expect(response.status).toBe(200);
  return jsonOf(response);
}

/** Takes the run's queued items off the queue so the test can deliver them itself. */
async function takeItems(runId: string): Promise<WorkItem[]> {
  const queue = harness().service.state.workQueue;
  const messages = await queue.receive({ max: 32, visibilityTimeoutInSeconds: 30 });
  await Promise.all(messages.map((message) => queue.delete(message)));
  const items = messages.flatMap((message) => (message.decoded.ok ? [message.decoded.item] : []));
  expect(items.every((item) => item.runId === runId)).toBe(true);
  return items;
}

function sendRaw(text: string): Promise<unknown> {
  return createQueueClient(connectionStringConnection(harness().azurite.connectionString), WORK_QUEUE).sendMessage(Buffer.from(text, "utf8").toString("base64"));
}

afterEach(async () => {
  harness().azure.setFaults({});
  await harness().clearQueues();
});

describe("a work item that always fails", () => {
  it("is retried by the host up to maxDequeueCount, then poisoned: visible in GET /api/runs/{id} with the reason, run failed", async () => {
    const { azure, estate, service } = harness();
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), "vm-forbidden");
    azure.setFaults({ forbidden: [{ scope: vmId, actions: ["Microsoft.Compute/virtualMachines/read"] }] });
    const posted = await handleRunsRequest(service, httpRequest("POST", "/api/runs", { body: JSON.stringify({ resourceIds: [vmId] }) }));
    expect(posted.status).toBe(202);
    const { runId } = jsonOf(posted);
    azure.resetRequests();

    // The host: take, fail, wait out the visibility timeout, take again ... until the queue is empty.
    let deliveries = 0;
    for (let round = 0; round < 20 && deliveries < service.maxDequeueCount + 2; round++) {
      const taken = await pumpWorkQueue(service, { visibilityTimeoutInSeconds: 1 });
      deliveries += taken;
      if (taken === 0 && deliveries >= service.maxDequeueCount) break;
      await sleep(taken === 0 ? 250 : 1050);
    }

    expect(deliveries).toBe(service.maxDequeueCount);
    const vmReads = azure.requests.filter((request) => request.method === "GET" && request.status === 403 && request.path.toLowerCase() === vmId.toLowerCase());
    expect(vmReads).toHaveLength(service.maxDequeueCount);

    const run = await runStatus(runId);
    expect(run).toMatchObject({ status: "failed", workItems: { total: 1, done: 0, poisoned: 1 } });
    expect(run.poison).toEqual([{ workItemId: expect.stringMatching(/^machines:/), reason: expect.stringMatching(new RegExp(`failed ${service.maxDequeueCount} times.*authorization`)) }]);
    expect(run.finishedAt).toEqual(expect.any(String));

    const poisoned = await service.state.workQueue.listPoison();
    expect(poisoned).toEqual([expect.objectContaining({ item: expect.objectContaining({ runId, workItemId: run.poison[0].workItemId }), reason: expect.stringMatching(/max dequeue count.*authorization/) })]);
    expect((await service.state.workQueue.approximateLength()).work).toBe(0);
    expect(harness().writes()).toEqual([]);
    expect(remediationOf(azure, vmId).agents).toEqual([]);
  });

  it("a subscription item whose Resource Graph reads are refused: attempts before the last leave the run open; the last poisons it", async () => {
    const { estate, service } = harness();
    const subscriptionId = estate.subscriptions[1]?.subscriptionId as string;
    const run = await startRun(service, { trigger: "http", subscriptions: [subscriptionId], dryRun: true });
    const [item] = await takeItems(run.runId);
    harness().azure.setFaults({ forbidden: [{ scope: "/", actions: [GRAPH_READ] }] });

    for (let attempt = 1; attempt < service.maxDequeueCount; attempt++) {
      await expect(handleWorkItemMessage(service, item, attempt)).rejects.toThrow(/authorization/);
      const open = await runStatus(run.runId);
      expect(open.poison).toEqual([]);
      expect(open.finishedAt).toBeUndefined();
      expect(open.workItems).toEqual({ total: 1, done: 0, poisoned: 0 });
    }
    // The last attempt records the poison and still throws, so the host moves the message to its poison queue.
    await expect(handleWorkItemMessage(service, item, service.maxDequeueCount)).rejects.toThrow();

    const failed = await runStatus(run.runId);
    expect(failed).toMatchObject({ status: "failed", workItems: { total: 1, done: 0, poisoned: 1 } });
    expect(failed.poison).toEqual([{ workItemId: `sub:${subscriptionId}:full`, reason: expect.stringContaining(`failed ${service.maxDequeueCount} times`) }]);
    // A redelivery after the poisoning (the host's copy) does not count the item twice.
    await expect(handleWorkItemMessage(service, item, service.maxDequeueCount + 1)).rejects.toThrow();
    expect((await runStatus(run.runId)).workItems).toEqual({ total: 1, done: 0, poisoned: 1 });
  });

  it("a run failed by a poisoned item says why at the top level (error)", async () => {
    const { estate, service } = harness();
    const run = await startRun(service, { trigger: "http", subscriptions: [estate.subscriptions[1]?.subscriptionId as string], dryRun: true });
    const [item] = await takeItems(run.runId);
    harness().azure.setFaults({ forbidden: [{ scope: "/", actions: [GRAPH_READ] }] });
    await expect(handleWorkItemMessage(service, item, service.maxDequeueCount)).rejects.toThrow();
    expect(await runStatus(run.runId)).toMatchObject({ status: "failed", error: expect.stringContaining("1 of 1 work items were given up") });
  });

  it("a transient failure is retried and the run still succeeds with nothing poisoned", async () => {
    const { estate, service } = harness();
    const subscriptionId = estate.subscriptions[1]?.subscriptionId as string;
    const run = await startRun(service, { trigger: "http", subscriptions: [subscriptionId], dryRun: true });
    const [item] = await takeItems(run.runId);
    harness().azure.setFaults({ forbidden: [{ scope: "/", actions: [GRAPH_READ] }] });
    await expect(handleWorkItemMessage(service, item, 1)).rejects.toThrow();
    harness().azure.setFaults({});
    await handleWorkItemMessage(service, item, 2);
    expect(await runStatus(run.runId)).toMatchObject({ status: "succeeded", poison: [], workItems: { total: 1, done: 1, poisoned: 0 } });
  });

  it("the registered workItems handler reads the dequeue count from the trigger metadata", async () => {
    const { estate, env, service } = harness();
    Object.assign(process.env, env);
    const subscriptionId = estate.subscriptions[1]?.subscriptionId as string;
    const run = await startRun(service, { trigger: "http", subscriptions: [subscriptionId], dryRun: true });
    const [item] = await takeItems(run.runId);
    harness().azure.setFaults({ forbidden: [{ scope: "/", actions: [GRAPH_READ] }] });
    const context = (dequeueCount: number) => new InvocationContext({ functionName: "workItems", triggerMetadata: { dequeueCount } });
    await expect(workItems(item, context(1))).rejects.toThrow();
    expect((await runStatus(run.runId)).poison).toEqual([]);
    await expect(workItems(item, context(service.maxDequeueCount))).rejects.toThrow();
    expect((await runStatus(run.runId)).poison).toEqual([expect.objectContaining({ workItemId: item?.workItemId })]);
  });

  it("a work item for a run that does not exist is terminal: poisoned with the reason on the first attempt, not retried", async () => {
    const { estate, service } = harness();
    const item = machineWorkItem({ runId: "no-such-run", resourceIds: [machineWith(estate, "no-identity", "windows").id], dryRun: true });
    await expect(handleWorkItemMessage(service, item, 1)).resolves.toBeUndefined();
    expect(await service.state.workQueue.listPoison()).toEqual([expect.objectContaining({ reason: expect.stringMatching(/no-such-run/) })]);
  });
});

describe("a message that is not a work item", () => {
  const malformed: [string, string, RegExp][] = [
    ["not JSON", "rm -rf /", /not JSON/],
    ["JSON but not an object", "[1,2,3]", /JSON object/],
    ["an unknown kind", JSON.stringify({ kind: "tenant", workItemId: "w", runId: "r", dryRun: false }), /kind/],
    ["a work item with an extra field", JSON.stringify({ kind: "machine", workItemId: "machines:x", runId: "r", dryRun: false, resourceIds: ["/subscriptions/8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"], command: "x" }), /unknown field/],
    ["a machine item naming a storage account", JSON.stringify({ kind: "machine", workItemId: "machines:x", runId: "r", dryRun: false, resourceIds: ["/subscriptions/8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"] }), /resourceIds\[0\]/],
  ];

  it(`(${malformed.map(([name]) => name).join("; ")}) lands in the poison queue with its reason on the first delivery and is not retried`, async () => {
    const { azure, service } = harness();
    azure.resetRequests();
    for (const [, text] of malformed) await sendRaw(text);

    expect(await pumpWorkQueue(service, { visibilityTimeoutInSeconds: 1 })).toBe(malformed.length);

    const poisoned = await service.state.workQueue.listPoison();
    expect(poisoned).toHaveLength(malformed.length);
    for (const [name, , reason] of malformed) {
      expect(poisoned.filter((message) => reason.test(message.reason)), name).toHaveLength(1);
    }
    expect(poisoned.every((message) => message.item === undefined)).toBe(true);
    await sleep(1100);
    expect(await pumpWorkQueue(service, { visibilityTimeoutInSeconds: 1 })).toBe(0);
    expect((await service.state.workQueue.approximateLength()).work).toBe(0);
    expect(azure.requests).toEqual([]);
  });

  it("handed to the handler directly (as the host does after decoding), is poisoned without throwing", async () => {
    const { service } = harness();
    await expect(handleWorkItemMessage(service, "{not json", 1)).resolves.toBeUndefined();
    await expect(handleWorkItemMessage(service, { kind: "machine" }, 1)).resolves.toBeUndefined();
    const reasons = (await service.state.workQueue.listPoison()).map((message) => message.reason);
    expect(reasons).toEqual([expect.stringMatching(/not JSON/), expect.stringMatching(/workItemId/)]);
  });
});
