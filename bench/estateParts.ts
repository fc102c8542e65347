/**
 * Picking machines out of a generated estate: the scenarios load an estate's existing machines first and
 * hold new ones back, to load them as if just created.
 */
import type { ArmResource } from "../local-azure/src/arm-resource.js";
import type { Estate, EstateMachine } from "../local-azure/src/estate.js";

/** The tag the generated estates and the service's default settings use to opt out. */
export const OPT_OUT_TAG = "ama-remediation";

/** The VM or Arc machine a resource id belongs to (itself, or the machine of an extension). */
export function machineIdOf(id: string): string {
  const match = /^(.*?\/providers\/(?:Microsoft\.Compute\/virtualMachines|Microsoft\.HybridCompute\/machines)\/[^/]+)/i.exec(id);
  return match?.[1] ?? id;
}

/** The resources of these machines: each machine and its extensions. */
export function resourcesOf(estate: Estate, machines: readonly EstateMachine[]): ArmResource[] {
  const ids = new Set(machines.map((machine) => machine.id));
  return estate.resources.filter((resource) => ids.has(machineIdOf(resource.id)));
}

/** The estate without these machines: what exists before they arrive. */
export function resourcesWithout(estate: Estate, machines: Iterable<{ readonly id: string }>): ArmResource[] {
  const held = new Set([...machines].map((machine) => machine.id));
  return estate.resources.filter((resource) => !held.has(machineIdOf(resource.id)));
}

/** Key of `dataCollectionRulesOf`: a subscription and a region, lower-cased. */
export function ruleKey(subscriptionId: string, region: string): string {
  return `${subscriptionId}|${region}`.toLowerCase();
}

/** The estate's data collection rules by subscription and region: the rule a machine there is associated with. */
export function dataCollectionRulesOf(estate: Estate): Record<string, string> {
  const rules: Record<string, string> = {};
  for (const resource of estate.resources) {
    if (resource.type !== "Microsoft.Insights/dataCollectionRules" || !resource.location) continue;
    const subscriptionId = /^\/subscriptions\/([^/]+)/i.exec(resource.id)?.[1] ?? "";
    rules[ruleKey(subscriptionId, resource.location)] ??= resource.id;
  }
  return rules;
}
