/**
 * Targeted discovery for named machines (Event Grid events, HTTP runs with resourceIds, the machines an
 * incremental sweep found changed). Resource
 * Graph lags behind ARM by seconds to minutes, so a machine that was just created is read directly:
 * the machine, its extensions and associations, then the handful of shared resources its desired
 * state names, once per subscription.
 */
import type { Settings } from "../config/settings.js";
import type { ArmGateway, ArmResource } from "../azure/gateway.js";
import { idKey, parseResourceId, resourceGroupId, tryParseResourceId } from "../azure/ids.js";
import {
  SQL_INITIATIVES,
  builtInIdentityId,
  defaultWorkspaceId,
  ownedRuleId,
  solutionId,
  sqlCustomWorkspaceRuleId,
  sqlRuleId,
  sqlWorkspaceId,
} from "../defender/names.js";
import type { MachineState, Snapshot, WorkspaceState } from "../model.js";
import { readConfiguredResources } from "./configuredResources.js";
import type { SharedReadCache } from "./sharedReadCache.js";
import { readAssociatedRules } from "./associatedRules.js";
import { ARM_READ_CONCURRENCY, mapBounded } from "../concurrency.js";
import { sqlVirtualMachineTarget, toAssociationState, toExtensionState, toMachineState, toPolicyAssignmentState, toPricingState } from "./normalise.js";
import { sqlVirtualMachinesOf } from "./sweepDiscovery.js";
import { emptySubscription, freeze, recordResourceGroup, recordShared, type MutableSubscription } from "./subscriptionSnapshot.js";

export async function discoverMachines(gateway: ArmGateway, settings: Settings, machineIds: readonly string[], sharedReads?: SharedReadCache, now = new Date()): Promise<Snapshot> {
  const unreadable: { id: string; reason: string }[] = [];
  const machines: MachineState[] = [];
  const unique = [...new Map(machineIds.map((machineId) => [idKey(machineId), machineId])).values()];
  const read = await mapBounded(unique, ARM_READ_CONCURRENCY, (id) => readMachine(gateway, id));
  // Which VMs are SQL VMs: one query for the batch instead of a probe per VM. A SQL VM registered after
  // Resource Graph caught up raises its own event (sqlVirtualMachines/write).
  const sqlVirtualMachines = await sqlVirtualMachinesOf(gateway, [...new Set(read.flatMap((machine) => (machine?.kind === "virtualMachine" && !machine.sqlServer ? [machine.subscriptionId] : [])))]);
  read.forEach((machine, index) => {
    if (!machine) unreadable.push({ id: unique[index] as string, reason: "not found (deleted, or not a VM, Arc machine or SQL VM)" });
    else if (machine.sqlServer || !sqlVirtualMachines.has(idKey(machine.id))) machines.push(machine);
    else machines.push({ ...machine, sqlServer: { sqlVirtualMachineId: sqlVirtualMachines.get(idKey(machine.id)) as string } });
  });
  const custom = await readConfiguredResources(gateway, settings);
  const subscriptions = new Map<string, MutableSubscription>();
  for (const subscriptionId of new Set(machines.map((machine) => machine.subscriptionId))) {
    const inSubscription = machines.filter((machine) => machine.subscriptionId === subscriptionId);
    const read = <T>(key: string, load: () => Promise<T>) => (sharedReads ? sharedReads.read(subscriptionId, key, load) : load());
    subscriptions.set(subscriptionId, await readSubscription(gateway, read, settings, subscriptionId, inSubscription, custom.customWorkspace));
  }
  // Only the service's own rules were probed: a customer's rule a machine is associated with is read here.
  const associatedRules = await readAssociatedRules(gateway, machines, (ruleId) => subscriptions.get(tryParseResourceId(ruleId)?.subscriptionId ?? "")?.rules.has(idKey(ruleId)) === true);
  return {
    observedAt: now.toISOString(),
    subscriptions: new Map([...subscriptions].map(([id, subscription]) => [id, freeze(subscription)])),
    machines,
    associatedRules,
    ...custom,
    unreadable,
  };
}

async function readMachine(gateway: ArmGateway, id: string): Promise<MachineState | undefined> {
  const parsed = parseResourceId(id);
  const type = parsed.resourceType.toLowerCase();
  let raw: ArmResource | undefined;
  let sqlVirtualMachineId: string | undefined;
  if (type === "microsoft.sqlvirtualmachine/sqlvirtualmachines") {
    const sqlVm = await gateway.getResource(id);
    const vmId = sqlVm ? sqlVirtualMachineTarget(sqlVm) : undefined;
    if (!sqlVm || !vmId) return undefined;
    sqlVirtualMachineId = sqlVm.id;
    raw = await gateway.getVirtualMachine(vmId);
  } else if (type === "microsoft.compute/virtualmachines") {
    raw = await gateway.getVirtualMachine(id);
  } else if (type === "microsoft.hybridcompute/machines") {
    raw = await gateway.getResource(id);
  }
  if (!raw) return undefined;
  const machineId = raw.id;
  const extensions = (await gateway.listExtensions(machineId)).map(toExtensionState).filter((extension) => extension !== undefined);
  const associations = (await gateway.listAssociations(machineId)).map(toAssociationState).filter((association) => association !== undefined);
  return toMachineState(raw, extensions, associations, sqlVirtualMachineId);
}

/** A subscription-level read, through the shared-read cache when the run has one. */
type SubscriptionRead = <T>(key: string, load: () => Promise<T>) => Promise<T>;

async function readSubscription(
  gateway: ArmGateway,
  read: SubscriptionRead,
  settings: Settings,
  subscriptionId: string,
  machines: readonly MachineState[],
  customWorkspace: WorkspaceState | undefined,
): Promise<MutableSubscription> {
  const [details, pricingList, legacyAutoProvisioning] = await Promise.all([
    read("subscription", () => gateway.getSubscription(subscriptionId)),
    read("pricings", () => gateway.listPricings(subscriptionId)),
    read("legacyAutoProvisioning", () => gateway.getLegacyAutoProvisioning(subscriptionId)),
  ]);
  const pricings = new Map(pricingList.map((pricing) => [String(pricing.name).toLowerCase(), pricing]));
  const subscription: MutableSubscription = {
    ...emptySubscription(subscriptionId),
    ...(details?.displayName ? { displayName: details.displayName } : {}),
    tags: details?.tags ?? {},
    pricings,
    legacyAutoProvisioning: legacyAutoProvisioning ?? "unknown",
  };
  const candidates = candidateSharedIds(settings, subscriptionId, machines, customWorkspace);
  const groups = new Set([...machines.map((machine) => machine.resourceGroup), ...[...candidates].map((id) => parseResourceId(id).resourceGroup).filter((group) => group !== undefined)].map((group) => group.toLowerCase()));
  const found = await mapBounded([...groups], ARM_READ_CONCURRENCY, (group) => read(`group ${group}`, () => gateway.getResourceGroup(subscriptionId, group)));
  subscription.resourceGroupsRead = groups;
  for (const [index, group] of [...groups].entries()) {
    const resourceGroup = found[index];
    if (resourceGroup === undefined) continue;
    recordResourceGroup(subscription, group, resourceGroup.location, resourceGroup.tags, settings.optOutTag);
  }
  // Only resources whose group exists can exist.
  const present = [...candidates].filter((id) => subscription.existing.has(idKey(resourceGroupId(subscriptionId, parseResourceId(id).resourceGroup ?? ""))));
  const shared = await mapBounded(present, ARM_READ_CONCURRENCY, (id) => read(id, () => gateway.getResource(id)));
  shared.forEach((raw, index) => {
    if (raw) recordShared(subscription, { ...raw, type: raw.type ?? parseResourceId(present[index] as string).resourceType });
  });
  // The planner assigns Defender for SQL's initiative wherever the plan is on: it must see existing assignments.
  if (settings.profiles.has("sql") && toPricingState(pricings.get("sqlservervirtualmachines")).tier === "Standard") {
    const initiatives = new Set(Object.values(SQL_INITIATIVES).map((id) => id.toLowerCase()));
    for (const raw of await read("policyAssignments", () => gateway.listPolicyAssignments(subscriptionId))) {
      const assignment = toPolicyAssignmentState(raw);
      // Role grants are only checked by sweeps (Resource Graph); an event never re-grants them.
      if (assignment && initiatives.has(assignment.policyDefinitionId.toLowerCase())) {
        const { principalId: _grantsAreCheckedBySweeps, ...withoutPrincipal } = assignment;
        subscription.sqlAssignments.push(withoutPrincipal);
      }
    }
  }
  return subscription;
}

/** Shared resources the machines' desired state names; their existence decides what to create. */
function candidateSharedIds(settings: Settings, subscriptionId: string, machines: readonly MachineState[], customWorkspace: WorkspaceState | undefined): Set<string> {
  const ids = new Map<string, string>();
  const add = (id: string) => ids.set(idKey(id), id);
  for (const machine of machines) {
    if (!settings.customWorkspaceId) {
      const workspace = defaultWorkspaceId(subscriptionId, machine.location);
      add(workspace);
      for (const gallery of ["SecurityCenterFree", "Security"]) add(solutionId(workspace, gallery));
    }
    if (!settings.dataCollectionRuleId) add(ownedRuleId(subscriptionId, machine.location));
    if (machine.sqlServer) {
      add(builtInIdentityId(subscriptionId, machine.location));
      add(sqlWorkspaceId(subscriptionId, machine.location));
      add(sqlRuleId(subscriptionId, machine.location));
      if (customWorkspace?.customerId) add(sqlCustomWorkspaceRuleId(subscriptionId, customWorkspace.location || machine.location, customWorkspace.customerId));
    }
  }
  if (settings.customWorkspaceId) {
    const parsed = parseResourceId(settings.customWorkspaceId);
    if (parsed.subscriptionId === subscriptionId) for (const gallery of ["SecurityCenterFree", "Security"]) add(solutionId(settings.customWorkspaceId, gallery));
  }
  return new Set(ids.values());
}
