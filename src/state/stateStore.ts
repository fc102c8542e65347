/**
 * All durable state of the service, built from one Storage connection (`AzureWebJobsStorage`).
 * `createStateStore` creates the tables and queues when they are missing (safe to call on every start).
 */
import { AuditLog } from "./auditLog.js";
import { Checkpoints } from "./checkpoints.js";
import { Dedupe } from "./dedupe.js";
import { PendingMachines } from "./pendingMachines.js";
import { RunStore } from "./runStore.js";
import { createQueueClient, createTableClient, type StorageConnection } from "./storageConnection.js";
import { WORK_QUEUE, WorkQueue, poisonQueueName } from "./workQueue.js";

export const TABLES = {
  runs: "remediationRuns",
  audit: "remediationAudit",
  dedupe: "remediationDedupe",
  checkpoints: "remediationCheckpoints",
  pending: "remediationPending",
} as const;

export interface StateStore {
  readonly runs: RunStore;
  readonly audit: AuditLog;
  /** Event Grid event ids. */
  readonly dedupe: Dedupe;
  /** One scheduled flush of pending machines per subscription and batching window. */
  readonly flushes: Dedupe;
  readonly pending: PendingMachines;
  readonly checkpoints: Checkpoints;
  readonly workQueue: WorkQueue;
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
    pending: new PendingMachines(tables.pending),
    checkpoints: new Checkpoints(tables.checkpoints, now),
    workQueue: new WorkQueue(queue, poisonQueue),
  };
}
