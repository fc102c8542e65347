/**
 * What Event Grid events named and is waiting to be reconciled, per subscription: machines, resource
 * groups and whole subscriptions (a plan switched on, a shared resource deleted, an opt-out tag removed),
 * each with the drift's cause and when it began. Events arrive one at a time; collecting them for a few
 * seconds lets one work item read each subscription's shared state once for many machines, so a burst
 * costs ARM reads per subscription, not per event, and a burst of subscription-wide events one sweep.
 */
import type { TableClient } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import { idKey } from "../azure/ids.js";
import { InputError } from "../errors.js";
import type { DriftCause } from "../report/timing.js";
import { isNotFound, retryOnConflict, statusCodeOf } from "./concurrency.js";
import { rowKeyFor } from "./keys.js";

/** A machine; the machines of a resource group; a sweep of the whole subscription. */
export type PendingScope = "machine" | "resourceGroup" | "subscription";

interface PendingEntity {
  partitionKey: string;
  rowKey: string;
  /** The machine, resource group or subscription id (rows written before scopes existed hold `machineId` only). */
  resourceId?: string;
  machineId?: string;
  scope?: PendingScope;
  cause?: DriftCause;
  /** ISO 8601: the earliest eventTime that named it. */
  since?: string;
  eventId: string;
  /** ISO 8601: when it was last named; every naming moves the row's ETag (see `remove`). */
  namedAt?: string;
}

export interface PendingNaming {
  readonly resourceId: string;
  readonly scope: PendingScope;
  readonly cause: DriftCause;
  /** The event's eventTime. */
  readonly since: Date;
  readonly eventId: string;
}

export interface PendingEntry {
  readonly resourceId: string;
  readonly scope: PendingScope;
  /** Absent only on rows from before causes were kept. */
  readonly cause?: DriftCause;
  readonly since?: string;
  readonly rowKey: string;
  readonly etag: string;
}

export class PendingMachines {
  constructor(
    private readonly table: TableClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Notes what an event named. Named again, it waits once: the earliest eventTime (and its cause) is kept,
   * as that is when the drift began, and the row's ETag moves so that a flush already running does not
   * remove it (its reads may predate the new event).
   */
  async add(subscriptionId: string, naming: PendingNaming): Promise<void> {
    if (Number.isNaN(naming.since.getTime())) throw new InputError("since is not a valid date", "since");
    const partitionKey = subscriptionId.toLowerCase();
    const rowKey = rowKeyFor(idKey(naming.resourceId));
    const named: PendingEntity = {
      partitionKey,
      rowKey,
      resourceId: naming.resourceId,
      scope: naming.scope,
      cause: naming.cause,
      since: naming.since.toISOString(),
      eventId: naming.eventId.slice(0, 200),
      namedAt: this.now().toISOString(),
    };
    await retryOnConflict(async () => {
      let existing: (PendingEntity & { etag: string }) | undefined;
      try {
        existing = await this.table.getEntity<PendingEntity>(partitionKey, rowKey);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      if (!existing) {
        await this.table.createEntity(named);
        return;
      }
      const keepEarlier = existing.since !== undefined && existing.cause !== undefined && Date.parse(existing.since) <= naming.since.getTime();
      const next = keepEarlier ? { ...named, cause: existing.cause, since: existing.since, eventId: existing.eventId } : named;
      await this.table.updateEntity(next, "Replace", { etag: existing.etag });
    });
  }

  async list(subscriptionId: string, max: number): Promise<PendingEntry[]> {
    const pending: PendingEntry[] = [];
    const entities = this.table.listEntities<PendingEntity>({ queryOptions: { filter: odata`PartitionKey eq ${subscriptionId.toLowerCase()}` } });
    for await (const entity of entities) {
      const resourceId = entity.resourceId ?? entity.machineId;
      if (!resourceId) continue;
      pending.push({
        resourceId,
        scope: entity.scope ?? "machine",
        ...(entity.cause ? { cause: entity.cause } : {}),
        ...(entity.since ? { since: entity.since } : {}),
        rowKey: entity.rowKey,
        etag: entity.etag,
      });
      if (pending.length >= max) break;
    }
    return pending;
  }

  /** Removes what was reconciled; a row named again meanwhile (new ETag) stays for the next flush. */
  async remove(subscriptionId: string, entries: readonly PendingEntry[]): Promise<void> {
    await Promise.all(
      entries.map(async (entry) => {
        try {
          await this.table.deleteEntity(subscriptionId.toLowerCase(), entry.rowKey, { etag: entry.etag });
        } catch (error) {
          const status = statusCodeOf(error);
          if (status !== 404 && status !== 412) throw error;
        }
      }),
    );
  }
}
