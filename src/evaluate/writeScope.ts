/**
 * The one place that decides whether the service may write somewhere: inside the run's scope, and
 * not opted out by the tag on the subscription, the resource group or the machine. Evaluate asks it
 * for each machine, plan for each shared resource, and the gateway's write guard for every write. Pure:
 * a dated opt-out (`skip-until=<date>`) is read against the snapshot's clock (`observedAt`).
 */
import { idKey, owningMachineId, tryParseResourceId } from "../azure/ids.js";
import { quoted } from "../config/settingSchemas.js";
import { OPT_OUT_VALUE, optOutTagValue, readOptOut, type OptOut, type Snapshot } from "../model.js";

/** Why `id` must not be written in this run, or undefined when it may be. */
export type WriteRefusal = (id: string) => string | undefined;

/** Something about an opt-out worth a subscription finding: one that expired, or one that is no date. */
export interface OptOutFinding {
  readonly subscriptionId: string;
  readonly message: string;
}

export function writeRefusal(snapshot: Snapshot, optOutTag: string): WriteRefusal {
  const machineTags = new Map(snapshot.machines.map((machine) => [idKey(machine.id), machine.tags]));
  const refusedBy = (what: string, value: string | undefined) => optOutRefusal(`${what} tagged ${optOutTag}`, readOptOut(value, snapshot.observedAt));
  return (id) => {
    const parsed = tryParseResourceId(id);
    if (!parsed) return "not an Azure resource id";
    const subscription = snapshot.subscriptions.get(parsed.subscriptionId);
    if (!subscription) return `subscription ${parsed.subscriptionId} is outside the configured scope`;
    const bySubscription = refusedBy("subscription", optOutTagValue(subscription.tags, optOutTag));
    if (bySubscription) return bySubscription;
    const group = parsed.resourceGroup?.toLowerCase();
    // A targeted run reads only some groups' tags: a group it did not read may be opted out.
    if (group && subscription.resourceGroupsRead && !subscription.resourceGroupsRead.has(group)) return `this run did not read the tags of resource group ${parsed.resourceGroup}`;
    const groupOptOut = group ? subscription.optedOutResourceGroups.get(group) : undefined;
    const byGroup = groupOptOut !== undefined ? refusedBy("resource group", groupOptOut) : undefined;
    if (byGroup) return byGroup;
    const machineId = owningMachineId(parsed);
    if (!machineId) return undefined;
    if (!machineTags.has(idKey(machineId))) return "its machine was not discovered in this run";
    return refusedBy("machine", optOutTagValue(machineTags.get(idKey(machineId)), optOutTag));
  };
}

/** Why an opt-out refuses writes (`<what tagged tag>: …`), or undefined when it does not (none, expired). */
function optOutRefusal(tagged: string, optOut: OptOut): string | undefined {
  switch (optOut.state) {
    case "skip":
      return `${tagged}: ${OPT_OUT_VALUE}`;
    case "until":
      return `${tagged}: skip-until=${optOut.until} (opted out through that day, UTC)`;
    case "unparseable":
      return `${tagged}: ${unparseable(optOut.value)}`;
    case "expired":
    case "none":
      return undefined;
  }
}

const unparseable = (value: string) => `${quoted(value)} is not skip-until=YYYY-MM-DD with a real date: treated as skip`;
const expired = (on: string, until: string) => `opt-out tag on ${on} expired on ${until}: in scope again`;

/** A machine's note when its own opt-out has expired (an unparseable one is its skip reason instead). */
export function machineOptOutNote(tags: Readonly<Record<string, string>>, snapshot: Snapshot, optOutTag: string): string | undefined {
  const optOut = readOptOut(optOutTagValue(tags, optOutTag), snapshot.observedAt);
  return optOut.state === "expired" ? expired("machine", optOut.until) : undefined;
}

/**
 * Subscription findings for opt-outs on subscriptions and resource groups that expired (in scope again)
 * or are no date (treated as skip): either would otherwise pass unnoticed where no machine shows it.
 * Groups inside an opted-out subscription are not mentioned: the subscription's opt-out decides.
 */
export function optOutFindings(snapshot: Snapshot, optOutTag: string): OptOutFinding[] {
  const findings: OptOutFinding[] = [];
  for (const subscription of snapshot.subscriptions.values()) {
    const add = (on: string, optOut: OptOut) => {
      const message = optOut.state === "expired" ? expired(on, optOut.until) : optOut.state === "unparseable" ? `opt-out tag on ${on}: ${unparseable(optOut.value)}` : undefined;
      if (message) findings.push({ subscriptionId: subscription.subscriptionId, message });
    };
    const own = readOptOut(optOutTagValue(subscription.tags, optOutTag), snapshot.observedAt);
    add(`subscription ${subscription.subscriptionId}`, own);
    if (own.state !== "none" && own.state !== "expired") continue;
    for (const [group, value] of subscription.optedOutResourceGroups) add(`resource group ${group}`, readOptOut(value, snapshot.observedAt));
  }
  return findings;
}

