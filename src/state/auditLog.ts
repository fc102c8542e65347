/**
 * The per-resource action audit: one row per write the service attempted against Azure.
 * Who (the trigger and the service principal), what (action, target, a hash of the body sent), when,
 * the result (with ARM's code and message on failure) and ARM's correlation id, under the run's id.
 *
 * On a machine's write, the machine's drift (cause, when it began), so the audit alone tells how long the
 * machine waited: from `driftBeganAt` to the `at` of its last succeeded write.
 *
 * Rows live in partition `runId`, RowKey `<epoch ms>-<random>`, so a run's actions read back in order.
 */
import type { TableClient } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import { InputError } from "../errors.js";
import type { DriftCause, DriftSeen } from "../report/timing.js";
import { assertRunId, sha256Hex, timestampKey } from "./keys.js";
import type { RunTrigger } from "./runStore.js";

export interface AuditActor {
  readonly trigger: RunTrigger;
  /** The service principal the write ran as (client or object id), when known. */
  readonly principal?: string;
}

export interface AuditEntry {
  readonly runId: string;
  readonly at: Date;
  readonly actor: AuditActor;
  /** The plan action, e.g. `installExtension`. */
  readonly action: string;
  readonly targetId: string;
  /** SHA-256 of the request body (see `bodyHash`); absent for body-less calls. */
  readonly bodySha256?: string;
  readonly result: "succeeded" | "failed";
  /** ARM's error on failure. */
  readonly error?: { readonly code: string; readonly message: string; readonly statusCode?: number };
  /** `x-ms-correlation-request-id` of the ARM call. */
  readonly correlationId?: string;
  /** On a machine's write: what put the machine out of line, and since when. */
  readonly drift?: DriftSeen;
}

export type NewAuditEntry = Omit<AuditEntry, "at"> & { readonly at?: Date };

interface AuditEntity {
  partitionKey: string;
  rowKey: string;
  at: string;
  trigger: RunTrigger;
  principal?: string;
  action: string;
  targetId: string;
  bodySha256?: string;
  result: "succeeded" | "failed";
  errorCode?: string;
  errorMessage?: string;
  statusCode?: number;
  correlationId?: string;
  driftCause?: DriftCause;
  driftBeganAt?: string;
}

const MESSAGE_CHARS = 4_000;

/** SHA-256 (hex) of a request body's canonical JSON (keys sorted), so equal bodies hash equal. */
export function bodyHash(body: unknown): string {
  // Through JSON first, so Dates, toJSON() and undefined members hash as they are sent on the wire.
  return sha256Hex(canonicalJson(JSON.parse(JSON.stringify(body) ?? "null")));
}

export class AuditLog {
  constructor(
    private readonly table: TableClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async record(entry: NewAuditEntry): Promise<AuditEntry> {
    const runId = assertRunId(entry.runId);
    if (!entry.action) throw new InputError("audit action is required", "action");
    if (!entry.targetId) throw new InputError("audit targetId is required", "targetId");
    const at = entry.at ?? this.now();
    const entity: AuditEntity = {
      partitionKey: runId,
      rowKey: `${timestampKey(at.getTime())}-${crypto.randomUUID()}`,
      at: at.toISOString(),
      trigger: entry.actor.trigger,
      action: entry.action,
      targetId: entry.targetId,
      result: entry.result,
      ...(entry.actor.principal ? { principal: entry.actor.principal } : {}),
      ...(entry.bodySha256 ? { bodySha256: entry.bodySha256 } : {}),
      ...(entry.error
        ? {
            errorCode: entry.error.code,
            errorMessage: truncate(entry.error.message),
            ...(entry.error.statusCode !== undefined ? { statusCode: entry.error.statusCode } : {}),
          }
        : {}),
      ...(entry.correlationId ? { correlationId: entry.correlationId } : {}),
      ...(entry.drift ? { driftCause: entry.drift.cause, driftBeganAt: entry.drift.since } : {}),
    };
    await this.table.createEntity(entity);
    return toEntry(entity);
  }

  /** A run's actions, oldest first. */
  async listForRun(runId: string): Promise<AuditEntry[]> {
    assertRunId(runId);
    return this.query(odata`PartitionKey eq ${runId}`);
  }

  private async query(filter: string): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    for await (const entity of this.table.listEntities<AuditEntity>({ queryOptions: { filter } })) entries.push(toEntry(entity));
    return entries;
  }
}

function toEntry(entity: AuditEntity): AuditEntry {
  return {
    runId: entity.partitionKey,
    at: new Date(entity.at),
    actor: { trigger: entity.trigger, ...(entity.principal ? { principal: entity.principal } : {}) },
    action: entity.action,
    targetId: entity.targetId,
    ...(entity.bodySha256 ? { bodySha256: entity.bodySha256 } : {}),
    result: entity.result,
    ...(entity.errorCode
      ? {
          error: {
            code: entity.errorCode,
            message: entity.errorMessage ?? "",
            ...(entity.statusCode !== undefined ? { statusCode: entity.statusCode } : {}),
          },
        }
      : {}),
    ...(entity.correlationId ? { correlationId: entity.correlationId } : {}),
    ...(entity.driftCause && entity.driftBeganAt ? { drift: { cause: entity.driftCause, since: entity.driftBeganAt } } : {}),
  };
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function truncate(text: string): string {
  return text.length > MESSAGE_CHARS ? `${text.slice(0, MESSAGE_CHARS - 1)}…` : text;
}
