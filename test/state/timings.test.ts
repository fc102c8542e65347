/** The timings table against Azurite: a reconcile's rows, read back by time window, purged past the longest one. */
import { describe, expect, it } from "vitest";
import { EMPTY_SUMMARY, type Report, type ReportResource } from "../../src/report/buildReport.js";
import { NO_POLICY_DENIALS } from "../../src/report/policyDenials.js";
import { TIMINGS_RETENTION_HOURS } from "../../src/state/timings.js";
import { TestClock, useAzurite } from "./stateFixture.js";

const azurite = useAzurite();
const SUB = "cccccccc-3333-4333-8333-333333333333";
const HOUR = 3_600_000;

const vm = (name: string) => `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${name}`;

function reportAt(finishedAt: Date, runId: string, resources: readonly ReportResource[]): Report {
  return { runId, dryRun: false, startedAt: finishedAt.toISOString(), finishedAt: finishedAt.toISOString(), summary: EMPTY_SUMMARY, deniedByPolicy: NO_POLICY_DENIALS, resources, subscriptions: [] };
}

const fixed = (name: string, seconds: number): ReportResource => ({
  id: vm(name),
  kind: "virtualMachine",
  subscriptionId: SUB,
  status: "remediated",
  actions: [],
  notes: [],
  timing: { cause: "machineCreated", driftBeganAt: "2026-11-24T08:00:00.000Z", startedAt: "2026-11-24T08:00:10.000Z", verifiedAt: "2026-11-24T08:01:00.000Z", secondsToCompliant: seconds },
});
const inLine = (name: string): ReportResource => ({ id: vm(name), kind: "virtualMachine", subscriptionId: SUB, status: "compliant", actions: [], notes: [] });
const shared: ReportResource = { id: `/subscriptions/${SUB}/resourceGroups/DefaultResourceGroup-EUS`, kind: "shared", subscriptionId: SUB, status: "remediated", actions: [], notes: [] };

describe("TimingLog", () => {
  it("keeps a row per machine acted on and one of machine counts per reconcile; a window returns what it covers, to the millisecond", async () => {
    const clock = new TestClock();
    const { timings } = await azurite.store({ now: clock.now });
    const t0 = clock.now();
    await timings.record(reportAt(new Date(t0.getTime() - 30 * HOUR), "run-old", [fixed("vm-old", 10)]));
    await timings.record(reportAt(new Date(t0.getTime() - 2 * HOUR), "run-a", [fixed("vm-a", 61.5), inLine("vm-ok-1"), inLine("vm-ok-2"), shared]));
    await timings.record(reportAt(new Date(t0.getTime() - 10 * 60_000), "run-b", Array.from({ length: 120 }, (_, index) => fixed(`vm-b${index}`, index))));

    const day = await timings.window(new Date(t0.getTime() - 24 * HOUR), t0);
    const machines = day.filter((row) => row.kind === "machine");
    expect(machines).toHaveLength(121);
    expect(machines.find((row) => row.machineId === vm("vm-a"))).toEqual({
      kind: "machine",
      at: new Date(t0.getTime() - 2 * HOUR),
      runId: "run-a",
      machineId: vm("vm-a"),
      subscriptionId: SUB,
      status: "remediated",
      cause: "machineCreated",
      driftBeganAt: "2026-11-24T08:00:00.000Z",
      startedAt: "2026-11-24T08:00:10.000Z",
      verifiedAt: "2026-11-24T08:01:00.000Z",
      secondsToCompliant: 61.5,
    });
    const counts = day.filter((row) => row.kind === "counts");
    expect(counts.find((row) => row.runId === "run-a")?.counts).toEqual({ ...EMPTY_SUMMARY, remediated: 1, compliant: 2 });

    // Inside the first window hour but a minute before its start: left out.
    const hour = await timings.window(new Date(t0.getTime() - 2 * HOUR + 60_000), t0);
    expect(hour.some((row) => row.runId === "run-a")).toBe(false);
    expect(hour.filter((row) => row.runId === "run-b")).toHaveLength(121);
  });

  it("purges rows older than the longest window, and only those", async () => {
    const clock = new TestClock(Date.parse("2026-12-01T12:00:00.000Z"));
    const { timings } = await azurite.store({ now: clock.now });
    const t0 = clock.now().getTime();
    await timings.purgeExpired(); // what earlier tests left
    await timings.record(reportAt(new Date(t0 - (TIMINGS_RETENTION_HOURS + 3) * HOUR), "run-expired", [fixed("vm-x", 1), fixed("vm-y", 2)]));
    await timings.record(reportAt(new Date(t0 - (TIMINGS_RETENTION_HOURS - 1) * HOUR), "run-kept", [fixed("vm-z", 3)]));

    expect(await timings.purgeExpired()).toBe(3);
    const everything = await timings.window(new Date(t0 - 400 * HOUR), new Date(t0));
    expect(everything.some((row) => row.runId === "run-expired")).toBe(false);
    expect(everything.filter((row) => row.runId === "run-kept")).toHaveLength(2);
    expect(await timings.purgeExpired()).toBe(0);
  });

  it("refuses a report it cannot file, and a window that ends before it starts", async () => {
    const { timings } = await azurite.store();
    await expect(timings.record(reportAt(new Date(), "not a run id!", []))).rejects.toThrow(/runId/);
    await expect(timings.record({ ...reportAt(new Date(), "run-x", []), finishedAt: "later" })).rejects.toThrow(/finishedAt is not a date/);
    await expect(timings.window(new Date(2), new Date(1))).rejects.toThrow(/start before it ends/);
  });
});
