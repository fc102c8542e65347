/**
 * The incremental sweep's discovery: what Resource Graph's change history (`resourcechanges`,
 * `resourcecontainerchanges`) shows changed since the last sweep, turned into the little there is to
 * reconcile: changed machines, read directly (machineDiscovery.ts), and the subscriptions a change affects
 * as a whole, swept in full (sweepDiscovery.ts). Two queries, a page per 1,000 changes: the cost follows
 * what changed, not the estate.
 *
 * What it cannot see, because Resource Graph keeps change history only for its `resources` and
 * `resourcecontainers` tables: data collection rule associations (`insightsresources`), Defender plans
 * (`securityresources`), policy and role assignments (`policyresources`, `authorizationresources`), the legacy
 * MMA switch (in no table), VM power state, and a change to a rule or workspace in a subscription outside the
 * sweep that machines inside it use. Event Grid's events (src/events/filter.ts) and the full reconcile every
 * FULL_RECONCILE_HOURS cover those.
 */
import type { Settings } from "../config/settings.js";
import type { ArmGateway, ResourceGraphRow } from "../azure/gateway.js";
import { idKey, machineKindOf, owningMachineId, tryParseResourceId, type ParsedResourceId } from "../azure/ids.js";
import { BUILT_IN_IDENTITY_RESOURCE_GROUP } from "../defender/names.js";
import { SWEEP_QUERIES } from "./sweepDiscovery.js";

/** "Changes are queryable for fourteen days" (azure-docs governance/resource-graph/how-to/get-resource-changes.md). */
const CHANGE_RETENTION_MS = 14 * 24 * 60 * 60 * 1000;
/** History this close to the retention's edge may be partly gone already: sweep in full instead. */
const RETENTION_MARGIN_MS = 60 * 60 * 1000;

/** Whether Resource Graph still holds every change since `since`: the timer and discovery ask this one question. */
export function changeHistoryCovers(since: Date, now: Date): boolean {
  return since.getTime() >= now.getTime() - (CHANGE_RETENTION_MS - RETENTION_MARGIN_MS);
}

/**
 * Changed machines in one subscription above which it is swept in full instead: direct reads cost about three
 * ARM reads a machine plus a dozen for the subscription, from a read bucket of 250 per subscription, while a
 * full sweep of one subscription costs a handful of Resource Graph queries.
 */
const TARGETED_MACHINES_PER_SUBSCRIPTION = 50;

const MACHINE_TYPES = ["microsoft.compute/virtualmachines", "microsoft.hybridcompute/machines"];
const EXTENSION_TYPES = MACHINE_TYPES.map((type) => `${type}/extensions`);
const SQL_VIRTUAL_MACHINE_TYPE = "microsoft.sqlvirtualmachine/sqlvirtualmachines";
const IDENTITY_TYPE = "microsoft.managedidentity/userassignedidentities";
/** Shared resources a machine's compliance rests on; a change to one affects its whole subscription. */
const SHARED_TYPES = ["microsoft.operationalinsights/workspaces", "microsoft.operationsmanagement/solutions", "microsoft.insights/datacollectionrules", IDENTITY_TYPE];
/** The `resources` types whose changes the incremental sweep asks for. */
export const TRACKED_TYPES: readonly string[] = [...MACHINE_TYPES, ...EXTENSION_TYPES, SQL_VIRTUAL_MACHINE_TYPE, ...SHARED_TYPES];

/** One change row as the queries project it (the `properties` of a `Microsoft.Resources/changes` resource). */
export interface ChangeRecord {
  readonly targetResourceId: string;
  readonly changeType: string;
  /** ISO 8601; when the change was detected. */
  readonly timestamp: string;
  /** An Update's changed properties by path (`tags.costCenter`), when the query asked for them. */
  readonly changes?: unknown;
}

export interface ChangedScope {
  /** Subscriptions to sweep in full: a change that affects the subscription, or more changed machines than direct reads suit. */
  readonly subscriptions: readonly string[];
  /** Machines to read directly, by subscription (none of the subscriptions above). */
  readonly machines: ReadonlyMap<string, readonly string[]>;
}

/**
 * What changed in `subscriptionIds` at or after `since`. A `since` older than the history Resource Graph
 * keeps means every subscription is swept in full.
 */
export async function discoverChanges(gateway: ArmGateway, settings: Settings, subscriptionIds: readonly string[], since: Date, now = new Date()): Promise<ChangedScope> {
  if (!changeHistoryCovers(since, now)) return { subscriptions: [...subscriptionIds], machines: new Map() };
  const records: ChangeRecord[] = [];
  const read = async (pages: AsyncIterable<ResourceGraphRow[]>) => {
    for await (const page of pages) for (const row of page) records.push(toChangeRecord(row));
  };
  await read(gateway.queryResourceGraph(SWEEP_QUERIES.changes(since, TRACKED_TYPES), subscriptionIds));
  await read(gateway.queryResourceGraph(SWEEP_QUERIES.containerChanges(since), subscriptionIds));
  return changedScope(records, subscriptionIds, settings.optOutTag);
}

function toChangeRecord(row: ResourceGraphRow): ChangeRecord {
  const properties = row.properties ?? {};
  const attributes = properties["changeAttributes"] as Record<string, unknown> | null | undefined;
  return {
    targetResourceId: String(properties["targetResourceId"] ?? ""),
    changeType: String(properties["changeType"] ?? ""),
    timestamp: String(attributes?.["timestamp"] ?? ""),
    ...("changes" in properties ? { changes: properties["changes"] } : {}),
  };
}

/**
 * Pure: the changes of `subscriptionIds` -> what to reconcile. A machine counts when it, one of its
 * extensions or its SQL registration changed, unless its own last change deleted it. A subscription is swept
 * in full when a shared resource there changed, a resource group went, the opt-out tag changed on it or one of
 * its groups, or more than `limit` of its machines changed.
 */
export function changedScope(records: readonly ChangeRecord[], subscriptionIds: readonly string[], optOutTag: string, limit = TARGETED_MACHINES_PER_SUBSCRIPTION): ChangedScope {
  const inScope = new Map(subscriptionIds.map((id) => [id.toLowerCase(), id]));
  const whole = new Set<string>();
  /** Per subscription, per machine: its id and its own last change (time, type). */
  const machines = new Map<string, Map<string, { id: string; last?: { at: number; type: string } }>>();
  for (const record of records) {
    const target = tryParseResourceId(record.targetResourceId);
    const subscription = target ? inScope.get(target.subscriptionId.toLowerCase()) : undefined;
    if (!target || !subscription) continue;
    const effect = effectOf(target, record, optOutTag);
    if (effect === "subscription") whole.add(subscription);
    if (typeof effect !== "object") continue;
    const ofSubscription = machines.get(subscription) ?? new Map<string, { id: string; last?: { at: number; type: string } }>();
    machines.set(subscription, ofSubscription);
    const machine = ofSubscription.get(idKey(effect.machineId)) ?? { id: effect.machineId };
    ofSubscription.set(idKey(effect.machineId), machine);
    const at = Date.parse(record.timestamp);
    if (effect.own && (!machine.last || at >= machine.last.at)) machine.last = { at, type: record.changeType };
  }
  const targeted = new Map<string, string[]>();
  for (const [subscription, changed] of machines) {
    if (whole.has(subscription)) continue;
    const live = [...changed.values()].filter((machine) => machine.last?.type !== "Delete").map((machine) => machine.id);
    if (live.length > limit) whole.add(subscription);
    else if (live.length > 0) targeted.set(subscription, live);
  }
  return { subscriptions: subscriptionIds.filter((id) => whole.has(id)), machines: targeted };
}

/**
 * What one change asks for: its whole subscription, a machine (`own`: the change is to the machine itself,
 * so it says whether the machine still exists), or nothing.
 */
function effectOf(target: ParsedResourceId, record: ChangeRecord, optOutTag: string): "subscription" | { machineId: string; own: boolean } | undefined {
  const type = target.resourceType.toLowerCase();
  if (type === "microsoft.resources/subscriptions" || type === "microsoft.resources/resourcegroups") {
    // A new group is empty: what lands in it has changes of its own.
    if (record.changeType === "Create") return undefined;
    return record.changeType === "Delete" || touchesTag(record.changes, optOutTag) ? "subscription" : undefined;
  }
  if (machineKindOf(target) === "virtualMachine" || machineKindOf(target) === "arcMachine") return { machineId: target.id, own: true };
  if (type === SQL_VIRTUAL_MACHINE_TYPE) {
    // Unregistering SQL leaves nothing to make true; a registration is read like an event's (machineDiscovery.ts).
    return record.changeType === "Delete" ? undefined : { machineId: target.id, own: false };
  }
  if (EXTENSION_TYPES.includes(type)) {
    const machineId = owningMachineId(target);
    return machineId ? { machineId, own: false } : undefined;
  }
  // Only Defender for SQL's built-in identities matter; applications' identities come and go.
  if (type === IDENTITY_TYPE) return target.resourceGroup?.toLowerCase() === BUILT_IN_IDENTITY_RESOURCE_GROUP.toLowerCase() ? "subscription" : undefined;
  return SHARED_TYPES.includes(type) ? "subscription" : undefined;
}

/**
 * Whether an Update's `changes` (keys like `tags.costCenter`) touch the opt-out tag; ARM tag names ignore
 * case. Changes that were not given, or truncated ("isTruncated"), might have: yes.
 */
function touchesTag(changes: unknown, tag: string): boolean {
  if (changes === null || typeof changes !== "object") return true;
  const wanted = `tags.${tag.toLowerCase()}`;
  return Object.entries(changes as Record<string, unknown>).some(([path, change]) => path.toLowerCase() === wanted || path.toLowerCase() === "tags" || (change as Record<string, unknown> | null)?.["isTruncated"] !== undefined);
}
