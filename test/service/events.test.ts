/**
 * Event Grid deliveries end to end: acceptEvent (what the onResourceWrite trigger calls) against a real
 * Azurite, the work queue drained by the same queue handler the Functions host calls, and the ARM
 * emulator as Azure. One Azurite and one emulator for the whole file; every test uses its own machines.
 */
import { InvocationContext } from "@azure/functions";
import { describe, expect, it } from "vitest";
import { acceptEvent, type EventDisposition } from "../../src/service/events.js";
import { onResourceWrite } from "../../src/functions/onResourceWrite.js";
import type { RunRecord } from "../../src/state/runStore.js";
import type { ReportResource } from "../../src/report/buildReport.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { newVirtualMachine, remediationOf, useHarness } from "./harness.js";

const harness = useHarness();
const TENANT = "72f988bf-0000-0000-0000-000000000000";
const OUTSIDE_SUBSCRIPTION = "0b7f5e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";

interface EventOptions {
  readonly id?: string;
  readonly eventType?: string;
  readonly operationName?: string;
  readonly status?: string;
  readonly subscriptionId?: string;
}

function subscriptionOf(resourceId: string): string {
  return resourceId.split("/")[2] as string;
}

/** A Microsoft.Resources system-topic event in the Event Grid schema, shaped like the sample of docs/azure-domain.md §8.2. */
function eventGridEvent(resourceUri: string, options: EventOptions = {}): Record<string, unknown> {
  const subscriptionId = options.subscriptionId ?? subscriptionOf(resourceUri);
  const operationName = options.operationName ?? "Microsoft.Compute/virtualMachines/write";
  return {
    topic: `/subscriptions/${subscriptionId}`,
    subject: resourceUri,
    eventType: options.eventType ?? "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: new Date().toISOString(),
    id: options.id ?? crypto.randomUUID(),
    dataVersion: "2",
    metadataVersion: "1",
    data: resourceData(resourceUri, subscriptionId, operationName, options.status ?? "Succeeded"),
  };
}

/** The same event delivered with `eventDeliverySchema: CloudEventSchemaV1_0` (docs/azure-domain.md §8.3). */
function cloudEvent(resourceUri: string, options: EventOptions = {}): Record<string, unknown> {
  const subscriptionId = options.subscriptionId ?? subscriptionOf(resourceUri);
  return {
    specversion: "1.0",
    type: options.eventType ?? "Microsoft.Resources.ResourceWriteSuccess",
    source: `/subscriptions/${subscriptionId}`,
    subject: resourceUri,
    id: options.id ?? crypto.randomUUID(),
    time: new Date().toISOString(),
    data: resourceData(resourceUri, subscriptionId, options.operationName ?? "Microsoft.Compute/virtualMachines/write", options.status ?? "Succeeded"),
  };
}

function resourceData(resourceUri: string, subscriptionId: string, operationName: string, status: string): Record<string, unknown> {
  return {
    authorization: {
      scope: resourceUri,
      action: operationName,
      evidence: { role: "Contributor", roleAssignmentScope: `/subscriptions/${subscriptionId}`, roleDefinitionId: "b24988ac-6180-42a0-ab88-20f7382dd24c", principalId: "11111111-2222-3333-4444-555555555555", principalType: "User" },
    },
    claims: { aud: "https://management.core.windows.net/", appid: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", name: "Ada Admin" },
    correlationId: crypto.randomUUID(),
    resourceProvider: operationName.split("/")[0],
    resourceUri,
    operationName,
    status,
    subscriptionId,
    tenantId: TENANT,
  };
}

function runIdOf(disposition: EventDisposition): string {
  if (disposition.outcome !== "queued") throw new Error(`expected the event to be queued, got ${JSON.stringify(disposition)}`);
  return disposition.runId;
}

async function runOf(runId: string): Promise<RunRecord<ReportResource>> {
  const run = await harness().service.state.runs.get<ReportResource>(runId);
  if (!run) throw new Error(`no run ${runId}`);
  return run;
}

async function queuedMessages(): Promise<number> {
  return (await harness().service.state.workQueue.approximateLength()).work;
}

describe("a ResourceWriteSuccess for a new VM", () => {
  it.each([
    ["Event Grid schema", eventGridEvent, "vm-new-eventgrid"],
    ["CloudEvents 1.0", cloudEvent, "vm-new-cloudevent"],
  ] as const)("(%s) is queued as its subscription's flush and the VM is remediated through the queue", async (_schema, build, name) => {
    const { azure, estate, service } = harness();
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), name);
    expect(remediationOf(azure, vmId)).toEqual({ identity: undefined, agents: [], associations: [] });
    azure.resetRequests();

    const runId = runIdOf(await acceptEvent(service, build(vmId)));

    // Fast path only: a run record and a queued work item, nothing asked of Azure yet.
    expect(azure.requests).toEqual([]);
    const queued = await runOf(runId);
    expect(queued).toMatchObject({ trigger: "eventGrid", status: "queued", dryRun: false, workItems: { total: 1, done: 0, poisoned: 0 } });
    // One flush work item for the VM's subscription; it re-reads the machines events named when it runs.
    expect(await harness().peekWorkItems()).toEqual([expect.objectContaining({ kind: "subscription", runId, subscriptionIds: [subscriptionOf(vmId)], mode: "events", dryRun: false })]);

    await harness().drain();

    const state = remediationOf(azure, vmId);
    expect(state.identity).toMatch(/SystemAssigned/);
    expect(state.agents).toEqual(["AzureMonitorWindowsAgent"]);
    expect(state.associations).toEqual([expect.stringMatching(/\/dataCollectionRules\//)]);

    const run = await runOf(runId);
    expect(run).toMatchObject({ status: "succeeded", workItems: { total: 1, done: 1, poisoned: 0 }, poison: [] });
    expect(run.counts.failed).toBe(0);
    expect(run.counts.remediated).toBeGreaterThanOrEqual(1);
    const entry = run.report?.find((resource) => resource.id?.toLowerCase() === vmId.toLowerCase());
    expect(entry?.status).toBe("remediated");
    expect(entry?.actions.map((action) => action.action)).toEqual(expect.arrayContaining(["updateMachineIdentity", "installExtension", "associateDataCollectionRule"]));

    // Every write is in the audit with its result and ARM's correlation id.
    const audit = (await service.state.audit.listForRun(runId)).filter((row) => row.targetId.toLowerCase().startsWith(vmId.toLowerCase()));
    expect(audit.length).toBeGreaterThan(0);
    for (const row of audit) expect(row).toMatchObject({ runId, actor: { trigger: "eventGrid" }, result: "succeeded", correlationId: expect.any(String) });
    expect(await queuedMessages()).toBe(0);
  });

  it("is handled the same way through the registered onResourceWrite handler", async () => {
    const { azure, estate, env } = harness();
    Object.assign(process.env, env); // the handler builds its service from the app settings
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "linux"), "vm-new-handler");
    await onResourceWrite(eventGridEvent(vmId) as never, new InvocationContext({ functionName: "onResourceWrite" }));
    await harness().drain();
    const state = remediationOf(azure, vmId);
    expect(state.identity).toMatch(/SystemAssigned/);
    expect(state.agents).toEqual(["AzureMonitorLinuxAgent"]);
    expect(state.associations).toHaveLength(1);
  });

  it("accepts ids in any casing (resourcegroups, upper-case subscription) and converges on the machine", async () => {
    const { azure, estate, service } = harness();
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), "vm-new-casing");
    const [, , subscription, , group, ...rest] = vmId.split("/");
    const shouted = ["", "SUBSCRIPTIONS", (subscription as string).toUpperCase(), "resourcegroups", (group as string).toUpperCase(), ...rest].join("/");
    const runId = runIdOf(await acceptEvent(service, eventGridEvent(shouted, { subscriptionId: (subscription as string).toUpperCase() })));
    await harness().drain();
    expect((await runOf(runId)).status).toBe("succeeded");
    expect(remediationOf(azure, vmId).agents).toEqual(["AzureMonitorWindowsAgent"]);
  });
});

describe("at-least-once delivery", () => {
  it("the same event delivered twice: the second is a duplicate and causes no second write", async () => {
    const { azure, estate, service } = harness();
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), "vm-new-twice");
    const event = eventGridEvent(vmId);

    const first = await acceptEvent(service, event);
    expect(first.outcome).toBe("queued");
    await harness().drain();
    azure.resetRequests();

    const second = await acceptEvent(service, structuredClone(event));
    expect(second).toEqual({ outcome: "duplicate", reason: expect.stringContaining(String(event["id"])) });
    await harness().drain();
    expect(azure.requests).toEqual([]);
    expect(await queuedMessages()).toBe(0);
  });

  it("the same event delivered twice at once is queued exactly once", async () => {
    const { azure, estate, service } = harness();
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), "vm-new-race");
    const event = eventGridEvent(vmId);
    const outcomes = await Promise.all([acceptEvent(service, event), acceptEvent(service, structuredClone(event)), acceptEvent(service, cloudEvent(vmId, { id: String(event["id"]) }))]);
    expect(outcomes.map((outcome) => outcome.outcome).sort()).toEqual(["duplicate", "duplicate", "queued"]);
    expect(await queuedMessages()).toBe(1);
    await harness().drain();
  });

  it("a new event for a machine already remediated (e.g. raised by the service's own writes) converges with zero writes", async () => {
    const { azure, estate, service } = harness();
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), "vm-new-replay");
    await acceptEvent(service, eventGridEvent(vmId));
    await harness().drain();
    azure.resetRequests();

    // The service's own VM PATCH and extension PUT emit events too (different ids).
    const runIds = [
      runIdOf(await acceptEvent(service, eventGridEvent(vmId))),
      runIdOf(await acceptEvent(service, cloudEvent(vmId))),
    ];
    await harness().drain();
    expect(harness().writes()).toEqual([]);
    // Both runs succeed; the VM is reported by whichever flush found it pending (flushes share pending machines).
    const runs = await Promise.all(runIds.map((runId) => runOf(runId)));
    for (const run of runs) {
      expect(run.status).toBe("succeeded");
      expect(run.counts).toMatchObject({ remediated: 0, failed: 0, planned: 0 });
    }
    const reports = runs.flatMap((run) => run.report ?? []).filter((resource) => resource.id?.toLowerCase() === vmId.toLowerCase());
    expect(reports.map((resource) => resource.status)).toEqual(["compliant"]);
  });
});

describe("events the service does not act on", () => {
  const storageAccount = (subscriptionId: string) => `/subscriptions/${subscriptionId}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stdata001`;

  it.each<[string, (vmId: string, subscriptionId: string) => Record<string, unknown>]>([
    ["a storage account write", (_vmId, subscriptionId) => eventGridEvent(storageAccount(subscriptionId), { operationName: "Microsoft.Storage/storageAccounts/write" })],
    ["a ResourceWriteFailure for a VM", (vmId) => eventGridEvent(vmId, { eventType: "Microsoft.Resources.ResourceWriteFailure", status: "Failed" })],
    ["a ResourceWriteCancel for a VM", (vmId) => cloudEvent(vmId, { eventType: "Microsoft.Resources.ResourceWriteCancel", status: "Canceled" })],
    ["a VM write whose status is not Succeeded", (vmId) => eventGridEvent(vmId, { status: "Failed" })],
    ["a VM deallocate action (only start and restart bring a guest back)", (vmId) => eventGridEvent(vmId, { eventType: "Microsoft.Resources.ResourceActionSuccess", operationName: "Microsoft.Compute/virtualMachines/deallocate/action" })],
    ["a workspace the service does not use deleted", (_vmId, subscriptionId) => eventGridEvent(`/subscriptions/${subscriptionId}/resourceGroups/rg-data/providers/Microsoft.OperationalInsights/workspaces/law-app`, { eventType: "Microsoft.Resources.ResourceDeleteSuccess", operationName: "Microsoft.OperationalInsights/workspaces/delete" })],
    ["a VM write in a subscription outside REMEDIATION_SUBSCRIPTIONS", (vmId) => {
      const outside = vmId.replace(subscriptionOf(vmId), OUTSIDE_SUBSCRIPTION);
      return eventGridEvent(outside);
    }],
  ])("%s is ignored: no run, no work item, no ARM request", async (_name, build) => {
    const { azure, estate, service } = harness();
    const vm = machineWith(estate, "no-identity", "windows");
    const before = await service.state.runs.listRecent(100);
    azure.resetRequests();

    const disposition = await acceptEvent(service, build(vm.id, vm.subscriptionId));

    expect(disposition).toEqual({ outcome: "ignored", reason: expect.any(String) });
    expect(await queuedMessages()).toBe(0);
    expect(await service.state.runs.listRecent(100)).toHaveLength(before.length);
    expect(azure.requests).toEqual([]);
  });

  it.each<[string, unknown]>([
    ["null", null],
    ["a string", "not an event"],
    ["an array", [1, 2]],
    ["an empty object", {}],
    ["an event without data", (() => {
      const event = eventGridEvent("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm");
      delete event["data"];
      return event;
    })()],
    ["a resourceUri that is not an ARM id", { ...eventGridEvent("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"), data: { operationName: "Microsoft.Compute/virtualMachines/write", status: "Succeeded", resourceUri: "/subscriptions/../../etc/passwd" } }],
    ["a topic of another subscription than the resource", { ...eventGridEvent("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"), topic: `/subscriptions/${OUTSIDE_SUBSCRIPTION}` }],
    ["a CloudEvent without a source", (() => {
      const event = cloudEvent("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm");
      delete event["source"];
      return event;
    })()],
  ])("a malformed payload (%s) is rejected without throwing and without work", async (_name, payload) => {
    const { azure, service } = harness();
    azure.resetRequests();
    const disposition = await acceptEvent(service, payload);
    expect(disposition).toEqual({ outcome: "rejected", reason: expect.any(String) });
    expect(await queuedMessages()).toBe(0);
    expect(azure.requests).toEqual([]);
  });

  it("a malformed payload through the registered handler does not throw (so Event Grid does not redeliver it)", async () => {
    Object.assign(process.env, harness().env);
    await expect(onResourceWrite({ id: "x" } as never, new InvocationContext({ functionName: "onResourceWrite" }))).resolves.toBeUndefined();
    expect(await queuedMessages()).toBe(0);
  });
});

describe("opted-out machines", () => {
  it.each(["opt-out-machine", "opt-out-resource-group", "opt-out-subscription"] as const)("an event for a machine in state %s is reconciled but nothing is written", async (state) => {
    const { azure, estate, service } = harness();
    const machine = machineWith(estate, state);
    azure.resetRequests();
    const runId = runIdOf(await acceptEvent(service, eventGridEvent(machine.id)));
    await harness().drain();
    expect(harness().writes().filter((write) => write.path.toLowerCase().startsWith(machine.id.toLowerCase()))).toEqual([]);
    const run = await runOf(runId);
    expect(run.status).toBe("succeeded");
    expect(run.report?.find((entry) => entry.id?.toLowerCase() === machine.id.toLowerCase())?.status).toBe("skipped");
  });
});

describe("child resources map to their machine", () => {
  it("an AMA extension delete is queued for its VM and the agent is installed again", async () => {
    const { azure, estate, service } = harness();
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), "vm-new-extdelete");
    await acceptEvent(service, eventGridEvent(vmId));
    await harness().drain();
    const extensionId = `${vmId}/extensions/AzureMonitorWindowsAgent`;
    expect(azure.remove(extensionId)).toBe(true);
    azure.resetRequests();

    const runId = runIdOf(
      await acceptEvent(service, eventGridEvent(extensionId, { eventType: "Microsoft.Resources.ResourceDeleteSuccess", operationName: "Microsoft.Compute/virtualMachines/extensions/delete" })),
    );
    await harness().drain();

    expect(remediationOf(azure, vmId).agents).toEqual(["AzureMonitorWindowsAgent"]);
    expect(harness().writes().map((write) => `${write.method} ${decodeURIComponent(write.path)}`)).toContain(`PUT ${extensionId}`);
    expect(harness().writes().filter((write) => write.path.toLowerCase().startsWith(vmId.toLowerCase()))).toHaveLength(1);
    const run = await runOf(runId);
    expect(run.status).toBe("succeeded");
    expect(run.report?.find((entry) => entry.id?.toLowerCase() === vmId.toLowerCase())?.actions.map((action) => action.action)).toEqual(["installExtension"]);
  });

  it("a data collection rule association delete (CloudEvents) is queued for its VM and re-associated", async () => {
    const { azure, estate, service } = harness();
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), "vm-new-dcradelete");
    await acceptEvent(service, eventGridEvent(vmId));
    await harness().drain();
    const [association] = azure.list((resource) => resource.id.toLowerCase().startsWith(`${vmId.toLowerCase()}/providers/microsoft.insights/datacollectionruleassociations/`));
    expect(association).toBeDefined();
    azure.remove(association?.id as string);

    const runId = runIdOf(
      await acceptEvent(service, cloudEvent(association?.id as string, { eventType: "Microsoft.Resources.ResourceDeleteSuccess", operationName: "Microsoft.Insights/dataCollectionRuleAssociations/delete" })),
    );
    await harness().drain();
    expect(remediationOf(azure, vmId).associations).toHaveLength(1);
    expect((await runOf(runId)).report?.find((entry) => entry.id?.toLowerCase() === vmId.toLowerCase())?.actions.map((action) => action.action)).toEqual(["associateDataCollectionRule"]);
  });
});

describe("a burst of events (EVENT_BATCH_SECONDS)", () => {
  const vmWrite = (vmId: string) => eventGridEvent(vmId);

  it("events for one subscription within the window share one run and one flush, which remediates every machine they named", async () => {
    const { azure, estate } = harness();
    const service = await harness().freshService({ EVENT_BATCH_SECONDS: "1" });
    const template = machineWith(estate, "no-identity", "windows");
    const vms = [1, 2, 3, 4].map((n) => newVirtualMachine(azure, template, `vm-batch-${n}`));

    const dispositions = [];
    for (const vmId of vms) dispositions.push(await acceptEvent(service, vmWrite(vmId)));

    expect(dispositions.map((disposition) => disposition.outcome)).toEqual(["queued", "batched", "batched", "batched"]);
    const runId = runIdOf(dispositions[0] as EventDisposition);
    // Invisible until the window closes.
    expect(await harness().peekWorkItems()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await harness().drain(service);

    const run = await runOf(runId);
    expect(run).toMatchObject({ status: "succeeded", workItems: { total: 1, done: 1, poisoned: 0 } });
    for (const vmId of vms) {
      expect(remediationOf(azure, vmId).agents, vmId).toEqual(["AzureMonitorWindowsAgent"]);
      expect(run.report?.find((entry) => entry.id?.toLowerCase() === vmId.toLowerCase())?.status, vmId).toBe("remediated");
    }
  });

  it("two flushes of one subscription due at the same time do not both write the same machines", async () => {
    const { azure, estate } = harness();
    const service = await harness().freshService({ EVENT_BATCH_SECONDS: "1" });
    const template = machineWith(estate, "no-identity", "windows");
    const [first, second] = [1, 2].map((n) => newVirtualMachine(azure, template, `vm-overlapping-flush-${n}`)) as [string, string];
    runIdOf(await acceptEvent(service, vmWrite(first)));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // The first window has closed but its flush has not run yet (a busy queue): the next event schedules another.
    runIdOf(await acceptEvent(service, vmWrite(second)));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    azure.resetRequests();

    await harness().drain(service);

    for (const vmId of [first, second]) expect(remediationOf(azure, vmId).agents, vmId).toEqual(["AzureMonitorWindowsAgent"]);
    // Writes to the machines themselves (identity PATCH, agent PUT, association PUT): each once.
    const machineWrites = harness()
      .writes()
      .map((write) => `${write.method} ${write.path.toLowerCase()}`)
      .filter((write) => [first, second].some((vmId) => write.includes(vmId.toLowerCase())));
    expect(machineWrites).toHaveLength(6);
    expect(machineWrites).toEqual([...new Set(machineWrites)]);
  });
});
