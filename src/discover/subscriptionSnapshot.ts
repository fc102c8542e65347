/**
 * One subscription's part of a snapshot, as discovery fills it in. Sweeps (Resource Graph rows) and
 * targeted runs (direct reads) feed the same builder, then freeze it into the plain SubscriptionState
 * evaluate and plan read.
 */
import type { ArmResource } from "../azure/gateway.js";
import { idKey, resourceGroupId } from "../azure/ids.js";
import type { PolicyAssignmentState, RuleState, SubscriptionState, WorkspaceState } from "../model.js";
import { BUILT_IN_IDENTITY_RESOURCE_GROUP } from "../defender/names.js";
import { carriesOptOut, optOutTagValue } from "../model.js";
import { hasFailed, toPricingState, toRuleState, toWorkspaceState } from "./normalise.js";

export interface MutableSubscription {
  subscriptionId: string;
  displayName?: string;
  tags: Record<string, string>;
  optedOutResourceGroups: Map<string, string>;
  builtInIdentityGroupLocation?: string;
  resourceGroupsRead?: Set<string>;
  pricings: Map<string, ArmResource>;
  legacyAutoProvisioning: "On" | "Off" | "unknown";
  existing: Set<string>;
  workspaces: Map<string, WorkspaceState>;
  rules: Map<string, RuleState>;
  sqlAssignments: PolicyAssignmentState[];
  roleGrants: Set<string>;
}

export function emptySubscription(subscriptionId: string): MutableSubscription {
  return {
    subscriptionId,
    tags: {},
    optedOutResourceGroups: new Map(),
    pricings: new Map(),
    legacyAutoProvisioning: "unknown",
    existing: new Set(),
    workspaces: new Map(),
    rules: new Map(),
    sqlAssignments: [],
    roleGrants: new Set(),
  };
}

/** A resource group found: it exists, where Built-In-Identity-RG is (the SQL initiative must agree), and its opt-out. */
export function recordResourceGroup(subscription: MutableSubscription, name: string, location: string, tags: Readonly<Record<string, string>> | undefined, optOutTag: string): void {
  subscription.existing.add(idKey(resourceGroupId(subscription.subscriptionId, name)));
  if (location && name.toLowerCase() === BUILT_IN_IDENTITY_RESOURCE_GROUP.toLowerCase()) subscription.builtInIdentityGroupLocation = location;
  if (carriesOptOut(tags, optOutTag)) subscription.optedOutResourceGroups.set(name.toLowerCase(), optOutTagValue(tags, optOutTag) ?? "");
}

/** A shared resource found: it exists, and for workspaces and rules, what the plan needs to know of it. */
export function recordShared(subscription: MutableSubscription, raw: ArmResource): void {
  const id = idKey(raw.id);
  // A create that ended Failed left a resource that does not work: plan it again, as for extensions.
  if (hasFailed(raw)) return;
  subscription.existing.add(id);
  const type = (raw.type ?? "").toLowerCase();
  if (type === "microsoft.operationalinsights/workspaces") {
    const workspace = toWorkspaceState(raw);
    if (workspace) subscription.workspaces.set(id, workspace);
  } else if (type === "microsoft.insights/datacollectionrules") {
    const rule = toRuleState(raw);
    if (rule) subscription.rules.set(id, rule);
  }
}

export function freeze(subscription: MutableSubscription): SubscriptionState {
  return {
    subscriptionId: subscription.subscriptionId,
    ...(subscription.displayName ? { displayName: subscription.displayName } : {}),
    tags: subscription.tags,
    optedOutResourceGroups: subscription.optedOutResourceGroups,
    ...(subscription.builtInIdentityGroupLocation ? { builtInIdentityGroupLocation: subscription.builtInIdentityGroupLocation } : {}),
    ...(subscription.resourceGroupsRead ? { resourceGroupsRead: subscription.resourceGroupsRead } : {}),
    serversPlan: toPricingState(subscription.pricings.get("virtualmachines")),
    sqlServersOnMachinesPlan: toPricingState(subscription.pricings.get("sqlservervirtualmachines")),
    legacyAutoProvisioning: subscription.legacyAutoProvisioning,
    existing: subscription.existing,
    workspaces: subscription.workspaces,
    rules: subscription.rules,
    sqlAssignments: subscription.sqlAssignments,
    roleGrants: subscription.roleGrants,
  };
}
