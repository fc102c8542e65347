/**
 * Per-subscription sweep checkpoints and the lease that lets only one sweep per subscription run at a time.
 *
 * Both are Table entities in partition `<subscriptionId>`: row `checkpoint` holds
 * `{ lastSweepAt, lastFullReconcileAt }`, row `lease` holds `{ owner, expiresAt }`. The lease is taken by
 * creating its row, or by an ETag-conditioned update once it has expired, so it survives restarts and
 * works across instances; a crashed holder's lease simply runs out.
 */
import type { TableClient } from "@azure/data-tables";
import { isGuid } from "../azure/ids.js";
import { InputError } from "../errors.js";
import { isNotFound, retryOnConflict, statusCodeOf } from "./concurrency.js";

export interface Checkpoint {
  readonly subscriptionId: string;
  readonly lastSweepAt?: Date;
  readonly lastFullReconcileAt?: Date;
}

export interface Lease {
  readonly subscriptionId: string;
  readonly owner: string;
  readonly expiresAt: Date;
  /** The lease row's ETag: proof of holding it for renew/release. */
  readonly etag: string;
}

interface CheckpointEntity {
  partitionKey: string;
  rowKey: "checkpoint";
  lastSweepAt?: string;
  lastFullReconcileAt?: string;
}

interface LeaseEntity {
  partitionKey: string;
  rowKey: "lease";
  owner: string;
  expiresAt: string;
}

export class Checkpoints {
  constructor(
    private readonly table: TableClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(subscriptionId: string): Promise<Checkpoint | undefined> {
    const partitionKey = subscriptionKey(subscriptionId);
    try {
      return toCheckpoint(await this.table.getEntity<CheckpointEntity>(partitionKey, "checkpoint"));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Moves the checkpoint forward; a time older than the stored one is ignored (overlapping or late sweeps). */
  async record(subscriptionId: string, update: { readonly lastSweepAt?: Date; readonly lastFullReconcileAt?: Date }): Promise<Checkpoint> {
    const partitionKey = subscriptionKey(subscriptionId);
    return retryOnConflict(async () => {
      let current: (CheckpointEntity & { etag?: string }) | undefined;
      try {
        current = await this.table.getEntity<CheckpointEntity>(partitionKey, "checkpoint");
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      const next: CheckpointEntity = {
        partitionKey,
        rowKey: "checkpoint",
        ...latest("lastSweepAt", current?.lastSweepAt, update.lastSweepAt),
        ...latest("lastFullReconcileAt", current?.lastFullReconcileAt, update.lastFullReconcileAt),
      };
      if (current?.etag) await this.table.updateEntity(next, "Replace", { etag: current.etag });
      else await this.table.createEntity(next);
      return toCheckpoint(next);
    });
  }

  /**
   * Takes the subscription's sweep lease for `ttlMs`, or returns undefined while someone else holds it.
   * The same owner may take its own live lease again (a retried invocation).
   */
  async acquire(subscriptionId: string, ttlMs: number, owner: string): Promise<Lease | undefined> {
    const partitionKey = subscriptionKey(subscriptionId);
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new InputError("ttlMs must be a positive number", "ttlMs");
    if (typeof owner !== "string" || owner.length === 0 || owner.length > 256) throw new InputError("lease owner must be 1-256 characters", "owner");
    const entity = (): LeaseEntity => ({
      partitionKey,
      rowKey: "lease",
      owner,
      expiresAt: new Date(this.now().getTime() + ttlMs).toISOString(),
    });
    for (let round = 0; round < 2; round++) {
      const wanted = entity();
      try {
        const created = await this.table.createEntity(wanted);
        return toLease(wanted, created.etag);
      } catch (error) {
        if (statusCodeOf(error) !== 409) throw error;
      }
      let held;
      try {
        held = await this.table.getEntity<LeaseEntity>(partitionKey, "lease");
      } catch (error) {
        if (isNotFound(error)) continue; // released meanwhile: try to create again
        throw error;
      }
      if (held.owner !== owner && new Date(held.expiresAt).getTime() > this.now().getTime()) return undefined;
      try {
        const updated = await this.table.updateEntity(wanted, "Replace", { etag: held.etag });
        return toLease(wanted, updated.etag);
      } catch (error) {
        const status = statusCodeOf(error);
        if (status === 412) return undefined; // another owner took it first
        if (status !== 404) throw error;
      }
    }
    return undefined;
  }

  /** Gives the lease up; false when it was no longer ours (expired and taken over, or already released). */
  async release(lease: Lease): Promise<boolean> {
    try {
      await this.table.deleteEntity(subscriptionKey(lease.subscriptionId), "lease", { etag: lease.etag });
      return true;
    } catch (error) {
      const status = statusCodeOf(error);
      if (status === 412 || status === 404) return false;
      throw error;
    }
  }
}

function subscriptionKey(subscriptionId: string): string {
  if (typeof subscriptionId !== "string" || !isGuid(subscriptionId)) {
    throw new InputError("subscriptionId must be a GUID", "subscriptionId");
  }
  return subscriptionId.toLowerCase();
}

function latest<K extends string>(name: K, stored: string | undefined, given: Date | undefined): Partial<Record<K, string>> {
  if (given !== undefined && Number.isNaN(given.getTime())) throw new InputError(`${name} is not a valid date`, name);
  const candidates = [stored, given?.toISOString()].filter((value): value is string => value !== undefined);
  if (candidates.length === 0) return {};
  const newest = candidates.reduce((a, b) => (new Date(a).getTime() >= new Date(b).getTime() ? a : b));
  return { [name]: newest } as Partial<Record<K, string>>;
}

function toCheckpoint(entity: CheckpointEntity): Checkpoint {
  return {
    subscriptionId: entity.partitionKey,
    ...(entity.lastSweepAt ? { lastSweepAt: new Date(entity.lastSweepAt) } : {}),
    ...(entity.lastFullReconcileAt ? { lastFullReconcileAt: new Date(entity.lastFullReconcileAt) } : {}),
  };
}

function toLease(entity: LeaseEntity, etag: string | undefined): Lease {
  if (!etag) throw new Error("Table Storage returned no ETag for the lease");
  return { subscriptionId: entity.partitionKey, owner: entity.owner, expiresAt: new Date(entity.expiresAt), etag };
}
