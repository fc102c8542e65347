import { lower } from "./armPath.js";
import type { ArmResource, JsonObject, ResourceStore, StoredResource } from "./store.js";

/**
 * The management-group hierarchy as ARM stores it: each group names its parent in
 * `properties.details.parent.id` (Management Groups - Get), and a subscription's place is the
 * `/providers/Microsoft.Management/managementGroups/{group}/subscriptions/{subscriptionId}` resource
 * (Management Group Subscriptions - Get Subscription).
 */
export const MANAGEMENT_GROUP_TYPE = "microsoft.management/managementgroups";

export function managementGroupId(name: string): string {
  return `/providers/Microsoft.Management/managementGroups/${name}`;
}

export function managementGroupSubscriptionId(groupName: string, subscriptionId: string): string {
  return `${managementGroupId(groupName)}/subscriptions/${subscriptionId}`;
}

/** The groups above a subscription, nearest first, ending at the tenant root group. */
export function ancestorsOf(store: ResourceStore, subscriptionId: string): ArmResource[] {
  const groups = store.listByContainer("", MANAGEMENT_GROUP_TYPE);
  const parent = groups.find((g) => store.has(`${g.resource.id}/subscriptions/${subscriptionId}`));
  const chain: ArmResource[] = [];
  // A parent link that loops back would be a broken hierarchy; stop rather than spin.
  for (let group = parent?.resource; group && !chain.includes(group); group = parentOf(store, group)) chain.push(group);
  return chain;
}

function parentOf(store: ResourceStore, group: ArmResource): ArmResource | undefined {
  const details = (group.properties?.details as JsonObject | undefined) ?? {};
  const parentId = (details.parent as JsonObject | undefined)?.id;
  return typeof parentId === "string" ? store.get(parentId) : undefined;
}

/**
 * Policy or role assignments that apply to a subscription, as ARM lists them there: `atExactScope()`
 * only those at the subscription, `atScope()` also those inherited from the groups above it, and no
 * filter (or any other filter) additionally those inside it (resource groups, resources).
 */
export function assignmentsForSubscription(store: ResourceStore, subscriptionId: string, type: string, filter: string | null): StoredResource[] {
  const subscription = `/subscriptions/${subscriptionId}`;
  const normalisedFilter = lower(filter ?? "").replace(/\s+/g, "");
  if (normalisedFilter === "atexactscope()") return store.listByContainer(subscription, type);
  const inherited = ancestorsOf(store, subscriptionId).flatMap((group) => store.listByContainer(group.id, type));
  const own = normalisedFilter === "atscope()" ? store.listByContainer(subscription, type) : store.listBySubscription(subscriptionId, type);
  return [...inherited, ...own];
}
