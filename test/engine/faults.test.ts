/**
 * When Azure pushes back: a busy VM (409 while another operation runs), a role assignment the
 * credential may not write, a machine the credential may not touch, a resource group it may not
 * create. Each failure stays with the items it concerns; everything else is remediated.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoEstate, machineWith, type EstateMachine } from "../../local-azure/src/estate.js";
import { associatedRulesOf, extensionsOf, hasAmaSucceeded, startEngineHarness, subscriptionNamed, type EngineHarness } from "../support/engineHarness.js";

let h: EngineHarness;
const estate = demoEstate();
const production = subscriptionNamed(estate, "Contoso Production");
const data = subscriptionNamed(estate, "Contoso Data");

beforeAll(async () => {
  h = await startEngineHarness();
});
afterAll(() => h.close());

const statusOf = (run: Awaited<ReturnType<EngineHarness["run"]>>, machine: EstateMachine) => run.report.resources.find((resource) => resource.id === machine.id)?.status;
const hasAma = (machine: EstateMachine) => hasAmaSucceeded(h.azure, machine.id);

/** Starts a write on the VM outside the service and leaves it running; the returned function finishes it. */
async function startOperationOn(vmId: string): Promise<() => Promise<void>> {
  const headers = { authorization: `Bearer ${h.azure.token}`, "content-type": "application/json" };
  const response = await fetch(`${h.azure.endpoint}${vmId}?api-version=2026-04-01`, { method: "PATCH", headers, body: JSON.stringify({ tags: { maintenance: "patching" } }) });
  expect(response.status).toBe(200);
  const operation = response.headers.get("azure-asyncoperation");
  if (!operation) throw new Error("the emulator answered the VM PATCH without an operation to poll");
  return async () => {
    // The emulator's operations advance one step per status poll.
    for (let poll = 0; poll < 3; poll++) await fetch(operation, { headers });
  };
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("a slow ARM", () => {
  it("gets writes in parallel, but at most 8 in flight per subscription", async () => {
    h.load(estate);
    h.azure.setFaults({ latency: { fixedMs: 15 } });
    const run = await h.run();
    expect(run.report.summary.failed).toBe(0);
    const peaks = [...run.peakInFlight.values()];
    expect(Math.max(...peaks)).toBeGreaterThan(1);
    expect(Math.max(...peaks)).toBeLessThanOrEqual(8);
  });
});

describe("a busy VM", () => {
  it("answers 409 while another operation runs; the write waits and goes through", async () => {
    h.load(estate);
    const machine = machineWith(estate, "system-identity", "windows");
    const finish = await startOperationOn(machine.id);
    const run = h.run({ resourceIds: [machine.id] });
    await until(() => h.requestsUnder(machine.id).some((entry) => entry.method === "PUT" && entry.status === 409));
    await finish();
    const result = await run;

    expect(statusOf(result, machine)).toBe("remediated");
    expect(hasAma(machine)).toBe(true);
    const extensionWrites = h.requestsUnder(`${machine.id}/extensions`).filter((entry) => entry.method === "PUT").map((entry) => [entry.status, entry.code]);
    expect(extensionWrites[0]).toEqual([409, "Conflict"]);
    expect(extensionWrites.at(-1)).toEqual([201, undefined]);
  });
});

describe("a VM that stays busy", () => {
  it("is reported failed with Conflict once the retries run out; the other machines are remediated", async () => {
    h.load(estate);
    const busy = machineWith(estate, "system-identity", "windows");
    // The customer's operation runs longer than the service's conflict retries (well under a second here), and
    // the service's own operations, which nobody polls (they are confirmed through Resource Graph), end as long after.
    h.azure.setLro({ finishUnpolledAfterMs: 3_000 });
    const finish = await startOperationOn(busy.id);
    const run = await h.run().finally(() => h.azure.setLro({ finishUnpolledAfterMs: 250 }));
    await finish();
    const resource = run.report.resources.find((entry) => entry.id === busy.id);
    expect(resource?.status).toBe("failed");
    expect(resource?.actions.find((action) => action.action === "installExtension")).toMatchObject({ outcome: "failed", error: { code: "Conflict" } });
    expect(h.requestsUnder(`${busy.id}/extensions`).filter((entry) => entry.status === 409).length).toBeGreaterThan(1);
    expect(run.report.summary.failed).toBe(1);
    expect(hasAma(machineWith(estate, "no-identity", "windows"))).toBe(true);
  });
});

describe("a role assignment the credential may not write", () => {
  it("is reported with AuthorizationFailed and the missing action; the machines are still remediated", async () => {
    h.load(estate);
    h.azure.setFaults({ forbidden: [{ scope: data.id, actions: ["Microsoft.Authorization/roleAssignments/write"] }] });
    const run = await h.run();

    const roles = run.report.resources.filter((resource) => resource.actions.some((action) => action.action === "assignRole"));
    const dataRoles = roles.filter((resource) => resource.subscriptionId === data.subscriptionId);
    expect(dataRoles).toHaveLength(5);
    for (const role of dataRoles) {
      expect(role.status).toBe("failed");
      expect(role.actions[0]?.error).toEqual({ code: "AuthorizationFailed", message: expect.stringContaining("'Microsoft.Authorization/roleAssignments/write'") });
    }
    expect(roles.filter((resource) => resource.subscriptionId === production.subscriptionId).every((resource) => resource.status === "remediated")).toBe(true);
    expect(run.report.summary.failed).toBe(5);
    for (const state of ["sql-vm-windows", "arc-sql", "arc-windows-connected"] as const) {
      const machine = machineWith(estate, state);
      expect(statusOf(run, machine), state).toBe("remediated");
      expect(hasAma(machine), state).toBe(true);
    }
    expect(run.report.resources.find((resource) => resource.actions.some((action) => action.action === "assignPolicy" && resource.subscriptionId === data.subscriptionId))?.status).toBe("remediated");
  });

  it("are granted on a later sweep once the permission is there", async () => {
    h.load(estate);
    h.azure.setFaults({ forbidden: [{ scope: data.id, actions: ["Microsoft.Authorization/roleAssignments/write"] }] });
    await h.run();
    h.azure.setFaults({});
    await h.run();
    expect(h.azure.list((resource) => resource.type === "Microsoft.Authorization/roleAssignments" && resource.id.includes(data.subscriptionId))).toHaveLength(5);
  });
});

describe("one machine failing", () => {
  it("does not stop the others", async () => {
    h.load(estate);
    const denied = machineWith(estate, "no-identity", "windows");
    h.azure.setFaults({ forbidden: [{ scope: denied.id }] });
    const run = await h.run();

    expect(statusOf(run, denied)).toBe("failed");
    const deniedActions = run.report.resources.find((resource) => resource.id === denied.id)?.actions ?? [];
    expect(deniedActions[0]).toMatchObject({ action: "updateMachineIdentity", outcome: "failed", error: { code: "AuthorizationFailed" } });
    // Its agent waits for the identity and is reported as not done, with the reason; writes that need no
    // identity (the association) are still tried, and are refused on their own account.
    for (const action of deniedActions.slice(1)) {
      if (action.action === "installExtension") expect(action).toMatchObject({ outcome: "skipped", error: { code: "DependencyFailed", message: expect.stringMatching(/^depends on /) } });
      else expect(action).toMatchObject({ outcome: "failed", error: { code: "AuthorizationFailed" } });
    }
    for (const state of ["system-identity", "user-identity-only", "ama-failed", "mma-only"] as const) {
      const machine = machineWith(estate, state);
      expect(statusOf(run, machine), state).toBe("remediated");
      expect(hasAma(machine), state).toBe(true);
    }
    expect(run.report.summary.failed).toBe(1);
  });

  it("a resource group it may not create fails what stands on it, not the machines' agents", async () => {
    h.load(estate);
    h.azure.setFaults({ forbidden: [{ scope: `${data.id}/resourceGroups/DefaultResourceGroup-SUK`, actions: ["Microsoft.Resources/subscriptions/resourceGroups/write"] }] });
    const run = await h.run();
    const group = run.report.resources.find((resource) => resource.id === `${data.id}/resourceGroups/DefaultResourceGroup-SUK`);
    expect(group).toMatchObject({ kind: "shared", status: "failed", actions: [{ outcome: "failed", error: { code: "AuthorizationFailed" } }] });
    const connected = machineWith(estate, "arc-windows-connected");
    expect(statusOf(run, connected)).toBe("remediated");
    const sqlVm = machineWith(estate, "sql-vm-windows");
    expect(associatedRulesOf(h.azure, sqlVm.id)).toEqual([]);
    expect(statusOf(run, sqlVm)).toBe("failed");
    const linux = machineWith(estate, "sql-vm-linux");
    expect(hasAma(linux)).toBe(true);
  });

  it("a failed shared resource does not keep a machine's agents from being installed", async () => {
    h.load(estate);
    h.azure.setFaults({ forbidden: [{ scope: `${data.id}/resourceGroups/DefaultResourceGroup-SUK`, actions: ["Microsoft.Resources/subscriptions/resourceGroups/write"] }] });
    await h.run();
    const sqlVm = machineWith(estate, "sql-vm-windows");
    expect(extensionsOf(h.azure, sqlVm.id).map((extension) => extension.handler)).toEqual(
      expect.arrayContaining(["Microsoft.Azure.Monitor/AzureMonitorWindowsAgent", "Microsoft.Azure.AzureDefenderForSQL/AdvancedThreatProtection.Windows"]),
    );
  });
});

describe("the world moving between plan and apply", () => {
  it("a VM deallocated after discovery: its agent is reported skipped with the reason, not failed", async () => {
    h.load(estate);
    const machine = machineWith(estate, "system-identity", "windows");
    const run = await h.run({ resourceIds: [machine.id] }, {}, (write) => {
      if (write.targetId.startsWith(`${machine.id}/extensions/`)) h.azure.setPowerState(machine.id, "deallocated");
    });
    const resource = run.report.resources.find((entry) => entry.id === machine.id);
    expect(resource?.status).not.toBe("failed");
    expect(resource?.actions.find((action) => action.action === "installExtension")).toMatchObject({ outcome: "skipped", error: { message: expect.stringMatching(/not running/) } });
  });
});

describe("long-running operations that fail", () => {
  it("are recorded as failed, leave the other machines remediated, and the next sweep finishes the job", async () => {
    h.load(estate);
    h.azure.setFaults({ seed: 3, lroFailureRate: 0.25 });
    const run = await h.run();
    const failedActions = run.report.resources.flatMap((resource) => resource.actions.filter((action) => action.outcome === "failed"));
    expect(failedActions.length).toBeGreaterThan(0);
    for (const action of failedActions) expect(action.error?.message).toMatch(/long-running operation has failed|injected by the local emulator/);
    expect(run.report.summary.remediated).toBeGreaterThan(run.report.summary.failed);

    h.azure.setFaults({});
    const again = await h.run();
    expect(again.report.summary.failed).toBe(0);
    h.azure.resetRequests();
    await h.run();
    expect(h.writes()).toEqual([]);
  });

  it("a failed long-running operation is recorded with ARM's error code", async () => {
    h.load(estate);
    h.azure.setFaults({ seed: 3, lroFailureRate: 0.25 });
    const run = await h.run();
    const failedActions = run.report.resources.flatMap((resource) => resource.actions.filter((action) => action.outcome === "failed"));
    expect(failedActions.length).toBeGreaterThan(0);
    // Where ARM reports the failure's error (Azure-AsyncOperation status), its code and message are kept;
    // a resource that only turns provisioningState Failed carries none, and says so.
    const injected = { code: "InternalOperationError", message: "The operation failed (injected by the local emulator)." };
    const bare = { code: "LongRunningOperationFailed", message: "the long-running operation has failed without an error from Azure" };
    for (const action of failedActions) expect([injected, bare]).toContainEqual(action.error);
    expect(failedActions.map((action) => action.error)).toContainEqual(injected);
  });
});
