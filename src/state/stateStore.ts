/**
 * All durable state of the service, built from one Storage connection (`AzureWebJobsStorage`).
 * `createStateStore` creates the tables and queues when they are missing (safe to call on every start).
 */
import { AuditLog } from "./auditLog.js";
import { Checkpoints } from "./checkpoints.js";
import { Dedupe } from "./dedupe.js";
import { FirstSeenTable } from "./firstSeen.js";
import { PendingMachines } from "./pendingMachines.js";
import { ReinstallAttempts } from "./reinstallAttempts.js";
import { RunStore } from "./runStore.js";
import { createQueueClient, createTableClient, type StorageConnection } from "./storageConnection.js";
import { TimingLog } from "./timings.js";
import { OperationJournalTable } from "./operationJournal.js";
import { WORK_QUEUE, WorkQueue, poisonQueueName } from "./workQueue.js";

export const TABLES = {
  runs: "remediationRuns",
  audit: "remediationAudit",
  dedupe: "remediationDedupe",
  checkpoints: "remediationCheckpoints",
  pending: "remediationPending",
  reinstalls: "remediationReinstalls",
  firstSeen: "remediationFirstSeen",
  timings: "remediationTimings",
  operations: "remediationOperations",
} as const;

export interface StateStore {
  readonly runs: RunStore;
  readonly audit: AuditLog;
  /** Event Grid event ids. */
  readonly dedupe: Dedupe;
  /** One scheduled flush of pending machines per subscription and batching window. */
  readonly flushes: Dedupe;
  readonly pending: PendingMachines;
  /** Failed agent extensions reinstalled per machine and day by event flushes. */
  readonly reinstalls: ReinstallAttempts;
  readonly checkpoints: Checkpoints;
  readonly workQueue: WorkQueue;
  /** When each machine out of line was first seen (time-to-compliant across runs). */
  readonly firstSeen: FirstSeenTable;
  /** Time-to-compliant and machine counts per reconcile, for GET /api/metrics. */
  readonly timings: TimingLog;
  /**
   * Correlation ids of the service's own long-running writes: the events ARM raises for them are not drift
   * (a re-check of the machine would only spend reads).
   */
  readonly ownWrites: Dedupe;
  /** Long-running writes accepted and not yet confirmed: what a crash must not lose. */
  readonly operations: OperationJournalTable;
}

export interface StateStoreOptions {
  /** The clock for records, expiries and leases. */
  readonly now?: () => Date;
  /** Defaults to WORK_QUEUE; its poison queue is `<queueName>-poison`. */
  readonly queueName?: string;
  /** Skip creating tables and queues (they are known to exist). */
  readonly skipCreate?: boolean;
}

export async function createStateStore(connection: StorageConnection, options: StateStoreOptions = {}): Promise<StateStore> {
  const now = options.now ?? (() => new Date());
  const tables = {
    runs: createTableClient(connection, TABLES.runs),
    audit: createTableClient(connection, TABLES.audit),
    dedupe: createTableClient(connection, TABLES.dedupe),
    checkpoints: createTableClient(connection, TABLES.checkpoints),
    pending: createTableClient(connection, TABLES.pending),
    reinstalls: createTableClient(connection, TABLES.reinstalls),
    firstSeen: createTableClient(connection, TABLES.firstSeen),
    timings: createTableClient(connection, TABLES.timings),
    operations: createTableClient(connection, TABLES.operations),
  };
  const queueName = options.queueName ?? WORK_QUEUE;
  const queue = createQueueClient(connection, queueName);
  const poisonQueue = createQueueClient(connection, poisonQueueName(queueName));
  if (!options.skipCreate) {
    // TableClient.createTable ignores "already exists"; createIfNotExists does the same for queues.
    await Promise.all([
      ...Object.values(tables).map((table) => table.createTable()),
      queue.createIfNotExists(),
      poisonQueue.createIfNotExists(),
    ]);
  }
  return {
    runs: new RunStore(tables.runs, now),
    audit: new AuditLog(tables.audit, now),
    dedupe: new Dedupe(tables.dedupe, "eventgrid", now),
    flushes: new Dedupe(tables.dedupe, "flush", now),
    pending: new PendingMachines(tables.pending, now),
    reinstalls: new ReinstallAttempts(tables.reinstalls, now),
    checkpoints: new Checkpoints(tables.checkpoints, now),
    workQueue: new WorkQueue(queue, poisonQueue),
    firstSeen: new FirstSeenTable(tables.firstSeen),
    timings: new TimingLog(tables.timings, now),
    ownWrites: new Dedupe(tables.dedupe, "ownwrite", now),
    operations: new OperationJournalTable(tables.operations, now),
  };
}
