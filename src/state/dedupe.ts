/**
 * Claim-once keys with an expiry, for Event Grid's at-least-once delivery (dedupe on the event id).
 *
 * `claim` is atomic without a lock: creating the key's entity either succeeds (first claim) or conflicts
 * (already claimed). An expired claim can be taken again by exactly one caller, through an update
 * conditioned on the ETag it read.
 */
import type { TableClient } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import { InputError } from "../errors.js";
import { isNotFound, statusCodeOf } from "./concurrency.js";
import { rowKeyFor } from "./keys.js";

interface ClaimEntity {
  partitionKey: string;
  rowKey: string;
  expiresAt: string;
  /** The original key, cut short when it was hashed into the row key. */
  key: string;
}

export class Dedupe {
  constructor(
    private readonly table: TableClient,
    /** Keys of different kinds (Event Grid ids, ...) live in their own partition. */
    private readonly namespace = "eventgrid",
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** True for the first claim of `key` within `ttlMs`; false while an earlier claim is alive. */
  async claim(key: string, ttlMs: number): Promise<boolean> {
    if (typeof key !== "string" || key.length === 0) throw new InputError("dedupe key must be a non-empty string", "key");
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new InputError("ttlMs must be a positive number", "ttlMs");
    const entity: ClaimEntity = {
      partitionKey: this.namespace,
      rowKey: rowKeyFor(key),
      expiresAt: new Date(this.now().getTime() + ttlMs).toISOString(),
      key: key.slice(0, 1_000),
    };
    // Two rounds at most: a claim deleted between our create and our read is simply created again.
    for (let round = 0; round < 2; round++) {
      try {
        await this.table.createEntity(entity);
        return true;
      } catch (error) {
        if (statusCodeOf(error) !== 409) throw error;
      }
      let existing;
      try {
        existing = await this.table.getEntity<ClaimEntity>(entity.partitionKey, entity.rowKey);
      } catch (error) {
        if (isNotFound(error)) continue;
        throw error;
      }
      if (new Date(existing.expiresAt).getTime() > this.now().getTime()) return false;
      try {
        await this.table.updateEntity(entity, "Replace", { etag: existing.etag });
        return true;
      } catch (error) {
        const status = statusCodeOf(error);
        if (status === 412) return false; // someone else reclaimed it first
        if (status === 404) continue;
        throw error;
      }
    }
    return false;
  }

  /** Whether a claim of `key` is alive. */
  async isClaimed(key: string): Promise<boolean> {
    try {
      const existing = await this.table.getEntity<ClaimEntity>(this.namespace, rowKeyFor(key));
      return new Date(existing.expiresAt).getTime() > this.now().getTime();
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Gives a claim back, e.g. when the work it guarded could not be queued and the event must be redelivered. */
  async release(key: string): Promise<void> {
    try {
      await this.table.deleteEntity(this.namespace, rowKeyFor(key));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Deletes expired claims in this namespace; returns how many. */
  async purgeExpired(): Promise<number> {
    const cutoff = this.now().toISOString();
    let purged = 0;
    const filter = odata`PartitionKey eq ${this.namespace} and expiresAt lt ${cutoff}`;
    for await (const claim of this.table.listEntities<ClaimEntity>({ queryOptions: { filter } })) {
      try {
        await this.table.deleteEntity(claim.partitionKey, claim.rowKey, { etag: claim.etag });
        purged++;
      } catch (error) {
        const status = statusCodeOf(error);
        if (status !== 404 && status !== 412) throw error; // gone or reclaimed meanwhile
      }
    }
    return purged;
  }
}
