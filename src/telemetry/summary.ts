/**
 * What `GET /api/metrics` answers, from the timing rows of a window (src/state/timings.ts). Pure.
 */
import { EMPTY_SUMMARY, type ResourceStatus } from "../report/buildReport.js";
import type { DriftCause } from "../report/timing.js";
import type { TimingRow } from "../state/timings.js";

export interface SecondsSummary {
  /** Machines verified compliant in the window. */
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

export interface MetricsSummary {
  readonly from: string;
  readonly to: string;
  readonly hours: number;
  /** Seconds from drift to verified compliant, per cause; a cause nothing was verified for is absent. */
  readonly timeToCompliant: Partial<Record<DriftCause, SecondsSummary>>;
  /** Machines reported per status, summed over every reconcile in the window. */
  readonly machines: Readonly<Record<ResourceStatus, number>>;
}

/**
 * Nearest-rank percentile of values sorted ascending: the smallest value with at least `percent`% of the
 * values at or below it (rank ⌈percent/100 × n⌉). Undefined for no values; `percent` must be in (0, 100].
 */
export function nearestRank(sortedAscending: readonly number[], percent: number): number | undefined {
  if (!(percent > 0 && percent <= 100)) throw new RangeError(`percent must be more than 0 and at most 100, got ${percent}`);
  if (sortedAscending.length === 0) return undefined;
  return sortedAscending[Math.ceil((percent / 100) * sortedAscending.length) - 1];
}

export function summariseTimings(rows: readonly TimingRow[], window: { readonly from: Date; readonly to: Date; readonly hours: number }): MetricsSummary {
  const seconds = new Map<DriftCause, number[]>();
  const machines: Record<ResourceStatus, number> = { ...EMPTY_SUMMARY };
  for (const row of rows) {
    if (row.kind === "counts") {
      for (const status of Object.keys(machines) as ResourceStatus[]) machines[status] += row.counts[status];
    } else if (row.secondsToCompliant !== undefined) {
      const values = seconds.get(row.cause) ?? [];
      values.push(row.secondsToCompliant);
      seconds.set(row.cause, values);
    }
  }
  const timeToCompliant: Partial<Record<DriftCause, SecondsSummary>> = {};
  for (const [cause, values] of [...seconds].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = [...values].sort((a, b) => a - b);
    timeToCompliant[cause] = { count: sorted.length, p50: nearestRank(sorted, 50) as number, p95: nearestRank(sorted, 95) as number, max: sorted[sorted.length - 1] as number };
  }
  return { from: window.from.toISOString(), to: window.to.toISOString(), hours: window.hours, timeToCompliant, machines };
}
