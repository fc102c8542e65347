/**
 * Time-to-compliant and machine counts of every reconcile a work item ran, for `GET /api/metrics`.
 *
 * Why a table of its own rather than reading run records: a run record keeps every machine's report
 * (compliant ones too) as chunked JSON in the run's partition, so summarising a day would read every
 * sweep's whole report. Here a reconcile writes one small row per machine it acted on and one row of
 * machine counts per status, in a partition per hour (`h<yyyyMMddHH>`, UTC): a window is one query over
 * a range of partitions that returns only what it summarises. Rows older than the longest window are
 * purged by the timer.
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import { InputError } from "../errors.js";
import { EMPTY_SUMMARY, type Report, type ResourceStatus } from "../report/buildReport.js";
import type { DriftCause } from "../report/timing.js";
import { statusCodeOf } from "./concurrency.js";
import { assertRunId, timestampKey } from "./keys.js";

/** The longest window `GET /api/metrics` serves; older rows are purged. */
export const TIMINGS_RETENTION_HOURS = 168;

/** A machine the run acted on. */
export interface MachineTiming {
  readonly kind: "machine";
  readonly at: Date;
  readonly runId: string;
  readonly machineId: string;
  readonly subscriptionId: string;
  readonly status: ResourceStatus;
  readonly cause: DriftCause;
  readonly driftBeganAt: string;
  readonly startedAt: string;
  readonly verifiedAt?: string;
  readonly secondsToCompliant?: number;
}

/** How many machines (shared resources not counted) a reconcile reported per status. */
export interface MachineCounts {
  readonly kind: "counts";
  readonly at: Date;
  readonly runId: string;
  readonly counts: Readonly<Record<ResourceStatus, number>>;
}

export type TimingRow = MachineTiming | MachineCounts;

type Entity = {
  partitionKey: string;
  rowKey: string;
  kind: "machine" | "counts";
  at: string;
  runId: string;
  machineId?: string;
  subscriptionId?: string;
  status?: ResourceStatus;
  cause?: DriftCause;
  driftBeganAt?: string;
  startedAt?: string;
  verifiedAt?: string;
  secondsToCompliant?: number;
} & Partial<Record<ResourceStatus, number>>;

const OPERATIONS_PER_TRANSACTION = 100;
const STATUSES = Object.keys(EMPTY_SUMMARY) as ResourceStatus[];

export class TimingLog {
  constructor(
    private readonly table: TableClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A reconcile's rows, stamped with its finish time: one per machine with timing, one of counts. */
  async record(report: Report): Promise<void> {
    const runId = assertRunId(report.runId);
    const at = new Date(report.finishedAt);
    if (Number.isNaN(at.getTime())) throw new InputError("report.finishedAt is not a date", "finishedAt");
    const partitionKey = hourKey(at);
    const rowKey = (kind: string) => `${kind}_${timestampKey(at.getTime())}_${crypto.randomUUID()}`;
    const counts: Record<ResourceStatus, number> = { ...EMPTY_SUMMARY };
    const rows: Entity[] = [];
    for (const resource of report.resources) {
      if (resource.kind === "shared") continue;
      counts[resource.status]++;
      const timing = resource.timing;
      if (!timing) continue;
      rows.push({
        partitionKey,
        rowKey: rowKey("m"),
        kind: "machine",
        at: at.toISOString(),
        runId,
        machineId: resource.id,
        subscriptionId: resource.subscriptionId,
        status: resource.status,
        cause: timing.cause,
        driftBeganAt: timing.driftBeganAt,
        startedAt: timing.startedAt,
        ...(timing.verifiedAt ? { verifiedAt: timing.verifiedAt } : {}),
        ...(timing.secondsToCompliant !== undefined ? { secondsToCompliant: timing.secondsToCompliant } : {}),
      });
    }
    rows.push({ partitionKey, rowKey: rowKey("c"), kind: "counts", at: at.toISOString(), runId, ...counts });
    await this.submit(rows.map((row): TransactionAction => ["create", row]));
  }

  /** Every row recorded in `[from, to]`: one query over the hour partitions the window touches. */
  async window(from: Date, to: Date): Promise<TimingRow[]> {
    if (!(from.getTime() <= to.getTime())) throw new InputError("the window must start before it ends", "from");
    const filter = odata`PartitionKey ge ${hourKey(from)} and PartitionKey le ${hourKey(to)} and at ge ${from.toISOString()} and at le ${to.toISOString()}`;
    const rows: TimingRow[] = [];
    for await (const entity of this.table.listEntities<Entity>({ queryOptions: { filter } })) {
      const row = toRow(entity);
      if (row) rows.push(row);
    }
    return rows;
  }

  /** Deletes rows older than the longest window; returns how many. */
  async purgeExpired(): Promise<number> {
    const cutoff = hourKey(new Date(this.now().getTime() - TIMINGS_RETENTION_HOURS * 3_600_000));
    const byPartition = new Map<string, TransactionAction[]>();
    const expired = this.table.listEntities<Entity>({ queryOptions: { filter: odata`PartitionKey lt ${cutoff}`, select: ["PartitionKey", "RowKey"] } });
    for await (const entity of expired) {
      byPartition.set(entity.partitionKey, [...(byPartition.get(entity.partitionKey) ?? []), ["delete", { partitionKey: entity.partitionKey, rowKey: entity.rowKey }]]);
    }
    let purged = 0;
    for (const actions of byPartition.values()) {
      try {
        await this.submit(actions);
        purged += actions.length;
      } catch (error) {
        if (statusCodeOf(error) !== 404) throw error; // an overlapping purge got there first; the next one finishes
      }
    }
    return purged;
  }

  private async submit(actions: readonly TransactionAction[]): Promise<void> {
    for (let start = 0; start < actions.length; start += OPERATIONS_PER_TRANSACTION) {
      await this.table.submitTransaction(actions.slice(start, start + OPERATIONS_PER_TRANSACTION));
    }
  }
}

/** `h<yyyyMMddHH>` in UTC: sorts as time does, so a window is a PartitionKey range. */
function hourKey(at: Date): string {
  return `h${at.toISOString().slice(0, 13).replace(/[-T]/g, "")}`;
}

/** A stored row, or undefined for one this version does not know (a later version's kind). */
function toRow(entity: Entity): TimingRow | undefined {
  const base = { at: new Date(entity.at), runId: entity.runId };
  if (entity.kind === "counts") {
    return { kind: "counts", ...base, counts: Object.fromEntries(STATUSES.map((status) => [status, entity[status] ?? 0])) as Record<ResourceStatus, number> };
  }
  if (entity.kind !== "machine" || !entity.machineId || !entity.status || !entity.cause || !entity.driftBeganAt || !entity.startedAt) return undefined;
  return {
    kind: "machine",
    ...base,
    machineId: entity.machineId,
    subscriptionId: entity.subscriptionId ?? "",
    status: entity.status,
    cause: entity.cause,
    driftBeganAt: entity.driftBeganAt,
    startedAt: entity.startedAt,
    ...(entity.verifiedAt ? { verifiedAt: entity.verifiedAt } : {}),
    ...(typeof entity.secondsToCompliant === "number" ? { secondsToCompliant: entity.secondsToCompliant } : {}),
  };
}
