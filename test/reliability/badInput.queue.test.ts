/**
 * Bad-input corpus, work-queue messages (what the queue trigger hands handleWorkItemMessage after the
 * host's base64 + JSON decoding): a message that is not a work item goes to the poison queue with the
 * reason on its first delivery and is never acted on (no ARM request, no run touched, nothing queued).
 * Well-formed items that name something they may not (an unknown run, a subscription or machine outside
 * the scope) are never acted on either, however often they are delivered.
 */
import { afterEach, describe, expect, it } from "vitest";
import { handleWorkItemMessage } from "../../src/functions/workItems.js";
import type { Service } from "../../src/service/service.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { useHarness } from "../service/harness.js";
import { writeRequests } from "./support.js";

const harness = useHarness();
const OUTSIDE = "99999999-9999-4999-8999-999999999999";
const RUN = "0b7c6f0e-1f7a-4f57-9a52-3c1f7f7a0c11";

const vm = () => machineWith(harness().estate, "no-identity", "windows");
const sub = () => vm().subscriptionId;
const subscriptionItem = (overrides: Record<string, unknown> = {}) => ({ kind: "subscription", workItemId: `sub:${sub()}:full`, runId: RUN, subscriptionIds: [sub()], dryRun: false, mode: "full", ...overrides });
const machineItem = (overrides: Record<string, unknown> = {}) => ({ kind: "machine", workItemId: "machines:abc", runId: RUN, resourceIds: [vm().id], dryRun: false, ...overrides });

afterEach(async () => {
  await harness().clearQueues();
});

async function runCount(service: Service): Promise<number> {
  return (await service.state.runs.listRecent(100)).length;
}

describe("not a work item → poisoned at once with the reason, never acted on", () => {
  it.each<[string, () => unknown, RegExp]>([
    ["text that is not JSON", () => "sweep everything please", /not JSON/],
    ["an empty string", () => "", /not JSON/],
    ["truncated JSON text", () => '{"kind": "subscription",', /not JSON/],
    ["a number", () => 42, /must be a JSON object/],
    ["null", () => null, /must be a JSON object/],
    ["an array of items", () => [subscriptionItem()], /must be a JSON object/],
    ["an empty object", () => ({}), /kind must be/],
    ["an unknown kind", () => subscriptionItem({ kind: "tenant" }), /kind must be "subscription" or "machine", got "tenant"/],
    ["kind in another case", () => subscriptionItem({ kind: "Subscription" }), /kind must be/],
    ["an unknown field", () => subscriptionItem({ force: true }), /unknown field\(s\): force/],
    ["a __proto__ field", () => JSON.parse(`{"__proto__": {"dryRun": false}, ${JSON.stringify(subscriptionItem()).slice(1)}`) as unknown, /unknown field\(s\): __proto__/],
    ["a machine field on a subscription item", () => subscriptionItem({ resourceIds: [vm().id] }), /unknown field\(s\): resourceIds/],
    ["a runId with '..'", () => subscriptionItem({ runId: "../../runs/x" }), /runId must be/],
    ["a runId of 65 characters", () => subscriptionItem({ runId: "r".repeat(65) }), /runId must be/],
    ["a runId that is a number", () => subscriptionItem({ runId: 7 }), /runId must be/],
    ["a runId with a newline", () => subscriptionItem({ runId: "run\nid" }), /runId must be/],
    ["a workItemId with a slash", () => subscriptionItem({ workItemId: "sub/../x" }), /workItemId must be/],
    ["no workItemId", () => subscriptionItem({ workItemId: undefined }), /workItemId must be/],
    ["dryRun as a string", () => subscriptionItem({ dryRun: "false" }), /dryRun must be a boolean/],
    ["no dryRun", () => subscriptionItem({ dryRun: undefined }), /dryRun must be a boolean/],
    ["a subscription id that is not a GUID", () => subscriptionItem({ subscriptionIds: ["contoso"] }), /subscriptionIds must be an array of 1-\d+ subscription ids/],
    ["subscriptionIds as a string", () => subscriptionItem({ subscriptionIds: sub() }), /subscriptionIds must be an array/],
    ["an empty subscriptionIds list", () => subscriptionItem({ subscriptionIds: [] }), /subscriptionIds must be an array/],
    ["201 subscriptions", () => subscriptionItem({ subscriptionIds: Array.from({ length: 201 }, () => crypto.randomUUID()) }), /subscriptionIds must be an array/],
    ["an events flush naming two subscriptions", () => subscriptionItem({ mode: "events", subscriptionIds: [sub(), OUTSIDE] }), /exactly one subscription/],
    ["the old single subscriptionId field", () => ({ ...subscriptionItem({ subscriptionIds: undefined }), subscriptionId: sub() }), /unknown field\(s\): subscriptionId/],
    ["an unknown mode", () => subscriptionItem({ mode: "everything" }), /mode must be/],
    ["since with mode full", () => subscriptionItem({ since: new Date().toISOString() }), /since is only allowed/],
    ["new-since without a date", () => subscriptionItem({ mode: "new-since", since: "last tuesday" }), /since must be an ISO 8601/],
    ["an empty resourceIds list", () => machineItem({ resourceIds: [] }), /resourceIds must be an array of 1-50/],
    ["51 resourceIds", () => machineItem({ resourceIds: Array.from({ length: 51 }, () => vm().id) }), /resourceIds must be an array of 1-50/],
    ["resourceIds naming a storage account", () => machineItem({ resourceIds: [`/subscriptions/${sub()}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st`] }), /resourceIds\[0\] is not the id of a VM/],
    ["resourceIds with '..'", () => machineItem({ resourceIds: [`/subscriptions/${sub()}/resourceGroups/../providers/Microsoft.Compute/virtualMachines/vm`] }), /resourceIds\[0\] is not the id of a VM/],
    ["resourceIds naming an extension", () => machineItem({ resourceIds: [`${vm().id}/extensions/AzureMonitorWindowsAgent`] }), /resourceIds\[0\] is not the id of a VM/],
    ["resourceIds holding a number", () => machineItem({ resourceIds: [1] }), /resourceIds\[0\] is not the id of a VM/],
  ])("%s", async (_name, message, reason) => {
    const { azure, service } = harness();
    const runsBefore = await runCount(service);
    azure.resetRequests();

    await expect(handleWorkItemMessage(service, message(), 1)).resolves.toBeUndefined();

    const poison = await service.state.workQueue.listPoison();
    expect(poison).toEqual([expect.objectContaining({ reason: expect.stringMatching(reason) })]);
    expect(poison[0]?.reason).not.toMatch(/\n/);
    expect((await service.state.workQueue.approximateLength()).work).toBe(0);
    expect(await runCount(service)).toBe(runsBefore);
    expect(azure.requests).toEqual([]);
  });
});

describe("well formed, but naming what it may not → never acted on", () => {
  /** The run exists (so the item is not refused for that) unless the case says otherwise. */
  async function createRun(service: Service, workItemId: string): Promise<string> {
    const runId = crypto.randomUUID();
    await service.state.runs.create({ runId, trigger: "http", dryRun: false, scope: { subscriptions: [], resourceIds: [] }, workItemIds: [workItemId] });
    return runId;
  }

  const forged: [string, (runId: string) => Record<string, unknown>, boolean][] = [
    ["a subscription item of a run that does not exist", () => subscriptionItem({ runId: crypto.randomUUID() }), false],
    ["a machine item of a run that does not exist", () => machineItem({ runId: crypto.randomUUID() }), false],
    ["a subscription item for a subscription outside the scope", (runId) => subscriptionItem({ runId, subscriptionIds: [OUTSIDE], workItemId: `sub:${OUTSIDE}:full` }), true],
    ["a machine item for a machine outside the scope", (runId) => machineItem({ runId, resourceIds: [vm().id.replace(sub(), OUTSIDE)] }), true],
  ];

  it.each(forged)("%s: no ARM request on any delivery up to maxDequeueCount, then given up", async (_name, build, withRun) => {
    const { azure, service } = harness();
    const runId = withRun ? await createRun(service, String(build("x")["workItemId"])) : "";
    const item = build(runId);
    azure.resetRequests();
    for (let attempt = 1; attempt <= service.maxDequeueCount; attempt++) {
      await handleWorkItemMessage(service, item, attempt).catch(() => undefined);
    }
    expect(azure.requests).toEqual([]);
    if (withRun) {
      const run = await service.state.runs.get(runId);
      expect(run).toMatchObject({ status: "failed", workItems: { total: 1, done: 0, poisoned: 1 } });
      expect(run?.poison[0]?.reason).toMatch(/outside the configured scope/);
    }
  });

  it.each(forged)("%s: refused as terminal on the first delivery, poisoned with the reason", async (_name, build, withRun) => {
    const { azure, service } = harness();
    const runId = withRun ? await createRun(service, String(build("x")["workItemId"])) : "";
    azure.resetRequests();
    await expect(handleWorkItemMessage(service, build(runId), 1)).resolves.toBeUndefined();
    const reasons = [...(await service.state.workQueue.listPoison()).map((entry) => entry.reason), ...(withRun ? ((await service.state.runs.get(runId))?.poison ?? []).map((entry) => entry.reason) : [])];
    expect(reasons).toEqual([expect.stringMatching(/^refused: .*(outside the configured scope|not found)/)]);
    expect(azure.requests).toEqual([]);
  });

  it("a machine id without a resource group is refused as malformed", async () => {
    const { azure, service } = harness();
    azure.resetRequests();
    const item = machineItem({ resourceIds: [`/subscriptions/${sub()}/providers/Microsoft.Compute/virtualMachines/vm`] });
    await expect(handleWorkItemMessage(service, item, 1)).resolves.toBeUndefined();
    expect(await service.state.workQueue.listPoison()).toEqual([expect.objectContaining({ reason: expect.stringMatching(/resource group/) })]);
    expect(writeRequests(azure)).toEqual([]);
  });
});
