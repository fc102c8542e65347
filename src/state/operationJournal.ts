/**
 * Long-running writes ARM accepted and nobody has confirmed yet. A row is written before the run waits
 * for its confirmation and deleted once the write is confirmed done or failed, so a host that dies in
 * between leaves the row behind: the next run in the subscription (one writer per subscription, under its
 * lease) finds it, confirms the write and records its outcome under the run that made it.
 *
 * One partition per subscription, one row per plan item key.
 */
import type { TableClient } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import type { RunningOperation } from "../azure/gateway.js";
import type { JournalEntry, OperationJournal } from "../engine.js";
import type { PlanItem } from "../plan/plan.js";
import { statusCodeOf } from "./concurrency.js";
import { rowKeyFor } from "./keys.js";

interface OperationEntity {
  partitionKey: string;
  rowKey: string;
  runId: string;
  acceptedAt: string;
  /** The plan item as JSON: what the audit records once the write is settled. */
  item: string;
  resumeToken: string;
  retryAfterMs?: number;
}

export class OperationJournalTable implements OperationJournal {
  constructor(
    private readonly table: TableClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async accepted(runId: string, item: PlanItem, operation: RunningOperation): Promise<void> {
    const entity: OperationEntity = {
      partitionKey: item.subscriptionId.toLowerCase(),
      rowKey: rowKeyFor(item.key),
      runId,
      acceptedAt: this.now().toISOString(),
      item: JSON.stringify(item),
      resumeToken: operation.resumeToken,
      ...(operation.retryAfterMs ? { retryAfterMs: operation.retryAfterMs } : {}),
    };
    await this.table.upsertEntity(entity, "Replace");
  }

  async settled(item: PlanItem): Promise<void> {
    try {
      await this.table.deleteEntity(item.subscriptionId.toLowerCase(), rowKeyFor(item.key));
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
    }
  }

  async pending(subscriptionIds: readonly string[]): Promise<JournalEntry[]> {
    const entries: JournalEntry[] = [];
    for (const subscriptionId of new Set(subscriptionIds.map((id) => id.toLowerCase()))) {
      const rows = this.table.listEntities<OperationEntity>({ queryOptions: { filter: odata`PartitionKey eq ${subscriptionId}` } });
      for await (const row of rows) {
        entries.push({
          runId: row.runId,
          acceptedAt: row.acceptedAt,
          item: JSON.parse(row.item) as PlanItem,
          operation: { resumeToken: row.resumeToken, ...(row.retryAfterMs ? { retryAfterMs: row.retryAfterMs } : {}) },
        });
      }
    }
    return entries;
  }
}
