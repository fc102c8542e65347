/**
 * Machines named by Event Grid events and waiting to be reconciled, per subscription. Events arrive
 * one at a time; collecting them for a few seconds lets one work item read each subscription's shared
 * state once for many machines, so a burst costs ARM reads per subscription, not per event.
 */
import type { TableClient } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import { idKey } from "../azure/ids.js";
import { statusCodeOf } from "./concurrency.js";
import { rowKeyFor } from "./keys.js";

interface PendingEntity {
  partitionKey: string;
  rowKey: string;
  machineId: string;
  eventId: string;
}

export interface PendingMachine {
  readonly machineId: string;
  readonly rowKey: string;
  readonly etag: string;
}

export class PendingMachines {
  constructor(private readonly table: TableClient) {}

  /** Upsert: the same machine named twice waits once. */
  async add(subscriptionId: string, machineId: string, eventId: string): Promise<void> {
    const entity: PendingEntity = { partitionKey: subscriptionId.toLowerCase(), rowKey: rowKeyFor(idKey(machineId)), machineId, eventId: eventId.slice(0, 200) };
    await this.table.upsertEntity(entity, "Replace");
  }

  async list(subscriptionId: string, max: number): Promise<PendingMachine[]> {
    const pending: PendingMachine[] = [];
    const entities = this.table.listEntities<PendingEntity>({ queryOptions: { filter: odata`PartitionKey eq ${subscriptionId.toLowerCase()}` } });
    for await (const entity of entities) {
      pending.push({ machineId: entity.machineId, rowKey: entity.rowKey, etag: entity.etag });
      if (pending.length >= max) break;
    }
    return pending;
  }

  /** Removes what was reconciled; a row named again meanwhile (new ETag) stays for the next flush. */
  async remove(subscriptionId: string, machines: readonly PendingMachine[]): Promise<void> {
    await Promise.all(
      machines.map(async (machine) => {
        try {
          await this.table.deleteEntity(subscriptionId.toLowerCase(), machine.rowKey, { etag: machine.etag });
        } catch (error) {
          const status = statusCodeOf(error);
          if (status !== 404 && status !== 412) throw error;
        }
      }),
    );
  }
}
