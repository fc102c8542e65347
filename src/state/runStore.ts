/**
 * Run records in Table Storage.
 *
 * Layout (one table): everything about a run shares the partition `runId`, so the run row and a work
 * item's row change together in one entity-group transaction.
 *   run                           the record: status, counts, work item tally (ETag-guarded)
 *   item:<workItemId>             one per work item: pending | done | poisoned (+ reason, report size)
 *   report:<workItemId>:<00000>   the work item's report entries as JSON, in ≤30,000-character chunks
 *   plan:<workItemId>:<00000>     a dry run's plan part, the same way (POST /api/runs {planId} applies it later)
 * and a newest-first index in partition `~index`, RowKey `<inverted timestamp>_<runId>`.
 *
 * Many queue workers finish work items of one run at once: each settles its item and bumps the run's
 * tally in one transaction conditioned on both ETags, retrying on a lost race. Settling is idempotent per
 * work item id (a redelivered message is counted once), and the finisher that settles the last item
 * moves the run to its terminal status.
 */
import type { TableClient, TableEntityResult, TransactionAction } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import { InputError } from "../errors.js";
import { isNotFound, retryOnConflict, statusCodeOf } from "./concurrency.js";
import { EMPTY_SUMMARY, type ResourceStatus } from "../report/buildReport.js";
import { assertRunId, assertWorkItemId, invertedTimestamp } from "./keys.js";

export const RUN_TRIGGERS = ["http", "timer", "eventGrid", "cli"] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];
export type RunStatus = "queued" | "running" | "succeeded" | "failed";

export interface RunScope {
  readonly subscriptions: readonly string[];
  readonly resourceIds: readonly string[];
}

/** Machines and shared resources per report status, summed over a run's work items. */
export type RunCounts = Readonly<Record<ResourceStatus, number>>;

export interface WorkItemTally {
  readonly total: number;
  readonly done: number;
  readonly poisoned: number;
}

/** What `listRecent` returns: the run without its poison list and report. */
export interface RunSummary {
  readonly runId: string;
  readonly trigger: RunTrigger;
  readonly status: RunStatus;
  readonly dryRun: boolean;
  readonly scope: RunScope;
  readonly createdAt: Date;
  readonly startedAt?: Date;
  readonly finishedAt?: Date;
  readonly counts: RunCounts;
  readonly workItems: WorkItemTally;
  /** Why the run as a whole failed (set by `finish`), as opposed to work items or machines failing. */
  readonly error?: string;
}

export interface PoisonedWorkItem {
  readonly workItemId: string;
  readonly reason: string;
}

export interface RunRecord<TEntry = unknown> extends RunSummary {
  readonly poison: readonly PoisonedWorkItem[];
  /** Every work item's report entries (one per machine, with its actions), in work item id order. */
  readonly report?: readonly TEntry[];
}

export interface NewRun {
  /** Defaults to a random UUID. */
  readonly runId?: string;
  readonly trigger: RunTrigger;
  readonly dryRun: boolean;
  readonly scope: RunScope;
  /** Work items known at creation (registered atomically with the run when there are at most 99). */
  readonly workItemIds?: readonly string[];
}

export interface SettledWorkItem {
  /** False when this work item had already been settled (a redelivery): nothing was counted. */
  readonly recorded: boolean;
  readonly run: RunSummary;
}

export const EMPTY_COUNTS: RunCounts = EMPTY_SUMMARY;

const COUNT_NAMES = ["compliant", "remediated", "planned", "failed", "skipped"] as const;
const RUN_ROW = "run";
const INDEX_PARTITION = "~index";
/** A Table string property holds 64 KiB of UTF-16: 32,768 code units; stay below. */
const CHUNK_CHARS = 30_000;
/** The scope is kept on the run row across at most this many properties (~300,000 characters). */
const SCOPE_PROPERTIES = 10;
/** An entity-group transaction takes at most 100 operations; one is the run row. */
const ITEMS_PER_TRANSACTION = 99;
const CHUNKS_PER_TRANSACTION = 25;
const REASON_CHARS = 2_000;

type RunEntity = {
  partitionKey: string;
  rowKey: string;
  trigger: RunTrigger;
  status: RunStatus;
  dryRun: boolean;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  compliant: number;
  remediated: number;
  planned: number;
  failed: number;
  skipped: number;
  total: number;
  done: number;
  poisoned: number;
  error?: string;
  [scopePart: `scope${number}`]: string;
};

type ItemEntity = {
  partitionKey: string;
  rowKey: string;
  state: "pending" | "done" | "poisoned";
  reason?: string;
  reportChunks?: number;
  planChunks?: number;
};

type Stored<T extends object> = TableEntityResult<T>;

export class RunStore {
  constructor(
    private readonly table: TableClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(input: NewRun): Promise<RunSummary> {
    const runId = assertRunId(input.runId ?? crypto.randomUUID());
    if (!RUN_TRIGGERS.includes(input.trigger)) throw new InputError(`unknown trigger ${JSON.stringify(input.trigger)}`, "trigger");
    const workItemIds = unique((input.workItemIds ?? []).map(assertWorkItemId));
    const createdAt = this.now();
    const first = workItemIds.slice(0, ITEMS_PER_TRANSACTION);
    const run: RunEntity = {
      partitionKey: runId,
      rowKey: RUN_ROW,
      trigger: input.trigger,
      status: "queued",
      dryRun: input.dryRun,
      createdAt: createdAt.toISOString(),
      ...EMPTY_COUNTS,
      total: first.length,
      done: 0,
      poisoned: 0,
      ...scopeProperties(input.scope),
    };
    try {
      await this.table.submitTransaction([["create", run], ...first.map((id): TransactionAction => ["create", pendingItem(runId, id)])]);
    } catch (error) {
      if (statusCodeOf(error) === 409) throw new InputError(`run ${runId} already exists`, "runId");
      throw error;
    }
    if (workItemIds.length > first.length) await this.registerWorkItems(runId, workItemIds.slice(first.length));
    await this.table.upsertEntity({ partitionKey: INDEX_PARTITION, rowKey: `${invertedTimestamp(createdAt.getTime())}_${runId}`, runId }, "Replace");
    return (await this.summary(runId)) as RunSummary;
  }

  /** The full record with poison list and report (not a dry run's plan: `planParts`); undefined for an unknown run. */
  async get<TEntry = unknown>(runId: string): Promise<RunRecord<TEntry> | undefined> {
    const { run, items, chunks } = await this.readPartition(assertRunId(runId), "report");
    if (!run) return undefined;
    const poison = items
      .filter((item) => item.state === "poisoned")
      .map((item) => ({ workItemId: item.rowKey.slice("item:".length), reason: item.reason ?? "" }));
    const reported = items.filter((item) => item.state === "done" && (item.reportChunks ?? 0) > 0);
    const report = reported.length === 0 ? undefined : reported.flatMap((item) => readChunked<TEntry[]>(chunks, item, "report"));
    return { ...toSummary(run), poison, ...(report ? { report } : {}) };
  }

  async summary(runId: string): Promise<RunSummary | undefined> {
    const run = await this.readRun(assertRunId(runId));
    return run && toSummary(run);
  }

  /** The newest `limit` runs, newest first. */
  async listRecent(limit: number): Promise<RunSummary[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new InputError("limit must be an integer from 1 to 1000", "limit");
    const runIds: string[] = [];
    const pages = this.table
      .listEntities<{ runId: string }>({ queryOptions: { filter: odata`PartitionKey eq ${INDEX_PARTITION}` } })
      .byPage({ maxPageSize: limit });
    for await (const page of pages) {
      for (const entity of page) if (runIds.length < limit) runIds.push(entity.runId);
      if (runIds.length >= limit) break;
    }
    const runs = await Promise.all(runIds.map((runId) => this.readRun(runId)));
    return runs.filter((run): run is Stored<RunEntity> => run !== undefined).map(toSummary);
  }

  /** queued -> running (stamps startedAt); a no-op in any other status. */
  async markRunning(runId: string): Promise<RunSummary> {
    return this.update(runId, (run) => {
      if (run.status !== "queued") return undefined;
      run.status = "running";
      run.startedAt = this.now().toISOString();
      return run;
    });
  }

  /**
   * Adds work items to the run's tally (ids already registered are not counted twice). A worker that
   * fans out must register its children before it settles itself, so the run cannot look finished early.
   */
  async registerWorkItems(runId: string, workItemIds: readonly string[]): Promise<RunSummary> {
    assertRunId(runId);
    const ids = unique(workItemIds.map(assertWorkItemId));
    let latest: RunSummary | undefined;
    for (let start = 0; start < ids.length; start += ITEMS_PER_TRANSACTION) {
      const batch = ids.slice(start, start + ITEMS_PER_TRANSACTION);
      latest = await retryOnConflict(async () => {
        const run = await this.requireRun(runId);
        const existing = await Promise.all(batch.map((id) => this.readItem(runId, id)));
        const missing = batch.filter((_, index) => existing[index] === undefined);
        if (missing.length === 0) return toSummary(run);
        const next = withoutMetadata(run);
        next.total += missing.length;
        if (isTerminal(next.status) && next.error === undefined) {
          // More work arrived for a run that had finished all it knew about: it is running again.
          next.status = "running";
          delete next.finishedAt;
        }
        await this.table.submitTransaction([
          ["update", next, "Replace", { etag: run.etag }],
          ...missing.map((id): TransactionAction => ["create", pendingItem(runId, id)]),
        ]);
        return toSummary(next);
      });
    }
    return latest ?? (await this.requireSummary(runId));
  }

  /** Records a finished work item: adds its counts and stores its report entries (and a dry run's plan part). Idempotent per id. */
  async completeWorkItem(
    runId: string,
    result: { readonly workItemId: string; readonly counts: Partial<RunCounts>; readonly entries?: readonly unknown[]; readonly plan?: unknown },
  ): Promise<SettledWorkItem> {
    assertRunId(runId);
    const workItemId = assertWorkItemId(result.workItemId);
    const counts = validCounts(result.counts);
    await this.requireRun(runId); // no report chunks for a run that does not exist
    // Chunks first (idempotent upserts keyed by the work item); the transaction below is the commit point.
    const reportChunks = result.entries && result.entries.length > 0 ? await this.writeChunks(runId, workItemId, "report", result.entries) : 0;
    const planChunks = result.plan !== undefined ? await this.writeChunks(runId, workItemId, "plan", result.plan) : 0;
    return this.settle(runId, workItemId, (run) => {
      run.done += 1;
      for (const name of COUNT_NAMES) run[name] += counts[name];
      return { state: "done", ...(reportChunks > 0 ? { reportChunks } : {}), ...(planChunks > 0 ? { planChunks } : {}) };
    });
  }

  /** The plan parts a dry run's work items stored, as they were given; undefined for an unknown run. */
  async planParts(runId: string): Promise<unknown[] | undefined> {
    const { run, items, chunks } = await this.readPartition(assertRunId(runId), "plan");
    if (!run) return undefined;
    return items.filter((item) => item.state === "done" && (item.planChunks ?? 0) > 0).map((item) => readChunked<unknown>(chunks, item, "plan"));
  }

  /** Records a work item given up on (malformed, or failed past the queue's max dequeue count). */
  async poisonWorkItem(runId: string, poisoned: PoisonedWorkItem): Promise<SettledWorkItem> {
    assertRunId(runId);
    const workItemId = assertWorkItemId(poisoned.workItemId);
    const reason = truncate(poisoned.reason || "no reason given", REASON_CHARS);
    return this.settle(runId, workItemId, (run) => {
      run.poisoned += 1;
      return { state: "poisoned", reason };
    });
  }

  /** Ends a run explicitly (e.g. it failed before fanning out, or ran inline without work items). */
  async finish(runId: string, outcome: { readonly status: "succeeded" | "failed"; readonly error?: string }): Promise<RunSummary> {
    return this.update(runId, (run) => {
      const now = this.now().toISOString();
      run.status = outcome.status;
      run.startedAt ??= now;
      run.finishedAt = now;
      if (outcome.error !== undefined) run.error = truncate(outcome.error, REASON_CHARS);
      return run;
    });
  }

  private async settle(
    runId: string,
    workItemId: string,
    apply: (run: RunEntity) => Omit<ItemEntity, "partitionKey" | "rowKey">,
  ): Promise<SettledWorkItem> {
    return retryOnConflict(async () => {
      const run = await this.requireRun(runId);
      const item = await this.readItem(runId, workItemId);
      if (item && item.state !== "pending") return { recorded: false, run: toSummary(run) };
      const next = withoutMetadata(run);
      if (!item) next.total += 1; // settled without having been registered: count it now
      const settled: ItemEntity = { partitionKey: runId, rowKey: itemRow(workItemId), ...apply(next) };
      const now = this.now().toISOString();
      if (next.status === "queued") {
        next.status = "running";
        next.startedAt = now;
      }
      if (!isTerminal(next.status) && next.done + next.poisoned >= next.total) {
        next.status = next.poisoned > 0 ? "failed" : "succeeded";
        next.finishedAt = now;
        if (next.poisoned > 0) next.error = `${next.poisoned} of ${next.total} work items were given up (see poison)`;
      }
      await this.table.submitTransaction([
        item ? ["update", settled, "Replace", { etag: item.etag }] : ["create", settled],
        ["update", next, "Replace", { etag: run.etag }],
      ]);
      return { recorded: true, run: toSummary(next) };
    });
  }

  private async update(runId: string, change: (run: RunEntity) => RunEntity | undefined): Promise<RunSummary> {
    assertRunId(runId);
    return retryOnConflict(async () => {
      const run = await this.requireRun(runId);
      const next = change(withoutMetadata(run));
      if (!next) return toSummary(run);
      await this.table.updateEntity(next, "Replace", { etag: run.etag });
      return toSummary(next);
    });
  }

  /** A run's partition without the other kind's chunks: the run row, its work items and the chunks of `kind`. */
  private async readPartition(runId: string, kind: ChunkKind): Promise<{ run?: Stored<RunEntity>; items: Stored<ItemEntity>[]; chunks: Map<string, string> }> {
    // Row keys sort item:… < plan:… < report:… < run.
    const filter = kind === "report" ? odata`PartitionKey eq ${runId} and (RowKey lt 'plan:' or RowKey ge 'plan;')` : odata`PartitionKey eq ${runId} and (RowKey lt 'report:' or RowKey eq ${RUN_ROW})`;
    let run: Stored<RunEntity> | undefined;
    const items: Stored<ItemEntity>[] = [];
    const chunks = new Map<string, string>();
    for await (const entity of this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      if (entity.rowKey === RUN_ROW) run = entity as unknown as Stored<RunEntity>;
      else if (entity.rowKey?.startsWith("item:")) items.push(entity as unknown as Stored<ItemEntity>);
      else if (entity.rowKey?.startsWith(`${kind}:`)) chunks.set(entity.rowKey, String(entity["data"] ?? ""));
    }
    return { ...(run ? { run } : {}), items, chunks };
  }

  private async writeChunks(runId: string, workItemId: string, kind: ChunkKind, value: unknown): Promise<number> {
    const chunks = splitText(JSON.stringify(value), CHUNK_CHARS);
    const actions = chunks.map((data, index): TransactionAction => [
      "upsert",
      { partitionKey: runId, rowKey: chunkRow(kind, workItemId, index), data },
      "Replace",
    ]);
    for (let start = 0; start < actions.length; start += CHUNKS_PER_TRANSACTION) {
      await this.table.submitTransaction(actions.slice(start, start + CHUNKS_PER_TRANSACTION));
    }
    return chunks.length;
  }

  private async readRun(runId: string): Promise<Stored<RunEntity> | undefined> {
    return this.read<RunEntity>(runId, RUN_ROW);
  }

  private async requireRun(runId: string): Promise<Stored<RunEntity>> {
    const run = await this.readRun(runId);
    if (!run) throw new InputError(`run ${runId} not found`, "runId");
    return run;
  }

  private async requireSummary(runId: string): Promise<RunSummary> {
    return toSummary(await this.requireRun(runId));
  }

  private async readItem(runId: string, workItemId: string): Promise<Stored<ItemEntity> | undefined> {
    return this.read<ItemEntity>(runId, itemRow(workItemId));
  }

  private async read<T extends object>(partitionKey: string, rowKey: string): Promise<Stored<T> | undefined> {
    try {
      return await this.table.getEntity<T>(partitionKey, rowKey);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

function toSummary(run: RunEntity): RunSummary {
  return {
    runId: run.partitionKey,
    trigger: run.trigger,
    status: run.status,
    dryRun: run.dryRun,
    scope: readScope(run),
    createdAt: new Date(run.createdAt),
    ...(run.startedAt ? { startedAt: new Date(run.startedAt) } : {}),
    ...(run.finishedAt ? { finishedAt: new Date(run.finishedAt) } : {}),
    counts: { compliant: run.compliant, remediated: run.remediated, planned: run.planned, failed: run.failed, skipped: run.skipped },
    workItems: { total: run.total, done: run.done, poisoned: run.poisoned },
    ...(run.error !== undefined ? { error: run.error } : {}),
  };
}

/** The stored entity minus the SDK's read-only metadata, ready to be written back. */
function withoutMetadata(run: Stored<RunEntity>): RunEntity {
  const copy: Record<string, unknown> = { ...run };
  delete copy["etag"];
  delete copy["timestamp"];
  return copy as unknown as RunEntity;
}

function pendingItem(runId: string, workItemId: string): ItemEntity {
  return { partitionKey: runId, rowKey: itemRow(workItemId), state: "pending" };
}

const itemRow = (workItemId: string) => `item:${workItemId}`;
type ChunkKind = "report" | "plan";
const chunkRow = (kind: ChunkKind, workItemId: string, index: number) => `${kind}:${workItemId}:${String(index).padStart(5, "0")}`;
const isTerminal = (status: RunStatus) => status === "succeeded" || status === "failed";

function readChunked<T>(chunks: ReadonlyMap<string, string>, item: ItemEntity, kind: ChunkKind): T {
  const workItemId = item.rowKey.slice("item:".length);
  const parts: string[] = [];
  for (let index = 0; index < ((kind === "report" ? item.reportChunks : item.planChunks) ?? 0); index++) {
    const part = chunks.get(chunkRow(kind, workItemId, index));
    if (part === undefined) throw new Error(`run ${kind} chunk ${index} of work item ${workItemId} is missing`);
    parts.push(part);
  }
  return JSON.parse(parts.join("")) as T;
}

function scopeProperties(scope: RunScope): Record<`scope${number}`, string> {
  if (!Array.isArray(scope?.subscriptions) || !Array.isArray(scope?.resourceIds)) {
    throw new InputError("scope must have subscriptions and resourceIds arrays", "scope");
  }
  const text = JSON.stringify({ subscriptions: scope.subscriptions, resourceIds: scope.resourceIds });
  const parts = splitText(text, CHUNK_CHARS);
  if (parts.length > SCOPE_PROPERTIES) {
    throw new InputError(`scope is too large (${text.length} characters; at most ${SCOPE_PROPERTIES * CHUNK_CHARS})`, "scope");
  }
  return Object.fromEntries(parts.map((part, index) => [`scope${index}`, part]));
}

function readScope(run: RunEntity): RunScope {
  const parts: string[] = [];
  for (let part = run.scope0; part !== undefined; part = run[`scope${parts.length}`]) parts.push(part);
  return JSON.parse(parts.join("")) as RunScope;
}

/** Splits text into pieces of at most `size` UTF-16 units without cutting a surrogate pair in two. */
function splitText(text: string, size: number): string[] {
  const parts: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + size, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    parts.push(text.slice(start, end));
    start = end;
  }
  return parts.length > 0 ? parts : [""];
}

function validCounts(counts: Partial<RunCounts>): RunCounts {
  const result = { ...EMPTY_COUNTS };
  for (const name of COUNT_NAMES) {
    const value = counts[name] ?? 0;
    if (!Number.isInteger(value) || value < 0) throw new InputError(`counts.${name} must be a non-negative integer`, `counts.${name}`);
    result[name as keyof typeof result] = value;
  }
  return result;
}

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
