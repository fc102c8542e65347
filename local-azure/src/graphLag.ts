/**
 * Resource Graph's freshness lag (opt-in). Resource Manager notifies Resource Graph of a change, and Resource Graph
 * then reads the resource into its database (azure-docs articles/governance/resource-graph/overview.md, "How Resource
 * Graph is kept current"), so a query is not read-your-writes: "95% of all changes to be present in resource graph
 * under 30s. There is no upper bound on delay" (Azure/azure-dev#540). A notification that never comes is made good by
 * the next full scan, about every 30 hours (Azure/azure-webpubsub#148).
 *
 * Each change ARM serves gets a seeded lag. Until its notification arrives, queries see the resource as Resource Graph
 * last read it: absent when created, its previous content when updated, still there when deleted. When a notification
 * arrives Resource Graph reads the resource as it is at that moment, so later changes still on their way show with it.
 */
import { createHash } from "node:crypto";
import { definedOptions } from "./options.js";
import type { StoredResource } from "./store.js";

export interface GraphLagOptions {
  /** The lag 95% of changes stay within, in ARM seconds (default 30, the figure Azure quotes). */
  p95Seconds?: number;
  /** The share of changes whose notification is lost, seen at the next full scan instead (default 0). */
  missedRate?: number;
  /** How often Resource Graph scans everything, in ARM seconds (default 30 hours). */
  fullScanSeconds?: number;
  /** Seed of the drawn lags (default 1). */
  seed?: number;
}

const DEFAULT_LAG: Required<GraphLagOptions> = { p95Seconds: 30, missedRate: 0, fullScanSeconds: 30 * 60 * 60, seed: 1 };

/**
 * The seeded lag, in ARM seconds, of the n-th change of a resource. Exponential with the given 95th percentile: the one
 * figure the source gives, and a tail with no bound (1% of changes beyond 1.5 × p95, 0.1% beyond 2.3 ×; the 32-bit draw
 * stops at 7.4 ×). A missed notification waits for the full scan, which comes at a uniformly drawn point of its period.
 * Keyed by seed, resource and occurrence, so the order requests arrive in changes no draw.
 */
export function lagSeconds(options: GraphLagOptions, resourceId: string, occurrence = 0): number {
  const { p95Seconds, missedRate, fullScanSeconds, seed } = { ...DEFAULT_LAG, ...definedOptions(options) };
  const digest = createHash("sha256").update(`${seed}|${resourceId.toLowerCase()}|${occurrence}`).digest();
  const unit = (offset: number): number => digest.readUInt32BE(offset) / 2 ** 32;
  if (unit(4) < missedRate) return unit(0) * fullScanSeconds;
  return (-Math.log(1 - unit(0)) * p95Seconds) / Math.log(20);
}

/** A resource with changes Resource Graph has not yet read. */
interface Pending {
  /** What Resource Graph shows (undefined: nothing), then each later version with the time ARM wrote it. */
  versions: { atMs: number; entry: StoredResource | undefined }[];
  /** When the notifications still on their way arrive (wall ms). */
  arrivals: number[];
}

/**
 * What Resource Graph has seen of each resource changed within its lag. Only resources with a notification on its way
 * are kept, each with the versions written since Resource Graph last read it.
 */
export class GraphLag {
  private readonly pending = new Map<string, Pending>();
  /** Changes so far per resource: the n-th change of a resource draws its own lag. */
  private readonly changesPerResource = new Map<string, number>();
  private settings: Required<GraphLagOptions> | undefined;
  private timeScale = 1;
  /** Pending resources after the last settle: recording settles again once this has doubled, to bound memory. */
  private settledSize = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Resources whose latest change Resource Graph has not yet read. */
  get size(): number {
    return this.pending.size;
  }

  /** Options to switch the lag on (omitted ones keep their values), or false to switch it off: queries are fresh again. */
  configure(options: GraphLagOptions | false): void {
    if (options === false) {
      this.settings = undefined;
      this.reset();
      return;
    }
    const next = { ...(this.settings ?? DEFAULT_LAG), ...definedOptions(options) };
    for (const key of ["p95Seconds", "fullScanSeconds"] as const) {
      if (!Number.isFinite(next[key]) || next[key] <= 0) throw new Error(`Resource Graph lag option ${key} must be a number > 0, not ${String(next[key])}`);
    }
    if (!(next.missedRate >= 0 && next.missedRate <= 1)) throw new Error(`Resource Graph lag option missedRate must be between 0 and 1, not ${String(next.missedRate)}`);
    if (!Number.isFinite(next.seed)) throw new Error(`Resource Graph lag option seed must be a number, not ${String(next.seed)}`);
    this.settings = next;
  }

  /** ARM seconds per wall second, the throttle's `timeScale` (the emulator keeps them equal). */
  setTimeScale(timeScale: number): void {
    this.timeScale = timeScale;
  }

  /** A change ARM served: the resource before it (undefined: created) and after it (undefined: deleted). */
  record(key: string, before: StoredResource | undefined, after: StoredResource | undefined): void {
    if (!this.settings) return;
    const now = this.now();
    const occurrence = this.changesPerResource.get(key) ?? 0;
    this.changesPerResource.set(key, occurrence + 1);
    let pending = this.pending.get(key);
    if (!pending) {
      pending = { versions: [{ atMs: Number.NEGATIVE_INFINITY, entry: before }], arrivals: [] };
      this.pending.set(key, pending);
    }
    pending.versions.push({ atMs: now, entry: after });
    pending.arrivals.push(now + (lagSeconds(this.settings, key, occurrence) * 1000) / this.timeScale);
    if (this.pending.size > 2 * this.settledSize + 64) this.settle(now);
  }

  /** Drops what Resource Graph has read by now: it shows the version written last before its latest arrival. */
  settle(now = this.now()): void {
    for (const [key, pending] of this.pending) {
      let readAt = Number.NEGATIVE_INFINITY;
      const onTheirWay = pending.arrivals.filter((arrival) => {
        if (arrival > now) return true;
        readAt = Math.max(readAt, arrival);
        return false;
      });
      if (onTheirWay.length === 0) {
        this.pending.delete(key);
        continue;
      }
      pending.arrivals = onTheirWay;
      if (readAt > Number.NEGATIVE_INFINITY) pending.versions = pending.versions.slice(pending.versions.findLastIndex((version) => version.atMs <= readAt));
    }
    this.settledSize = this.pending.size;
  }

  /** What Resource Graph shows of a stored resource (after `settle`): the entry itself, an older version, or nothing. */
  view(entry: StoredResource): StoredResource | undefined {
    const pending = this.pending.get(entry.key);
    return pending ? pending.versions[0]?.entry : entry;
  }

  /** Versions Resource Graph still shows of resources ARM has deleted since (after `settle`). */
  *deleted(): Iterable<StoredResource> {
    for (const pending of this.pending.values()) {
      const shown = pending.versions[0]?.entry;
      if (shown && pending.versions.at(-1)?.entry === undefined) yield shown;
    }
  }

  /** A change made outside ARM's request path (the control API): Resource Graph shows it at once. */
  forget(key: string): void {
    this.pending.delete(key);
  }

  /** Forgets every pending change and draw count; options stay. */
  reset(): void {
    this.pending.clear();
    this.changesPerResource.clear();
    this.settledSize = 0;
  }
}
