/**
 * Sweep discovery: the whole scope through Azure Resource Graph, a page (1,000 rows) at a time.
 * Requests grow with pages, not machines: a handful of queries cover machines, their extensions,
 * associations, SQL registrations, Defender plans and the legacy MMA switch, policy assignments and
 * their role grants, and shared resources of many subscriptions at once.
 */
import type { Settings } from "../config/settings.js";
import type { ArmGateway, ArmObject } from "../azure/gateway.js";
import { idKey } from "../azure/ids.js";
import { SQL_INITIATIVES } from "../defender/names.js";
import { isOptedOut, type AssociationState, type ExtensionState, type MachineState, type PolicyAssignmentState, type Snapshot, type SubscriptionState, type WorkspaceState } from "../model.js";
import { machineKeyOf, roleGrantOf, ruleDestinationsOf, toPolicyAssignmentState, toAssociationState, toExtensionState, toMachineState, toPricingState, toWorkspaceState } from "./normalise.js";
import { readConfiguredResources } from "./configuredResources.js";

const quote = (value: string): string => `'${value.replace(/'/g, "\\'")}'`;

export const SWEEP_QUERIES = {
  containers: (tag: string) =>
    `resourcecontainers | where type =~ 'microsoft.resources/subscriptions' or (type =~ 'microsoft.resources/subscriptions/resourcegroups' and (name startswith 'DefaultResourceGroup-' or name =~ 'Built-In-Identity-RG' or isnotempty(tags[${quote(tag)}]))) | project id, type, name, subscriptionId, tags, properties`,
  security: () =>
    "securityresources | where type =~ 'microsoft.security/pricings' or type =~ 'microsoft.security/autoprovisioningsettings' | project id, type, name, subscriptionId, properties",
  policy: () =>
    `policyresources | where type =~ 'microsoft.authorization/policyassignments' | where properties.policyDefinitionId in~ (${Object.values(SQL_INITIATIVES).map(quote).join(", ")}) | project id, subscriptionId, identity, properties`,
  roleGrants: (principalIds: readonly string[]) =>
    `authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | where properties.principalId in~ (${principalIds.map(quote).join(", ")}) | project id, subscriptionId, properties`,
  shared: () =>
    "resources | where type in~ ('microsoft.operationalinsights/workspaces', 'microsoft.operationsmanagement/solutions', 'microsoft.insights/datacollectionrules', 'microsoft.managedidentity/userassignedidentities') | project id, type, location, subscriptionId, properties",
  associations: () => "insightsresources | where type =~ 'microsoft.insights/datacollectionruleassociations' | project id, name, properties",
  sqlVirtualMachines: () => "resources | where type =~ 'microsoft.sqlvirtualmachine/sqlvirtualmachines' | project id, properties",
  machines: () =>
    "resources | where type in~ ('microsoft.compute/virtualmachines', 'microsoft.hybridcompute/machines', 'microsoft.compute/virtualmachines/extensions', 'microsoft.hybridcompute/machines/extensions') | project id, type, name, location, subscriptionId, resourceGroup, tags, identity, properties | order by id asc",
} as const;

interface MutableSubscription {
  subscriptionId: string;
  displayName?: string;
  tags: Record<string, string>;
  optedOutResourceGroups: Set<string>;
  resourceGroupsRead?: Set<string>;
  pricings: Map<string, ArmObject>;
  legacyAutoProvisioning: "On" | "Off" | "unknown";
  existing: Set<string>;
  workspaces: Map<string, WorkspaceState>;
  ruleDestinations: Map<string, string[]>;
  sqlAssignments: PolicyAssignmentState[];
  roleGrants: Set<string>;
}

export async function discoverSweep(gateway: ArmGateway, settings: Settings, subscriptionIds: readonly string[], now = new Date()): Promise<Snapshot> {
  const subscriptions = new Map<string, MutableSubscription>(subscriptionIds.map((id) => [id, emptySubscription(id)]));
  const ids = [...subscriptions.keys()];
  const query = (text: string) => gateway.queryResourceGraph(text, ids);

  for await (const page of query(SWEEP_QUERIES.containers(settings.optOutTag))) {
    for (const row of page) {
      const subscription = subscriptions.get(String(row["subscriptionId"]).toLowerCase());
      if (!subscription) continue;
      if (String(row["type"]).toLowerCase() === "microsoft.resources/subscriptions") {
        subscription.tags = (row["tags"] as Record<string, string> | undefined) ?? {};
        const displayName = (row["properties"] as Record<string, unknown> | undefined)?.["displayName"];
        if (typeof displayName === "string") subscription.displayName = displayName;
        continue;
      }
      subscription.existing.add(idKey(String(row["id"])));
      if (isOptedOut(row["tags"] as Record<string, string> | undefined, settings.optOutTag)) subscription.optedOutResourceGroups.add(String(row["name"]).toLowerCase());
    }
  }
  for await (const page of query(SWEEP_QUERIES.security())) {
    for (const row of page) {
      const subscription = subscriptions.get(String(row["subscriptionId"]).toLowerCase());
      if (!subscription) continue;
      const name = String(row["name"]).toLowerCase();
      if (String(row["type"]).toLowerCase() === "microsoft.security/pricings") subscription.pricings.set(name, row);
      else if (name === "default") subscription.legacyAutoProvisioning = autoProvisionOf(row);
    }
  }
  for await (const page of query(SWEEP_QUERIES.policy())) {
    for (const row of page) {
      const subscription = subscriptions.get(String(row["subscriptionId"]).toLowerCase());
      const assignment = toPolicyAssignmentState(row);
      if (subscription && assignment) subscription.sqlAssignments.push(assignment);
    }
  }
  const principals = [...subscriptions.values()].flatMap((subscription) => subscription.sqlAssignments.flatMap((assignment) => (assignment.principalId ? [assignment.principalId] : [])));
  if (principals.length > 0) {
    for await (const page of query(SWEEP_QUERIES.roleGrants(principals))) {
      for (const row of page) {
        const subscription = subscriptions.get(String(row["subscriptionId"]).toLowerCase());
        const grant = roleGrantOf(row);
        if (subscription && grant) subscription.roleGrants.add(grant);
      }
    }
  }
  for await (const page of query(SWEEP_QUERIES.shared())) {
    for (const row of page) {
      const subscription = subscriptions.get(String(row["subscriptionId"]).toLowerCase());
      if (!subscription) continue;
      recordShared(subscription, row);
    }
  }
  const associations = new Map<string, AssociationState[]>();
  for await (const page of query(SWEEP_QUERIES.associations())) {
    for (const row of page) {
      const association = toAssociationState(row);
      if (association) push(associations, machineKeyOf(association.id), association);
    }
  }
  const sqlVirtualMachines = await sqlVirtualMachinesOf(gateway, ids);
  const machines = await collectMachines(query(SWEEP_QUERIES.machines()), associations, sqlVirtualMachines);

  return {
    observedAt: now.toISOString(),
    subscriptions: new Map([...subscriptions].map(([id, subscription]) => [id, freeze(subscription)])),
    machines,
    ...(await readConfiguredResources(gateway, settings)),
    unreadable: [],
  };
}

/** Which VMs are SQL VMs (VM idKey -> SQL VM id): one Resource Graph query per batch of subscriptions. */
export async function sqlVirtualMachinesOf(gateway: ArmGateway, subscriptionIds: readonly string[]): Promise<Map<string, string>> {
  const byVm = new Map<string, string>();
  if (subscriptionIds.length === 0) return byVm;
  for await (const page of gateway.queryResourceGraph(SWEEP_QUERIES.sqlVirtualMachines(), subscriptionIds)) {
    for (const row of page) {
      const vmId = (row["properties"] as Record<string, unknown> | undefined)?.["virtualMachineResourceId"];
      if (typeof vmId === "string") byVm.set(idKey(vmId), String(row["id"]));
    }
  }
  return byVm;
}

/**
 * Machines and their extension rows, converted as they arrive so no raw page outlives its loop:
 * only the plain data evaluation needs is kept, and extensions are joined to their machine at the end.
 */
async function collectMachines(pages: AsyncIterable<ArmObject[]>, associations: ReadonlyMap<string, AssociationState[]>, sqlVirtualMachines: ReadonlyMap<string, string>): Promise<MachineState[]> {
  const machines = new Map<string, MachineState>();
  const extensions = new Map<string, ExtensionState[]>();
  for await (const page of pages) {
    for (const row of page) {
      const type = String(row["type"]).toLowerCase();
      if (type.endsWith("/extensions")) {
        const extension = toExtensionState(row);
        if (extension) push(extensions, machineKeyOf(extension.id), extension);
        continue;
      }
      const key = idKey(String(row["id"]));
      const machine = toMachineState(row, [], associations.get(key) ?? [], sqlVirtualMachines.get(key));
      if (machine) machines.set(key, machine);
    }
  }
  return [...machines].map(([key, machine]) => ({ ...machine, extensions: extensions.get(key) ?? [] }));
}

export function emptySubscription(subscriptionId: string): MutableSubscription {
  return {
    subscriptionId,
    tags: {},
    optedOutResourceGroups: new Set(),
    pricings: new Map(),
    legacyAutoProvisioning: "unknown",
    existing: new Set(),
    workspaces: new Map(),
    ruleDestinations: new Map(),
    sqlAssignments: [],
    roleGrants: new Set(),
  };
}

/** A shared resource found: it exists, and for workspaces and rules, what the plan needs to know of it. */
export function recordShared(subscription: MutableSubscription, raw: ArmObject): void {
  const id = idKey(String(raw["id"]));
  // A create that ended Failed left a resource that does not work: plan it again, as for extensions.
  if (String((raw["properties"] as Record<string, unknown> | undefined)?.["provisioningState"] ?? "").toLowerCase() === "failed") return;
  subscription.existing.add(id);
  const type = String(raw["type"] ?? "").toLowerCase();
  if (type === "microsoft.operationalinsights/workspaces") {
    const workspace = toWorkspaceState(raw);
    if (workspace) subscription.workspaces.set(id, workspace);
  } else if (type === "microsoft.insights/datacollectionrules") {
    subscription.ruleDestinations.set(id, ruleDestinationsOf(raw));
  }
}

export function freeze(subscription: MutableSubscription): SubscriptionState {
  return {
    subscriptionId: subscription.subscriptionId,
    ...(subscription.displayName ? { displayName: subscription.displayName } : {}),
    tags: subscription.tags,
    optedOutResourceGroups: subscription.optedOutResourceGroups,
    ...(subscription.resourceGroupsRead ? { resourceGroupsRead: subscription.resourceGroupsRead } : {}),
    serversPlan: toPricingState(subscription.pricings.get("virtualmachines")),
    sqlServersOnMachinesPlan: toPricingState(subscription.pricings.get("sqlservervirtualmachines")),
    legacyAutoProvisioning: subscription.legacyAutoProvisioning,
    existing: subscription.existing,
    workspaces: subscription.workspaces,
    ruleDestinations: subscription.ruleDestinations,
    sqlAssignments: subscription.sqlAssignments,
    roleGrants: subscription.roleGrants,
  };
}

export type { MutableSubscription };

function autoProvisionOf(row: ArmObject): "On" | "Off" | "unknown" {
  const value = (row["properties"] as Record<string, unknown> | undefined)?.["autoProvision"];
  return value === "On" || value === "Off" ? value : "unknown";
}


function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
