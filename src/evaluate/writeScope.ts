/**
 * The one place that decides whether the service may write somewhere: inside the run's scope, and
 * not opted out by the tag on the subscription, the resource group or the machine. Evaluate asks it
 * for each machine, plan for each shared resource, and the gateway's write guard for every write. Pure.
 */
import { idKey, owningMachineId, tryParseResourceId } from "../azure/ids.js";
import { OPT_OUT_VALUE, isOptedOut, type Snapshot } from "../model.js";

/** Why `id` must not be written in this run, or undefined when it may be. */
export type WriteRefusal = (id: string) => string | undefined;

export function writeRefusal(snapshot: Snapshot, optOutTag: string): WriteRefusal {
  const machineTags = new Map(snapshot.machines.map((machine) => [idKey(machine.id), machine.tags]));
  const tagged = (what: string) => `${what} tagged ${optOutTag}: ${OPT_OUT_VALUE}`;
  return (id) => {
    const parsed = tryParseResourceId(id);
    if (!parsed) return "not an Azure resource id";
    const subscription = snapshot.subscriptions.get(parsed.subscriptionId);
    if (!subscription) return `subscription ${parsed.subscriptionId} is outside the configured scope`;
    if (isOptedOut(subscription.tags, optOutTag)) return tagged("subscription");
    const group = parsed.resourceGroup?.toLowerCase();
    // A targeted run reads only some groups' tags: a group it did not read may be opted out.
    if (group && subscription.resourceGroupsRead && !subscription.resourceGroupsRead.has(group)) return `this run did not read the tags of resource group ${parsed.resourceGroup}`;
    if (group && subscription.optedOutResourceGroups.has(group)) return tagged("resource group");
    const machineId = owningMachineId(parsed);
    if (!machineId) return undefined;
    if (!machineTags.has(idKey(machineId))) return "its machine was not discovered in this run";
    return isOptedOut(machineTags.get(idKey(machineId)), optOutTag) ? tagged("machine") : undefined;
  };
}
