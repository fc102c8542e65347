/**
 * Lower bounds the measured figures are divided by. Each is a floor no implementation can beat under
 * the stated model, computed from the estate itself (never from what the service did).
 *
 * Sweep reads. The discovery design reads the scope through Resource Graph with one query per kind
 * of state (sweepDiscovery.ts SWEEP_QUERIES): containers, pricings, policy, [role grants, only when
 * SQL initiative assignments exist], shared, associations, SQL VMs, machines. A query returns at most
 * 1,000 rows per page and takes at most 1,000 subscriptions, so the fewest requests that can carry
 * the rows are, for each query and each group of 1,000 subscriptions, max(1, ceil(rows / 1,000)).
 * The legacy MMA switch is in no Resource Graph table: one ARM read per subscription carries it.
 * That is the bound. The service groups subscriptions 200 at a time (memory follows the batch), which
 * costs up to one partly-filled page per query per extra batch: `designPages` counts that variant.
 *
 * Writes over time. ARM gives each subscription (per principal) a write bucket of 200 that refills
 * at 10/s. W writes into one subscription cannot finish before (W - 200) / 10 seconds; subscriptions
 * are independent, so the bound is the slowest subscription. Writes on one machine are serial (the
 * service's own rule, and Compute's "another operation in progress"), so the longest chain of
 * dependent writes also takes at least (chain + 1 read) x the fixed request latency. For events the
 * machines must also be read first (3 GETs each: machine, extensions, associations) through the read
 * bucket (250, refill 25/s). The bound is the largest of the three; which one binds is printed.
 */
import { SQL_INITIATIVES } from "../src/defender/names.js";
import { SWEEP_BATCH_SUBSCRIPTIONS } from "../src/engine.js";
import type { ArmResource } from "../local-azure/src/arm-resource.js";
import { mulberry32 } from "../local-azure/src/random.js";

/** Resource Graph: rows per page and subscriptions per query (gateway.ts uses both limits). */
export const GRAPH_PAGE_ROWS = 1000;
export const GRAPH_MAX_SUBSCRIPTIONS = 1000;
/** What the engine uses today (engine.ts SWEEP_BATCH_SUBSCRIPTIONS). */
export const SERVICE_BATCH_SUBSCRIPTIONS = SWEEP_BATCH_SUBSCRIPTIONS;
/** ARM per subscription x principal buckets (docs/azure-domain.md §9.1). */
export const WRITE_BUCKET = { capacity: 200, refillPerSecond: 10 } as const;
export const READ_BUCKET = { capacity: 250, refillPerSecond: 25 } as const;

export type QueryName = "containers" | "pricings" | "policy" | "roleGrants" | "shared" | "associations" | "sqlVirtualMachines" | "machines";
const ALWAYS: readonly QueryName[] = ["containers", "pricings", "policy", "shared", "associations", "sqlVirtualMachines", "machines"];

/** Rows each sweep query returns, per subscription (lower-case id). */
export class GraphRowCounter {
  readonly rows = new Map<string, Map<QueryName, number>>();
  private readonly sqlInitiatives = new Set(Object.values(SQL_INITIATIVES).map((id) => id.toLowerCase()));

  constructor(private readonly optOutTag: string) {}

  add(resource: ArmResource): void {
    const subscriptionId = /^\/subscriptions\/([^/]+)/i.exec(resource.id)?.[1]?.toLowerCase();
    if (!subscriptionId) return;
    const query = this.queryOf(resource);
    if (!query) return;
    const counts = this.rows.get(subscriptionId) ?? new Map<QueryName, number>();
    counts.set(query, (counts.get(query) ?? 0) + 1);
    this.rows.set(subscriptionId, counts);
  }

  private queryOf(resource: ArmResource): QueryName | undefined {
    const type = (resource.type ?? "").toLowerCase();
    const name = (resource.name ?? resource.id.slice(resource.id.lastIndexOf("/") + 1)).toLowerCase();
    switch (type) {
      case "microsoft.resources/subscriptions":
        return "containers";
      case "microsoft.resources/resourcegroups": {
        const tagged = Object.entries(resource.tags ?? {}).some(([key, value]) => key.toLowerCase() === this.optOutTag.toLowerCase() && value !== "");
        return name.startsWith("defaultresourcegroup-") || name === "built-in-identity-rg" || tagged ? "containers" : undefined;
      }
      case "microsoft.security/pricings":
        return "pricings";
      case "microsoft.authorization/policyassignments": {
        const definition = String((resource.properties as Record<string, unknown> | undefined)?.["policyDefinitionId"] ?? "").toLowerCase();
        return this.sqlInitiatives.has(definition) ? "policy" : undefined;
      }
      case "microsoft.operationalinsights/workspaces":
      case "microsoft.operationsmanagement/solutions":
      case "microsoft.insights/datacollectionrules":
      case "microsoft.managedidentity/userassignedidentities":
        return "shared";
      case "microsoft.insights/datacollectionruleassociations":
        return "associations";
      case "microsoft.sqlvirtualmachine/sqlvirtualmachines":
        return "sqlVirtualMachines";
      case "microsoft.compute/virtualmachines":
      case "microsoft.hybridcompute/machines":
      case "microsoft.compute/virtualmachines/extensions":
      case "microsoft.hybridcompute/machines/extensions":
        return "machines";
      default:
        return undefined;
    }
  }

  /**
   * Requests needed when the subscriptions are queried `groupSize` at a time (in the given order): the
   * Resource Graph pages, and the legacy switch's one ARM read per subscription.
   */
  pages(subscriptions: readonly string[], groupSize: number): { total: number; byQuery: Record<QueryName | "legacySwitch", number> } {
    const byQuery = Object.fromEntries([...ALWAYS, "roleGrants"].map((query) => [query, 0])) as Record<QueryName | "legacySwitch", number>;
    byQuery.legacySwitch = subscriptions.length;
    for (let start = 0; start < subscriptions.length; start += groupSize) {
      const group = subscriptions.slice(start, start + groupSize);
      const sum = (query: QueryName) => group.reduce((total, id) => total + (this.rows.get(id.toLowerCase())?.get(query) ?? 0), 0);
      for (const query of ALWAYS) byQuery[query] += Math.max(1, Math.ceil(sum(query) / GRAPH_PAGE_ROWS));
      // Role grants are queried only when the group has SQL initiative assignments; a bound that
      // counted the grant rows themselves would need the emulator's role assignments, so one page.
      if (sum("policy") > 0) byQuery.roleGrants += 1;
    }
    return { total: Object.values(byQuery).reduce((total, pages) => total + pages, 0), byQuery };
  }
}

export interface WriteBound {
  /** Seconds the slowest subscription's writes need through its write bucket. */
  readonly quotaSeconds: number;
  /** Seconds the unavoidable reads of the busiest subscription need through its read bucket. */
  readonly readSeconds: number;
  /** Seconds the longest chain of serial writes needs at the fixed request latency. */
  readonly chainSeconds: number;
  readonly seconds: number;
  readonly busiestSubscriptionWrites: number;
}

/**
 * `readsBySubscription`: reads no implementation can avoid (events: each new machine, its extensions
 * and its associations must be read before anything is written; a sweep: none counted here).
 */
export function writeBound(writesBySubscription: Readonly<Record<string, number>>, longestChain: number, fixedLatencyMs: number, readsBySubscription: Readonly<Record<string, number>> = {}): WriteBound {
  const busiest = Math.max(0, ...Object.values(writesBySubscription));
  const quotaSeconds = Math.max(0, (busiest - WRITE_BUCKET.capacity) / WRITE_BUCKET.refillPerSecond);
  const readSeconds = Math.max(0, ...Object.values(readsBySubscription).map(readQuotaSeconds));
  // One read before the first write, then one request per write of the longest chain.
  const chainSeconds = ((longestChain + 1) * fixedLatencyMs) / 1000;
  return { quotaSeconds, readSeconds, chainSeconds, seconds: Math.max(quotaSeconds, readSeconds, chainSeconds), busiestSubscriptionWrites: busiest };
}

/** Seconds `reads` reads into one subscription need through its read bucket. */
export function readQuotaSeconds(reads: number): number {
  return Math.max(0, (reads - READ_BUCKET.capacity) / READ_BUCKET.refillPerSecond);
}

/**
 * What a drifted machine of the estate generator needs written, from its drift label alone (the
 * generator's baseline is a running VM with a system-assigned identity and no agents; a converged
 * machine has the AMA and the service's association): identity PATCH, AMA PUT, association PUT.
 */
export const WRITES_FOR_DRIFT_STATE: Readonly<Record<string, number>> = {
  "no-identity": 3,
  "user-identity-only": 3,
  "system-and-user-identity": 2,
  "system-identity": 2,
  "ama-conventional": 1,
  "ama-custom-name": 1,
  "ama-failed": 2,
  "mma-only": 2,
  "mma-and-ama": 1,
  "arc-windows-connected": 2,
  "arc-linux-connected": 2,
};

/**
 * The share of each ARM bucket a remediator may spend: the headroom policy (src/azure/policies.ts) keeps 20% for the
 * customer's own automation under the same limits, so a bound on its time starts from 80% of the bucket.
 */
export const USABLE_BUCKET_SHARE = 0.8;

export interface BurstBound {
  /** Seconds the busiest subscription's writes need through 80% of its write bucket, then its refill. */
  readonly quotaSeconds: number;
  /** Seconds the busiest subscription's unavoidable reads (3 GETs per new machine) need through 80% of its read bucket. */
  readonly readSeconds: number;
  /** The longest chain of long-running writes on one machine (their drawn durations) plus its requests' latency. */
  readonly chainSeconds: number;
  readonly seconds: number;
  readonly busiestSubscriptionWrites: number;
  readonly busiestSubscriptionMachines: number;
}

/**
 * A burst of new machines with operations that take time. Writes wait for the write bucket, the machines' first reads
 * for the read bucket, and each machine's identity PATCH and agent PUT run one after the other (Compute refuses a
 * second operation on a VM while one runs) for as long as ARM takes: whichever is longest. All in ARM seconds.
 */
export function burstBound(writesBySubscription: Readonly<Record<string, number>>, newMachinesBySubscription: Readonly<Record<string, number>>, longestChainSeconds: number): BurstBound {
  const busiestWrites = Math.max(0, ...Object.values(writesBySubscription));
  const busiestMachines = Math.max(0, ...Object.values(newMachinesBySubscription));
  const quotaSeconds = Math.max(0, (busiestWrites - USABLE_BUCKET_SHARE * WRITE_BUCKET.capacity) / WRITE_BUCKET.refillPerSecond);
  const readSeconds = Math.max(0, (3 * busiestMachines - USABLE_BUCKET_SHARE * READ_BUCKET.capacity) / READ_BUCKET.refillPerSecond);
  return {
    quotaSeconds,
    readSeconds,
    chainSeconds: longestChainSeconds,
    seconds: Math.max(quotaSeconds, readSeconds, longestChainSeconds),
    busiestSubscriptionWrites: busiestWrites,
    busiestSubscriptionMachines: busiestMachines,
  };
}

/**
 * The time no remediator can beat in most runs when it cannot know install durations before the installs end (ARM
 * publishes none). In the busiest subscription N new machines need an identity PATCH and then an agent PUT. The agent
 * PUT that is k-th from last to be sent is followed by at most k - 1 other agent PUTs and the k - 1 identity PATCHes of
 * their machines, so it leaves no earlier than (2N - 2(k - 1) - B) / r (B the usable 80% of the write bucket, r its
 * refill) and ends its install after that. To a remediator that cannot see durations, which drawn duration lands in
 * which slot is a random permutation: the median, over seeded permutations, of the latest slot + duration is a time
 * such a remediator's run exceeds at least half the time. Associations (synchronous, sent last), identity durations
 * and request latency are left out: each would only raise it. ARM seconds.
 */
export function blindDurationsSeconds(agentSeconds: readonly number[], seed: number, trials = 501): number {
  const n = agentSeconds.length;
  const usable = USABLE_BUCKET_SHARE * WRITE_BUCKET.capacity;
  // slot[k]: the earliest the agent PUT k-th from last (k = 0 the very last) can be sent.
  const slots = Array.from({ length: n }, (_, k) => Math.max(0, (2 * n - 2 * k - usable) / WRITE_BUCKET.refillPerSecond));
  const random = mulberry32(seed);
  const ends: number[] = [];
  const order = [...agentSeconds];
  for (let trial = 0; trial < trials; trial++) {
    // Fisher-Yates: a uniformly random assignment of the drawn durations to the slots.
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    let latest = 0;
    for (let k = 0; k < n; k++) latest = Math.max(latest, (slots[k] as number) + (order[k] as number));
    ends.push(latest);
  }
  ends.sort((a, b) => a - b);
  return ends[Math.floor(trials / 2)] as number;
}

