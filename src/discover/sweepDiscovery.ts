/**
 * Sweep discovery: the whole scope through Azure Resource Graph, a page (1,000 rows) at a time.
 * Requests grow with pages, not machines: a handful of queries cover machines, their extensions,
 * associations, SQL registrations, Defender plans and the legacy MMA switch, policy assignments and
 * their role grants, and shared resources of many subscriptions at once.
 */
import type { Settings } from "../config/settings.js";
import type { ArmGateway, ResourceGraphRow } from "../azure/gateway.js";
import { idKey, tryParseResourceId } from "../azure/ids.js";
import { SQL_INITIATIVES } from "../defender/names.js";
import type { AssociationState, ExtensionState, MachineState, Snapshot } from "../model.js";
import { ARM_READ_CONCURRENCY, mapBounded } from "../concurrency.js";
import { machineKeyOf, roleGrantOf, sqlVirtualMachineTarget, toPolicyAssignmentState, toAssociationState, toExtensionState, toMachineState } from "./normalise.js";
import { readConfiguredResources } from "./configuredResources.js";
import { readAssociatedRules } from "./associatedRules.js";
import { emptySubscription, freeze, recordResourceGroup, recordShared, type MutableSubscription } from "./subscriptionSnapshot.js";

const quote = (value: string): string => `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

/** What the incremental sweep reads of a change row (and `more` of it), under the row's own property names. */
const changeProperties = (...more: string[]): string =>
  `bag_pack(${["targetResourceId", "changeType", "changeAttributes", ...more].map((name) => `'${name}', properties.${name}`).join(", ")})`;

/**
 * Every query a sweep sends. Each pages in a stable order (Resource Graph pages an unordered result
 * unrepeatably: duplicates and gaps), and projects the few properties the pipeline reads into a
 * `properties` bag of their wire names, the one shape normalise.ts reads, instead of whole `properties`
 * (a page must stay under 16 MB).
 */
export const SWEEP_QUERIES = {
  // `tags['x']` is case-sensitive in Kusto while ARM tag names are not: `contains` (case-insensitive) on
  // the tags' JSON finds every group whose tags mention the name, and carriesOptOut decides exactly.
  containers: (tag: string) =>
    `resourcecontainers | where type =~ 'microsoft.resources/subscriptions' or (type =~ 'microsoft.resources/subscriptions/resourcegroups' and (name startswith 'DefaultResourceGroup-' or name =~ 'Built-In-Identity-RG' or tostring(tags) contains ${quote(tag)})) | project id, type, name, location, subscriptionId, tags, properties = bag_pack('managementGroupAncestorsChain', properties.managementGroupAncestorsChain) | order by id asc`,
  pricings: () =>
    "securityresources | where type =~ 'microsoft.security/pricings' | project id, name, subscriptionId, properties = bag_pack('pricingTier', properties.pricingTier, 'subPlan', properties.subPlan) | order by id asc",
  policy: () =>
    `policyresources | where type =~ 'microsoft.authorization/policyassignments' | where properties.policyDefinitionId in~ (${Object.values(SQL_INITIATIVES).map(quote).join(", ")}) | project id, identity, properties = bag_pack('policyDefinitionId', properties.policyDefinitionId, 'parameters', properties.parameters) | order by id asc`,
  roleGrants: (principalIds: readonly string[]) =>
    `authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | where properties.principalId in~ (${principalIds.map(quote).join(", ")}) | project id, properties = bag_pack('principalId', properties.principalId, 'roleDefinitionId', properties.roleDefinitionId) | order by id asc`,
  shared: () =>
    "resources | where type in~ ('microsoft.operationalinsights/workspaces', 'microsoft.operationsmanagement/solutions', 'microsoft.insights/datacollectionrules', 'microsoft.managedidentity/userassignedidentities')" +
    " | project id, type, location, subscriptionId, properties = bag_pack('provisioningState', properties.provisioningState, 'customerId', properties.customerId, 'destinations', properties.destinations, 'dataSources', properties.dataSources, 'dataFlows', properties.dataFlows) | order by id asc",
  associations: () =>
    "insightsresources | where type =~ 'microsoft.insights/datacollectionruleassociations' | project id, name, properties = bag_pack('dataCollectionRuleId', properties.dataCollectionRuleId) | order by id asc",
  sqlVirtualMachines: () =>
    "resources | where type =~ 'microsoft.sqlvirtualmachine/sqlvirtualmachines' | project id, properties = bag_pack('virtualMachineResourceId', properties.virtualMachineResourceId) | order by id asc",
  // VMs, Arc machines and their extensions in one pass.
  machines: () =>
    "resources | where type in~ ('microsoft.compute/virtualmachines', 'microsoft.hybridcompute/machines', 'microsoft.compute/virtualmachines/extensions', 'microsoft.hybridcompute/machines/extensions')" +
    " | project id, type, name, location, subscriptionId, resourceGroup, tags, identity, properties = bag_pack(" +
    "'storageProfile', bag_pack('osDisk', bag_pack('osType', properties.storageProfile.osDisk.osType), 'imageReference', properties.storageProfile.imageReference)," +
    " 'osProfile', bag_pack('allowExtensionOperations', properties.osProfile.allowExtensionOperations), 'extended', properties.extended, 'timeCreated', properties.timeCreated," +
    " 'osName', properties.osName, 'osVersion', properties.osVersion, 'osSku', properties.osSku, 'osType', properties.osType, 'status', properties.status, 'detectedProperties', properties.detectedProperties, 'mssqlDiscovered', properties.mssqlDiscovered," +
    " 'publisher', properties.publisher, 'type', properties.type, 'provisioningState', properties.provisioningState, 'typeHandlerVersion', properties.typeHandlerVersion, 'enableAutomaticUpgrade', properties.enableAutomaticUpgrade)" +
    " | order by id asc",
  // Confirms long-running writes in bulk (apply/confirmations.ts): the targets' state, not one poll per operation.
  writeTargets: (ids: readonly string[]) =>
    `resources | where id in~ (${ids.map(quote).join(", ")}) | project id, identity, properties = bag_pack('provisioningState', properties.provisioningState) | order by id asc`,
  // The incremental sweep (changeDiscovery.ts): what Resource Graph's change history shows changed at or after
  // `since`, for the types that bear on a machine (`types`). A change row extends its target, so `id` (unique)
  // orders the pages.
  changes: (since: Date, types: readonly string[]) =>
    `resourcechanges | where todatetime(properties.changeAttributes.timestamp) >= todatetime(${quote(since.toISOString())}) and tostring(properties.targetResourceType) in~ (${types.map(quote).join(", ")})` +
    ` | project id, subscriptionId, properties = ${changeProperties()} | order by id asc`,
  // Subscriptions and resource groups; `changes` says which tags an Update touched.
  containerChanges: (since: Date) =>
    `resourcecontainerchanges | where todatetime(properties.changeAttributes.timestamp) >= todatetime(${quote(since.toISOString())})` +
    ` | project id, subscriptionId, properties = ${changeProperties("changes")} | order by id asc`,
} as const;

/** Policy and role assignments inherited from management groups count as the subscription's own. */
const INHERITED = { authorizationScopeFilter: "AtScopeAboveAndBelow" } as const;

export async function discoverSweep(gateway: ArmGateway, settings: Settings, subscriptionIds: readonly string[], now = new Date()): Promise<Snapshot> {
  const subscriptions = new Map<string, MutableSubscription>(subscriptionIds.map((id) => [id, emptySubscription(id)]));
  const ids = [...subscriptions.keys()];
  const query = (text: string, options = {}) => gateway.queryResourceGraph(text, ids, options);
  const governed = new AssignmentScopes(subscriptions);

  for await (const page of query(SWEEP_QUERIES.containers(settings.optOutTag))) {
    for (const row of page) {
      const subscription = subscriptions.get(String(row["subscriptionId"]).toLowerCase());
      if (!subscription) continue;
      if (String(row["type"]).toLowerCase() === "microsoft.resources/subscriptions") {
        subscription.tags = { ...row.tags };
        // Resource Graph holds a subscription's display name in `name`.
        if (row.name) subscription.displayName = row.name;
        governed.addAncestors(subscription.subscriptionId, row.properties?.["managementGroupAncestorsChain"]);
        continue;
      }
      recordResourceGroup(subscription, String(row.name), row.location ?? "", row.tags ?? undefined, settings.optOutTag);
    }
  }
  for await (const page of query(SWEEP_QUERIES.pricings())) {
    for (const row of page) subscriptions.get(String(row["subscriptionId"]).toLowerCase())?.pricings.set(String(row.name).toLowerCase(), row);
  }
  for await (const page of query(SWEEP_QUERIES.policy(), INHERITED)) {
    for (const row of page) {
      const assignment = toPolicyAssignmentState(row);
      if (assignment) for (const subscription of governed.subscriptionsUnder(assignment.id)) subscription.sqlAssignments.push(assignment);
    }
  }
  const principals = [...new Set([...subscriptions.values()].flatMap((subscription) => subscription.sqlAssignments.flatMap((assignment) => (assignment.principalId ? [assignment.principalId] : []))))];
  if (principals.length > 0) {
    for await (const page of query(SWEEP_QUERIES.roleGrants(principals), INHERITED)) {
      for (const row of page) {
        const grant = roleGrantOf(row);
        if (grant) for (const subscription of governed.subscriptionsUnder(row.id)) subscription.roleGrants.add(grant);
      }
    }
  }
  for await (const page of query(SWEEP_QUERIES.shared())) {
    for (const row of page) {
      const subscription = subscriptions.get(String(row["subscriptionId"]).toLowerCase());
      if (subscription) recordShared(subscription, row);
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
  const machines = await resolveUnknownPower(gateway, await collectMachines(query(SWEEP_QUERIES.machines()), associations, sqlVirtualMachines));
  await readLegacyAutoProvisioning(gateway, [...subscriptions.values()]);
  // A swept subscription's rules are all in its list; only rules elsewhere (a hub subscription's) need a read.
  const associatedRules = await readAssociatedRules(gateway, machines, (ruleId) => subscriptions.has(tryParseResourceId(ruleId)?.subscriptionId ?? ""));

  return {
    observedAt: now.toISOString(),
    subscriptions: new Map([...subscriptions].map(([id, subscription]) => [id, freeze(subscription)])),
    machines,
    ...(await readConfiguredResources(gateway, settings)),
    associatedRules,
    unreadable: [],
  };
}

/**
 * Which subscriptions of the sweep an assignment governs as a whole, from the scope its id starts with:
 * the subscription itself, or every subscription below a management group. Assignments at a resource
 * group or below govern no whole subscription (as for ARM's `atScope()` list on the event path).
 */
class AssignmentScopes {
  private readonly underGroup = new Map<string, MutableSubscription[]>();

  constructor(private readonly subscriptions: ReadonlyMap<string, MutableSubscription>) {}

  /** Resource Graph's `managementGroupAncestorsChain`: `[{ name, displayName }]`, nearest group first. */
  addAncestors(subscriptionId: string, chain: unknown): void {
    const subscription = this.subscriptions.get(subscriptionId);
    if (!subscription || !Array.isArray(chain)) return;
    for (const group of chain) {
      const name = (group as Record<string, unknown> | null)?.["name"];
      if (typeof name === "string") push(this.underGroup, name.toLowerCase(), subscription);
    }
  }

  subscriptionsUnder(assignmentId: string): readonly MutableSubscription[] {
    const scope = idKey(assignmentId).split("/providers/microsoft.authorization/")[0] ?? "";
    const group = /^\/providers\/microsoft\.management\/managementgroups\/([^/]+)$/.exec(scope)?.[1];
    if (group) return this.underGroup.get(group) ?? [];
    const subscription = /^\/subscriptions\/([^/]+)$/.exec(scope)?.[1];
    const found = subscription ? this.subscriptions.get(subscription) : undefined;
    return found ? [found] : [];
  }
}

/** Which VMs are SQL VMs (VM idKey -> SQL VM id): one Resource Graph query per batch of subscriptions. */
export async function sqlVirtualMachinesOf(gateway: ArmGateway, subscriptionIds: readonly string[]): Promise<Map<string, string>> {
  const byVm = new Map<string, string>();
  if (subscriptionIds.length === 0) return byVm;
  for await (const page of gateway.queryResourceGraph(SWEEP_QUERIES.sqlVirtualMachines(), subscriptionIds)) {
    for (const row of page) {
      const vmId = sqlVirtualMachineTarget(row);
      if (vmId) byVm.set(idKey(vmId), row.id);
    }
  }
  return byVm;
}

/**
 * A VM's power state in Resource Graph (`properties.extended`) is a preview feature and may be missing:
 * such a VM is read directly, a few at a time, rather than being skipped as "not running" forever.
 */
async function resolveUnknownPower(gateway: ArmGateway, machines: MachineState[]): Promise<MachineState[]> {
  const unknown = machines.flatMap((machine, index) => (machine.kind === "virtualMachine" && machine.power === "unknown" ? [index] : []));
  const read = await mapBounded(unknown, ARM_READ_CONCURRENCY, (index) => gateway.getVirtualMachine((machines[index] as MachineState).id));
  unknown.forEach((index, position) => {
    const raw = read[position];
    const machine = machines[index] as MachineState;
    const power = raw ? toMachineState(raw, [], [])?.power : undefined;
    if (power) machines[index] = { ...machine, power };
  });
  return machines;
}

/**
 * The legacy MMA switch (`autoProvisioningSettings/default`) is in no Resource Graph table: one ARM read
 * per subscription, a few at a time. It is only reported, so a refused read leaves it "unknown".
 */
async function readLegacyAutoProvisioning(gateway: ArmGateway, subscriptions: readonly MutableSubscription[]): Promise<void> {
  const values = await mapBounded(subscriptions, ARM_READ_CONCURRENCY, (subscription) => gateway.getLegacyAutoProvisioning(subscription.subscriptionId).catch(() => undefined));
  subscriptions.forEach((subscription, index) => (subscription.legacyAutoProvisioning = values[index] ?? "unknown"));
}

/**
 * Machines and their extension rows, converted as they arrive so no raw page outlives its loop:
 * only the plain data evaluation needs is kept, and extensions are joined to their machine at the end.
 */
async function collectMachines(pages: AsyncIterable<ResourceGraphRow[]>, associations: ReadonlyMap<string, AssociationState[]>, sqlVirtualMachines: ReadonlyMap<string, string>): Promise<MachineState[]> {
  const machines = new Map<string, MachineState>();
  const extensions = new Map<string, ExtensionState[]>();
  for await (const page of pages) {
    for (const row of page) {
      const type = String(row.type).toLowerCase();
      if (type.endsWith("/extensions")) {
        const extension = toExtensionState(row);
        if (extension) push(extensions, machineKeyOf(extension.id), extension);
        continue;
      }
      const key = idKey(row.id);
      const machine = toMachineState(row, [], associations.get(key) ?? [], sqlVirtualMachines.get(key));
      if (machine) machines.set(key, machine);
    }
  }
  return [...machines].map(([key, machine]) => ({ ...machine, extensions: extensions.get(key) ?? [] }));
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
