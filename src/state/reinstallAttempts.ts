/**
 * How often today an event flush reinstalled each machine's Failed agent extension. A reinstall that
 * fails raises another ResourceWriteFailure event, so without a count an extension that cannot install
 * would be retried for ever; past EXTENSION_REINSTALL_ATTEMPTS_PER_DAY the machine is reported instead.
 *
 * One partition per UTC day (`yyyy-mm-dd`), one row per machine: a day's count starts at zero by itself
 * and `purgeBefore` drops whole past days.
 */
import type { TableClient } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import { idKey } from "../azure/ids.js";
import { isNotFound, retryOnConflict, statusCodeOf } from "./concurrency.js";
import { rowKeyFor } from "./keys.js";

interface AttemptEntity {
  partitionKey: string;
  rowKey: string;
  machineId: string;
  attempts: number;
}

/** The UTC day a time falls on, as the partition key. */
function attemptDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export class ReinstallAttempts {
  constructor(
    private readonly table: TableClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Today's count per machine (by idKey); machines never reinstalled today are absent. */
  async today(machineIds: readonly string[]): Promise<Map<string, number>> {
    const day = attemptDay(this.now());
    const counts = new Map<string, number>();
    await Promise.all(
      [...new Set(machineIds.map(idKey))].map(async (key) => {
        try {
          const entity = await this.table.getEntity<AttemptEntity>(day, rowKeyFor(key));
          counts.set(key, entity.attempts);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }),
    );
    return counts;
  }

  /** Counts one more reinstall today; returns the new count. */
  async record(machineId: string): Promise<number> {
    const partitionKey = attemptDay(this.now());
    const rowKey = rowKeyFor(idKey(machineId));
    return retryOnConflict(async () => {
      try {
        const existing = await this.table.getEntity<AttemptEntity>(partitionKey, rowKey);
        const attempts = existing.attempts + 1;
        await this.table.updateEntity({ partitionKey, rowKey, machineId, attempts }, "Replace", { etag: existing.etag });
        return attempts;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      await this.table.createEntity({ partitionKey, rowKey, machineId, attempts: 1 });
      return 1;
    });
  }

  /** Deletes the counts of days before today; returns how many rows went. */
  async purgeBefore(): Promise<number> {
    const today = attemptDay(this.now());
    let purged = 0;
    for await (const entity of this.table.listEntities<AttemptEntity>({ queryOptions: { filter: odata`PartitionKey lt ${today}` } })) {
      try {
        await this.table.deleteEntity(entity.partitionKey, entity.rowKey);
        purged++;
      } catch (error) {
        if (statusCodeOf(error) !== 404) throw error;
      }
    }
    return purged;
  }
}
