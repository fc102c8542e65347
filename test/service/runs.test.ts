/**
 * Restarting the host mid-run: the run and its work items live in Azurite, so a new process (a fresh
 * Service over the same app settings) picks up what the old one left: nothing is lost, nothing is
 * counted or written twice, and the estate ends compliant.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { acceptEvent } from "../../src/service/events.js";
import { resolveRunScope, startRun, subscriptionLeaseOwner } from "../../src/service/runs.js";
import { reconcile } from "../../src/engine.js";
import type { ReportResource } from "../../src/report/buildReport.js";
import type { RunRecord } from "../../src/state/runStore.js";
import { pumpWorkQueue } from "../../scripts/functionsHost.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { newVirtualMachine, remediationOf, useHarness } from "./harness.js";
import { createService, type Service } from "../../src/service/service.js";
import { captureLogger } from "../reliability/support.js";

const harness = useHarness();

async function runOf(service: Service, runId: string): Promise<RunRecord<ReportResource>> {
  const run = await service.state.runs.get<ReportResource>(runId);
  if (!run) throw new Error(`no run ${runId}`);
  return run;
}

/** A dry run over the whole scope on the given host: what would still be written. */
async function stillPlanned(service: Service): Promise<{ status: string; planned: number; failed: number }> {
  const check = await startRun(service, { trigger: "http", dryRun: true }, await resolveRunScope(service, {}));
  await harness().drain(service);
  const { status, counts } = await runOf(service, check.runId);
  return { status, planned: counts.planned, failed: counts.failed };
}

describe("restarting the host mid-run", () => {
  it("loses no work item: a full run finishes on the new host, every machine compliant, nothing written twice", async () => {
    const { azure, estate } = harness();
    const subscriptions = estate.subscriptions.map((subscription) => subscription.subscriptionId);
    const hostA = harness().service;
    azure.resetRequests();

    // The whole scope is one work item (one Resource Graph batch).
    const run = await startRun(hostA, { trigger: "http" }, await resolveRunScope(hostA, {}));
    expect(run.workItems.total).toBe(1);

    // Host A takes it, leases its subscriptions, applies part of it, and dies before settling it.
    const [taken] = await hostA.state.workQueue.receive({ max: 1, visibilityTimeoutInSeconds: 1 });
    if (!taken?.decoded.ok || taken.decoded.item.kind !== "subscription") throw new Error("expected a subscription work item");
    const crashed = taken.decoded.item;
    expect([...crashed.subscriptionIds].sort()).toEqual([...subscriptions].sort());
    for (const subscriptionId of crashed.subscriptionIds) {
      expect(await hostA.state.checkpoints.acquire(subscriptionId, 30 * 60 * 1000, subscriptionLeaseOwner(crashed))).toBeDefined();
    }
    const partly = estate.machines.find((machine) => machine.state === "no-identity" || machine.state === "mma-only" || machine.state === "arc-windows-connected");
    if (partly) await reconcile({ runId: run.runId, resourceIds: [partly.id] }, { settings: hostA.settings, gateway: hostA.gateway, logger: hostA.logger });
    const midway = await runOf(hostA, run.runId);
    expect(midway.workItems).toEqual({ total: 1, done: 0, poisoned: 0 });

    // A new process: same app settings, nothing in memory. The abandoned message comes back after its visibility timeout.
    const hostB = await harness().freshService();
    await sleep(1100);
    await harness().drain(hostB);

    const finished = await runOf(hostB, run.runId);
    expect(finished).toMatchObject({ status: "succeeded", workItems: { total: 1, done: 1, poisoned: 0 }, poison: [] });
    expect(finished.counts.failed).toBe(0);
    expect(await hostB.state.workQueue.approximateLength()).toEqual({ work: 0, poison: 0 });
    // Every machine reported exactly once.
    const reported = (finished.report ?? []).filter((entry) => entry.kind === "virtualMachine" || entry.kind === "arcMachine").map((entry) => entry.id.toLowerCase());
    expect(reported.sort()).toEqual(estate.machines.map((machine) => machine.id.toLowerCase()).sort());
    // Redelivery re-read Azure: no write was sent twice.
    const writes = harness().writes().map((write) => `${write.method} ${write.path.toLowerCase()}`);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes).toEqual([...new Set(writes)]);
    // The leases the dead host held did not block its own item's redelivery, and are released now.
    for (const subscriptionId of crashed.subscriptionIds) {
      const probe = await hostB.state.checkpoints.acquire(subscriptionId, 1000, "someone-else");
      expect(probe).toBeDefined();
      if (probe) await hostB.state.checkpoints.release(probe);
    }

    expect(await stillPlanned(hostB)).toEqual({ status: "succeeded", planned: 0, failed: 0 });
  });

  it("a burst of events taken by a host that dies before processing any is remediated by the next host", async () => {
    const { azure, estate } = harness();
    const hostA = harness().service;
    const template = machineWith(estate, "no-identity", "linux");
    const vms = [1, 2, 3, 4, 5].map((n) => newVirtualMachine(azure, template, `vm-burst-${n}`));
    const runIds: string[] = [];
    for (const vmId of vms) {
      const disposition = await acceptEvent(hostA, {
        topic: `/subscriptions/${template.subscriptionId}`,
        subject: vmId,
        eventType: "Microsoft.Resources.ResourceWriteSuccess",
        eventTime: new Date().toISOString(),
        id: crypto.randomUUID(),
        dataVersion: "2",
        metadataVersion: "1",
        data: { resourceUri: vmId, operationName: "Microsoft.Compute/virtualMachines/write", status: "Succeeded", subscriptionId: template.subscriptionId },
      });
      if (disposition.outcome !== "queued") throw new Error(disposition.reason);
      runIds.push(disposition.runId);
    }
    // Host A processes two flushes, then takes the rest out of sight and dies.
    expect(await pumpWorkQueue(hostA, { batchSize: 2 })).toBe(2);
    expect((await hostA.state.workQueue.receive({ max: 32, visibilityTimeoutInSeconds: 1 })).length).toBeGreaterThan(0);

    const hostB = await harness().freshService();
    await sleep(1100);
    await harness().drain(hostB);

    for (const runId of runIds) expect((await runOf(hostB, runId)).status).toBe("succeeded");
    for (const vmId of vms) expect(remediationOf(azure, vmId)).toEqual({ identity: expect.stringMatching(/SystemAssigned/), agents: ["AzureMonitorLinuxAgent"], associations: [expect.any(String)] });
    expect(await hostB.state.workQueue.approximateLength()).toEqual({ work: 0, poison: 0 });
  });
});

describe("log lines of a work item", () => {
  it("carry runId once, a denied write's warning included (no child logger over one that already binds it)", async () => {
    const { azure, estate, env } = harness();
    const log = captureLogger("info");
    const service = await createService(env, { logger: log.logger });
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "linux"), "vm-logged-once");
    azure.setFaults({ forbidden: [{ scope: vmId, actions: ["Microsoft.Compute/virtualMachines/write"] }] });
    try {
      const run = await startRun(service, { trigger: "http" }, await resolveRunScope(service, { resourceIds: [vmId] }));
      await harness().drain(service);
      const warnings = log.lines().filter((line) => line.includes('"write failed"'));
      expect(warnings.length).toBeGreaterThan(0);
      for (const line of warnings) expect(line.match(/"runId":/g), line).toHaveLength(1);
      for (const line of log.lines()) expect((line.match(/"runId":/g) ?? []).length, line).toBeLessThanOrEqual(1);
      expect(warnings.map((line) => JSON.parse(line) as { runId: string })).toEqual(warnings.map(() => expect.objectContaining({ runId: run.runId })));
    } finally {
      azure.setFaults({});
    }
  });
});
