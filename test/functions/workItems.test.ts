/**
 * The work-item queue trigger's outcomes against Azurite and the ARM emulator: what Azure refuses is
 * poisoned on its first delivery; what may pass is retried after the wait (Retry-After when Azure
 * sends one) up to the queue's max dequeue count, then poisoned with its reason in the run's status; a
 * message that is not a work item goes to the poison queue at once and is never retried.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { InvocationContext } from "@azure/functions";
import { handleWorkItemMessage, workItems } from "../../src/functions/workItems.js";
import { handleRunsRequest } from "../../src/functions/runsApi.js";
import { resolveRunScope, startRun } from "../../src/service/runs.js";
import { connectionStringConnection, createQueueClient } from "../../src/state/storageConnection.js";
import { WORK_QUEUE, machineWorkItem, type WorkItem } from "../../src/state/workQueue.js";
import { pumpWorkQueue } from "../../scripts/functionsHost.js";
import { machineWith } from "../../local-azure/src/estate.js";
import type { Service } from "../../src/service/service.js";
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

/** The service with every ARM call failing with `error` while `failing.now` is true: a fault the SDK has given up on. */
function failingArm(service: Service, error: Error): { service: Service; failing: { now: boolean } } {
  const failing = { now: true };
  const gateway = new Proxy(service.gateway, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (failing.now) throw error;
        return (value as (...args: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { service: { ...service, gateway }, failing };
}

/** What an SDK RestError looks like with its response: the status and ARM's Retry-After (seconds). */
function transientError(statusCode: number, retryAfterSeconds: number): Error {
  const headers: Record<string, string> = { "retry-after": String(retryAfterSeconds) };
  return Object.assign(new Error(`ARM answered ${statusCode}`), { statusCode, response: { headers: { get: (name: string) => headers[name.toLowerCase()] } } });
}

/** Plays the host until the queue stays empty; returns how many deliveries it made. */
async function deliverUntilEmpty(service: Service, maxRounds: number): Promise<number> {
  let deliveries = 0;
  for (let round = 0; round < maxRounds; round++) {
    const taken = await pumpWorkQueue(service, { visibilityTimeoutInSeconds: 1 });
    deliveries += taken;
    if (taken === 0 && (await service.state.workQueue.approximateLength()).work === 0) break;
    await sleep(taken === 0 ? 250 : 50);
  }
  return deliveries;
}

describe("a work item Azure refuses (401/403): terminal on the first delivery", () => {
  it("a 403 on the machine's read: poisoned on its first delivery with the reason, visible in GET /api/runs/{id}, run failed, never retried", async () => {
    const { azure, estate, service } = harness();
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), "vm-forbidden");
    azure.setFaults({ forbidden: [{ scope: vmId, actions: ["Microsoft.Compute/virtualMachines/read"] }] });
    const posted = await handleRunsRequest(service, httpRequest("POST", "/api/runs", { body: JSON.stringify({ resourceIds: [vmId] }) }));
    expect(posted.status).toBe(202);
    const { runId } = jsonOf(posted);
    azure.resetRequests();

    expect(await deliverUntilEmpty(service, 10)).toBe(1);
    const vmReads = azure.requests.filter((request) => request.method === "GET" && request.status === 403 && request.path.toLowerCase() === vmId.toLowerCase());
    expect(vmReads).toHaveLength(1);

    const run = await runStatus(runId);
    expect(run).toMatchObject({ status: "failed", workItems: { total: 1, done: 0, poisoned: 1 } });
    expect(run.poison).toEqual([{ workItemId: expect.stringMatching(/^machines:/), reason: expect.stringMatching(/^refused by Azure: AuthorizationFailed: .*authorization/) }]);
    expect(run.finishedAt).toEqual(expect.any(String));
    expect(await service.state.workQueue.approximateLength()).toEqual({ work: 0, poison: 0 });
    expect(harness().writes()).toEqual([]);
    expect(remediationOf(azure, vmId).agents).toEqual([]);
  });

  it("a run failed by a poisoned item says why at the top level (error)", async () => {
    const { estate, service } = harness();
    const run = await startRun(service, { trigger: "http", dryRun: true }, await resolveRunScope(service, { subscriptions: [estate.subscriptions[1]?.subscriptionId as string] }));
    const [item] = await takeItems(run.runId);
    harness().azure.setFaults({ forbidden: [{ scope: "/", actions: [GRAPH_READ] }] });
    await expect(handleWorkItemMessage(service, item, 1)).resolves.toBeUndefined();
    expect(await runStatus(run.runId)).toMatchObject({ status: "failed", error: expect.stringContaining("1 of 1 work items were given up") });
  });
});

describe("a work item that fails for a while (409, 429, 5xx, network): retried after the wait", () => {
  it.each<[string, Error]>([
    ["429 TooManyRequests", transientError(429, 1)],
    ["409 Conflict", transientError(409, 1)],
  ])("%s with Retry-After: 1 is requeued for one second, then the retry succeeds and nothing is poisoned", async (_name, error) => {
    const { estate } = harness();
    const { service, failing } = failingArm(harness().service, error);
    const run = await startRun(service, { trigger: "http", dryRun: true }, await resolveRunScope(service, { subscriptions: [estate.subscriptions[1]?.subscriptionId as string] }));

    expect(await pumpWorkQueue(service, { visibilityTimeoutInSeconds: 30 })).toBe(1);
    failing.now = false;
    // The copy waits out Retry-After: not visible at once, visible after it.
    expect(await harness().peekWorkItems()).toEqual([]);
    expect((await runStatus(run.runId)).workItems).toEqual({ total: 1, done: 0, poisoned: 0 });
    await sleep(1_100);
    expect(await harness().peekWorkItems()).toEqual([expect.objectContaining({ runId: run.runId, failedAttempts: 1 })]);

    expect(await pumpWorkQueue(service)).toBe(1);
    expect(await runStatus(run.runId)).toMatchObject({ status: "succeeded", poison: [], workItems: { total: 1, done: 1, poisoned: 0 } });
    expect(await service.state.workQueue.approximateLength()).toEqual({ work: 0, poison: 0 });
  });

  it("a failure that never passes: delivered maxDequeueCount times, then poisoned with the attempts and the last error", async () => {
    const { estate } = harness();
    const { service } = failingArm(harness().service, transientError(503, 1));
    const run = await startRun(service, { trigger: "http", dryRun: true }, await resolveRunScope(service, { subscriptions: [estate.subscriptions[1]?.subscriptionId as string] }));

    expect(await deliverUntilEmpty(service, 40)).toBe(service.maxDequeueCount);

    const failed = await runStatus(run.runId);
    expect(failed).toMatchObject({ status: "failed", workItems: { total: 1, done: 0, poisoned: 1 } });
    expect(failed.poison).toEqual([{ workItemId: expect.stringMatching(/^sub:/), reason: `failed ${service.maxDequeueCount} times; last error: ARM answered 503` }]);
  });

  it("attempts before the last leave the run open; the last poisons it; a redelivery after that counts nothing twice", async () => {
    const { estate } = harness();
    const { service } = failingArm(harness().service, transientError(503, 60));
    const subscriptionId = estate.subscriptions[1]?.subscriptionId as string;
    const run = await startRun(service, { trigger: "http", dryRun: true }, await resolveRunScope(service, { subscriptions: [subscriptionId] }));
    const [item] = await takeItems(run.runId);

    // The host's dequeue count (a message redelivered after its handler died) counts as failed attempts too.
    for (let attempt = 1; attempt < service.maxDequeueCount; attempt++) {
      await expect(handleWorkItemMessage(service, item, attempt)).resolves.toBeUndefined();
      const open = await runStatus(run.runId);
      expect(open.poison).toEqual([]);
      expect(open.finishedAt).toBeUndefined();
      expect(open.workItems).toEqual({ total: 1, done: 0, poisoned: 0 });
    }
    await expect(handleWorkItemMessage(service, item, service.maxDequeueCount)).resolves.toBeUndefined();

    const failed = await runStatus(run.runId);
    expect(failed).toMatchObject({ status: "failed", workItems: { total: 1, done: 0, poisoned: 1 } });
    expect(failed.poison).toEqual([{ workItemId: `sub:${subscriptionId}:full`, reason: expect.stringContaining(`failed ${service.maxDequeueCount} times`) }]);
    await expect(handleWorkItemMessage(service, item, service.maxDequeueCount + 1)).resolves.toBeUndefined();
    expect((await runStatus(run.runId)).workItems).toEqual({ total: 1, done: 0, poisoned: 1 });
  });

  it("the registered workItems handler reads the dequeue count from the trigger metadata", async () => {
    const { estate, env, service } = harness();
    Object.assign(process.env, env);
    const subscriptionId = estate.subscriptions[1]?.subscriptionId as string;
    const run = await startRun(service, { trigger: "http", dryRun: true }, await resolveRunScope(service, { subscriptions: [subscriptionId] }));
    const [item] = await takeItems(run.runId);
    // Every ARM request throttled: the SDK retries, gives up, and the work item is retried later.
    harness().azure.setFaults({ throttleRate: 1 });
    const context = (dequeueCount: number) => new InvocationContext({ functionName: "workItems", triggerMetadata: { dequeueCount } });
    await workItems(item, context(1));
    expect((await runStatus(run.runId)).poison).toEqual([]);
    await workItems(item, context(service.maxDequeueCount));
    expect((await runStatus(run.runId)).poison).toEqual([expect.objectContaining({ workItemId: item?.workItemId, reason: expect.stringContaining(`failed ${service.maxDequeueCount} times`) })]);
  }, 60_000);

  it("a work item for a run that does not exist is terminal: poisoned with the reason on the first attempt, not retried", async () => {
    const { estate, service } = harness();
    const item = machineWorkItem({ runId: "no-such-run", resourceIds: [machineWith(estate, "no-identity", "windows").id], dryRun: true });
    await expect(handleWorkItemMessage(service, item, 1)).resolves.toBeUndefined();
    const poisoned = await service.state.workQueue.listPoison();
    expect(poisoned).toEqual([expect.objectContaining({ reason: expect.stringMatching(/no-such-run/) })]);
    // The handler's poison message keeps the work item itself, not only the reason.
    expect(poisoned[0]?.item).toEqual(item);
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
