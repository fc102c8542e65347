/** The metrics API's figures: nearest-rank percentiles, per drift cause, and machines per status. */
import { describe, expect, it } from "vitest";
import { nearestRank, summariseTimings } from "../../src/telemetry/summary.js";
import type { MachineTiming, TimingRow } from "../../src/state/timings.js";
import type { DriftCause } from "../../src/report/timing.js";

describe("nearestRank", () => {
  const values = [15, 20, 35, 40, 50];

  it("is the smallest value with at least the percent at or below it (never an interpolation)", () => {
    expect(nearestRank(values, 5)).toBe(15);
    expect(nearestRank(values, 30)).toBe(20);
    expect(nearestRank(values, 40)).toBe(20);
    expect(nearestRank(values, 50)).toBe(35);
    expect(nearestRank(values, 95)).toBe(50);
    expect(nearestRank(values, 100)).toBe(50);
  });

  it("of one value is that value; of none, nothing", () => {
    expect(nearestRank([42], 50)).toBe(42);
    expect(nearestRank([42], 95)).toBe(42);
    expect(nearestRank([], 50)).toBeUndefined();
  });

  it("p95 of 20 values is the 19th, of 100 the 95th", () => {
    const ascending = (n: number) => Array.from({ length: n }, (_, index) => index + 1);
    expect(nearestRank(ascending(20), 95)).toBe(19);
    expect(nearestRank(ascending(100), 95)).toBe(95);
    expect(nearestRank(ascending(101), 95)).toBe(96);
  });

  it("refuses a percent outside (0, 100]", () => {
    for (const percent of [0, -1, 101, Number.NaN]) expect(() => nearestRank(values, percent)).toThrow(/percent must be more than 0 and at most 100/);
  });
});

describe("summariseTimings", () => {
  const at = new Date("2026-11-25T10:00:00.000Z");
  const machine = (cause: DriftCause, secondsToCompliant?: number): MachineTiming => ({
    kind: "machine",
    at,
    runId: "run-1",
    machineId: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-${Math.random()}`,
    subscriptionId: "s",
    status: secondsToCompliant === undefined ? "failed" : "remediated",
    cause,
    driftBeganAt: at.toISOString(),
    startedAt: at.toISOString(),
    ...(secondsToCompliant === undefined ? {} : { verifiedAt: at.toISOString(), secondsToCompliant }),
  });

  it("per cause: count, p50, p95 and max of the machines verified; unverified ones do not count; statuses summed", () => {
    const rows: TimingRow[] = [
      ...[90, 30, 60, 600, 45].map((seconds) => machine("machineCreated", seconds)),
      machine("machineCreated"),
      machine("sweep", 3_600),
      machine("extensionFailed"),
      { kind: "counts", at, runId: "run-1", counts: { compliant: 10, remediated: 6, planned: 0, failed: 2, skipped: 1 } },
      { kind: "counts", at, runId: "run-2", counts: { compliant: 12, remediated: 0, planned: 3, failed: 0, skipped: 1 } },
    ];
    const window = { from: new Date("2026-11-24T10:00:00.000Z"), to: at, hours: 24 };
    expect(summariseTimings(rows, window)).toEqual({
      from: "2026-11-24T10:00:00.000Z",
      to: "2026-11-25T10:00:00.000Z",
      hours: 24,
      timeToCompliant: {
        machineCreated: { count: 5, p50: 60, p95: 600, max: 600 },
        sweep: { count: 1, p50: 3_600, p95: 3_600, max: 3_600 },
      },
      machines: { compliant: 22, remediated: 6, planned: 3, failed: 2, skipped: 2 },
    });
  });

  it("an empty window: no causes, zero machines", () => {
    expect(summariseTimings([], { from: at, to: at, hours: 1 })).toMatchObject({ timeToCompliant: {}, machines: { compliant: 0, remediated: 0, planned: 0, failed: 0, skipped: 0 } });
  });
});
