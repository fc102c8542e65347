/**
 * ARM raises a write's event when its operation ends, carrying the write's correlation id. Delivered to the
 * service's Event Grid handler while a run waits, it settles the write there and then: a success without a
 * read and without waiting for Resource Graph (whose copy here lags by hours), a failure by one direct look
 * for ARM's error. Neither starts a run of its own.
 */
import { describe, expect, it } from "vitest";
import { resolveRunScope, startRun } from "../../src/service/runs.js";
import type { ReportResource } from "../../src/report/buildReport.js";
import { acceptEvent } from "../../src/service/events.js";
import { eventGridFilter } from "../../infra/templates/eventGridSubscription.js";
import { eventGridDelivers, type EventGridFilter } from "../../local-azure/src/events.js";
import { machineWith } from "../../local-azure/src/estate.js";
import type { ArmResource } from "../../local-azure/src/store.js";
import { randomUUID } from "node:crypto";
import { newVirtualMachine, useHarness, type Harness } from "./harness.js";

const harness = useHarness();
const filter = eventGridFilter() as EventGridFilter;

/** Event Grid for the length of `work`: what the filter lets through reaches the service's handler every 20 ms. */
async function whileEventsFlow<T>({ azure, service }: Harness, work: () => Promise<T>): Promise<{ result: T; delivered: number }> {
  let delivered = 0;
  let flowing = true;
  const relay = (async () => {
    while (flowing) {
      for (const event of azure.takeEvents().filter((raised) => eventGridDelivers(filter, raised))) {
        await acceptEvent(service, event);
        delivered++;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  let result: T;
  try {
    result = await work();
  } finally {
    // Events still being handed on when the work ends are counted before the relay stops.
    flowing = false;
    await relay;
  }
  return { result, delivered };
}

/** A new VM (with no identity, unless given one), in a subscription whose shared resources exist; Resource Graph hours behind ARM. */
async function newMachineBehindResourceGraph(withIdentity = false): Promise<string> {
  const { azure, estate } = harness();
  azure.reset();
  azure.load(estate.resources);
  const template = machineWith(estate, "no-identity", "windows");
  // The first run creates what the subscription lacks; the second caches what it reads, as a warm host has it.
  await runOver(template.id);
  await runOver(template.id, true);
  const created = newVirtualMachine(azure, template, `vm-heard-${Date.now()}`);
  if (withIdentity) azure.load([{ ...(azure.get(created) as ArmResource), identity: { type: "SystemAssigned", principalId: randomUUID(), tenantId: randomUUID() } }]);
  azure.takeEvents();
  azure.setResourceGraph({ lag: { p95Seconds: 36_000, seed: 5 } });
  azure.setLro({ finishUnpolledAfterMs: 300 });
  azure.resetRequests();
  return created;
}

/** A run over one machine, as POST /api/runs starts it, carried out by the work queue; its report entry for the machine. */
async function runOver(machineId: string, dryRun = false): Promise<ReportResource | undefined> {
  const { service } = harness();
  const run = await startRun(service, { trigger: "http", dryRun }, await resolveRunScope(service, { resourceIds: [machineId] }));
  await harness().drain();
  const record = await service.state.runs.get<ReportResource>(run.runId);
  return record?.report?.find((entry) => entry.id.toLowerCase() === machineId.toLowerCase());
}

function restore(): void {
  const { azure } = harness();
  azure.setResourceGraph({ lag: false });
  azure.setLro({ finishUnpolledAfterMs: 100 });
  azure.setFaults({});
}

describe("ARM's event for the service's own write, delivered while the run waits", () => {
  it("confirms it: the machine is remediated with no operation read, long before Resource Graph shows it, and no run starts", async () => {
    const { azure, service } = harness();
    try {
      const created = await newMachineBehindResourceGraph();
      const runsBefore = (await service.state.runs.listRecent(500)).length;
      const started = Date.now();
      const { result, delivered } = await whileEventsFlow(harness(), () => runOver(created));

      expect(result?.status).toBe("remediated");
      expect(delivered, "the identity PATCH's and the agent's events").toBeGreaterThanOrEqual(2);
      // Resource Graph would have shown the writes hours (ARM time) later: the events did it.
      expect(Date.now() - started).toBeLessThan(20_000);
      // The machine, its agents, its associations: nothing read about the operations themselves.
      expect(azure.requests.filter((entry) => entry.method === "GET").length).toBe(3);
      expect((await service.state.runs.listRecent(500)).length, "the service's own writes start no run").toBe(runsBefore + 1);
    } finally {
      restore();
    }
  }, 60_000);

  it("that says it failed: the write is looked at once and reported failed with ARM's error, without waiting for Resource Graph", async () => {
    const { azure } = harness();
    try {
      const created = await newMachineBehindResourceGraph(true);
      azure.setFaults({ lroFailureRate: 1 });
      const started = Date.now();
      const { result } = await whileEventsFlow(harness(), () => runOver(created));

      expect(result?.actions.find((action) => action.action === "installExtension")).toMatchObject({ outcome: "failed", error: { code: "InternalOperationError" } });
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      restore();
    }
  }, 60_000);
});
