/**
 * When each machine was first seen out of line, remembered across runs: a sweep that finds a machine
 * drifted but cannot fix it (a failed write, a dry run) leaves the date here, and the run that finally
 * fixes it measures time-to-compliant from it instead of from its own start.
 *
 * Layout: partition `<subscriptionId>` (lower case), RowKey the machine's idKey (hashed when not a plain
 * key), `{ machineId, cause, since }`. Rows exist only for machines out of line, so the table stays as
 * small as the drift. Cost per reconcile: one query per subscription it recalls, one upsert per machine
 * newly out of line and one delete per machine back in line, both in entity-group transactions of up to
 * 100 per partition; nothing for a machine swept in line with no row.
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import { idKey, parseResourceId } from "../azure/ids.js";
import type { ReportResource } from "../report/buildReport.js";
import type { DriftCause, DriftSeen } from "../report/timing.js";
import { statusCodeOf } from "./concurrency.js";
import { rowKeyFor } from "./keys.js";

type FirstSeenEntity = {
  partitionKey: string;
  rowKey: string;
  machineId: string;
  cause: DriftCause;
  since: string;
};

/** What a report teaches: machines to remember (first seen now) and machines to forget, by idKey. */
export interface FirstSeenChanges {
  readonly remember: readonly { readonly machineId: string; readonly seen: DriftSeen }[];
  readonly forget: readonly string[];
}

/** Entity-group transactions take at most 100 operations, all in one partition. */
const OPERATIONS_PER_TRANSACTION = 100;
const RECALL_CONCURRENCY = 16;

/**
 * Pure. A machine the run acted on and did not verify compliant is remembered with its timing's cause and
 * drift start, unless already remembered (the first sighting wins); a machine now compliant or remediated is
 * forgotten. In `wholeSubscriptions` (a full sweep read every machine there), a remembered machine the
 * report does not name is gone or out of scope and is forgotten too.
 */
export function firstSeenChanges(
  remembered: ReadonlyMap<string, DriftSeen>,
  resources: readonly ReportResource[],
  wholeSubscriptions: ReadonlySet<string>,
): FirstSeenChanges {
  const remember: { machineId: string; seen: DriftSeen }[] = [];
  const forget: string[] = [];
  const reported = new Set<string>();
  for (const resource of resources) {
    if (resource.kind === "shared") continue;
    const key = idKey(resource.id);
    if (reported.has(key)) continue; // named twice: one decision (a transaction may not touch a row twice)
    reported.add(key);
    const inLine = resource.status === "compliant" || resource.status === "remediated";
    if (inLine && remembered.has(key)) forget.push(key);
    else if (!inLine && resource.timing && !remembered.has(key)) {
      remember.push({ machineId: resource.id, seen: { cause: resource.timing.cause, since: resource.timing.driftBeganAt } });
    }
  }
  for (const key of remembered.keys()) {
    if (!reported.has(key) && wholeSubscriptions.has(subscriptionOf(key))) forget.push(key);
  }
  return { remember, forget };
}

export class FirstSeenTable {
  constructor(private readonly table: TableClient) {}

  /** Every machine remembered in these subscriptions, by idKey: one query per subscription. */
  async recall(subscriptionIds: readonly string[]): Promise<Map<string, DriftSeen>> {
    const remembered = new Map<string, DriftSeen>();
    const partitions = [...new Set(subscriptionIds.map((id) => id.toLowerCase()))];
    for (let start = 0; start < partitions.length; start += RECALL_CONCURRENCY) {
      await Promise.all(
        partitions.slice(start, start + RECALL_CONCURRENCY).map(async (partitionKey) => {
          const rows = this.table.listEntities<FirstSeenEntity>({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` } });
          for await (const row of rows) remembered.set(idKey(row.machineId), { cause: row.cause, since: row.since });
        }),
      );
    }
    return remembered;
  }

  /** Writes what a report taught (see firstSeenChanges), batched per subscription. */
  async update(remembered: ReadonlyMap<string, DriftSeen>, resources: readonly ReportResource[], wholeSubscriptions: readonly string[]): Promise<void> {
    const changes = firstSeenChanges(remembered, resources, new Set(wholeSubscriptions.map((id) => id.toLowerCase())));
    const byPartition = new Map<string, TransactionAction[]>();
    const add = (partitionKey: string, action: TransactionAction) => byPartition.set(partitionKey, [...(byPartition.get(partitionKey) ?? []), action]);
    for (const { machineId, seen } of changes.remember) {
      const partitionKey = subscriptionOf(machineId);
      const entity: FirstSeenEntity = { partitionKey, rowKey: rowKeyFor(idKey(machineId)), machineId, cause: seen.cause, since: seen.since };
      add(partitionKey, ["upsert", entity, "Replace"]);
    }
    for (const key of changes.forget) add(subscriptionOf(key), ["delete", { partitionKey: subscriptionOf(key), rowKey: rowKeyFor(key) }]);
    await Promise.all([...byPartition.values()].map((actions) => this.submit(actions)));
  }

  private async submit(actions: readonly TransactionAction[]): Promise<void> {
    for (let start = 0; start < actions.length; start += OPERATIONS_PER_TRANSACTION) {
      const batch = actions.slice(start, start + OPERATIONS_PER_TRANSACTION);
      try {
        await this.table.submitTransaction(batch);
      } catch (error) {
        // A row deleted meanwhile (an overlapping run forgot it first) fails the whole batch: do the batch one by one.
        if (statusCodeOf(error) !== 404) throw error;
        await this.oneByOne(batch);
      }
    }
  }

  private async oneByOne(actions: readonly TransactionAction[]): Promise<void> {
    for (const [kind, entity] of actions) {
      try {
        if (kind === "delete") await this.table.deleteEntity(entity.partitionKey, entity.rowKey);
        else await this.table.upsertEntity(entity, "Replace");
      } catch (error) {
        if (statusCodeOf(error) !== 404) throw error;
      }
    }
  }
}

/** The partition of a machine: its subscription, lower case. */
function subscriptionOf(machineId: string): string {
  return parseResourceId(machineId).subscriptionId.toLowerCase();
}
