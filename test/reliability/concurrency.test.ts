/**
 * Concurrency: a timer sweep, Event Grid events and a manual HTTP run over the same new machines, all
 * started together and worked off by two hosts pumping the same queue at once. The world ends right,
 * nothing is created twice, and every run's record adds up.
 */
import { describe, expect, it } from "vitest";
import { startSweep } from "../../src/service/sweep.js";
import { acceptEvent } from "../../src/service/events.js";
import { handleRunsRequest } from "../../src/functions/runsApi.js";
import { drainWorkQueue } from "../../scripts/functionsHost.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { newVirtualMachine, remediationOf, useHarness } from "../service/harness.js";
import { httpRequest, jsonOf } from "../functions/http.js";
import { createsPerResource, duplicateCreates } from "./support.js";
import { resourceWriteEvent } from "../../local-azure/src/events.js";

const harness = useHarness();

function writeEvent(vmId: string): Record<string, unknown> {
  return resourceWriteEvent(vmId, { id: crypto.randomUUID(), eventTime: new Date().toISOString() });
}

describe("a timer sweep, events and an HTTP run at once, two hosts", () => {
  it("every machine remediated once, no duplicate creates, run records consistent", async () => {
    const { azure, estate, service } = harness();
    const second = await harness().freshService();
    const template = machineWith(estate, "no-identity", "windows");
    const fresh = [1, 2, 3, 4].map((n) => newVirtualMachine(azure, template, `vm-race-${n}`));
    azure.resetRequests();

    const [sweep, , posted] = await Promise.all([
      startSweep(service),
      Promise.all(fresh.map((id) => acceptEvent(second, writeEvent(id)))),
      handleRunsRequest(service, httpRequest("POST", "/api/runs", { body: JSON.stringify({ resourceIds: fresh }) })),
    ]);
    expect(posted.status).toBe(202);
    const drain = (target: typeof service) => drainWorkQueue(target, { visibilityTimeoutInSeconds: 2, pauseInMs: 50, idleRounds: 3 });
    await Promise.all([drain(service), drain(second)]);

    for (const id of fresh) expect(remediationOf(azure, id).agents, id).toEqual(["AzureMonitorWindowsAgent"]);
    expect(duplicateCreates(azure)).toEqual([]);
    for (const [id, creates] of createsPerResource(azure.requests)) expect(creates, id).toBe(1);

    const runs = await service.state.runs.listRecent(20);
    const ours = runs.filter((run) => run.createdAt.getTime() >= sweep.createdAt.getTime() - 1000);
    expect(ours.map((run) => run.trigger).sort()).toEqual(expect.arrayContaining(["eventGrid", "http", "timer"]));
    for (const summary of ours) {
      const run = await service.state.runs.get<{ kind?: string; status?: string }>(summary.runId);
      expect(run?.status, summary.runId).toBe("succeeded");
      expect(run?.workItems.done).toBe(run?.workItems.total);
      const entries = (run?.report ?? []).filter((entry) => entry.kind !== "subscription");
      const counted = Object.values(run?.counts ?? {}).reduce((sum, count) => sum + count, 0);
      expect(counted, `${run?.trigger} run ${summary.runId}: counts add up to its report`).toBe(entries.length);
      for (const status of ["compliant", "remediated", "planned", "failed", "skipped"] as const) {
        expect(run?.counts[status], `${run?.trigger} ${status}`).toBe(entries.filter((entry) => entry.status === status).length);
      }
    }
    expect(jsonOf(posted).runId).toEqual(expect.any(String));
  }, 60_000);

  it("one writer per machine at a time: ARM never answers 409 another-operation-in-progress to the service", async () => {
    const { azure, estate, service } = harness();
    const second = await harness().freshService();
    const template = machineWith(estate, "no-identity", "linux");
    const fresh = [1, 2, 3, 4].map((n) => newVirtualMachine(azure, template, `vm-race2-${n}`));
    azure.resetRequests();
    await Promise.all([
      startSweep(service, new Date(Date.now() + 100 * 3600_000)),
      Promise.all(fresh.map((id) => acceptEvent(second, writeEvent(id)))),
      handleRunsRequest(service, httpRequest("POST", "/api/runs", { body: JSON.stringify({ resourceIds: fresh }) })),
    ]);
    const drain = (target: typeof service) => drainWorkQueue(target, { visibilityTimeoutInSeconds: 2, pauseInMs: 50, idleRounds: 3 });
    await Promise.all([drain(service), drain(second)]);
    const conflicts = azure.requests.filter((entry) => entry.status === 409 && fresh.some((id) => entry.path.toLowerCase().startsWith(id.toLowerCase())));
    expect(conflicts.map((entry) => `${entry.method} ${entry.path} ${entry.code}`)).toEqual([]);
  }, 60_000);
});
