/**
 * Rules the machines are associated with, read where discovery has not seen them: a customer's rule in
 * another subscription, or any rule on the event path. Whether such a rule already collects a machine's
 * security events decides whether the service's own rule is needed (never collect the same events twice).
 */
import type { ArmGateway } from "../azure/gateway.js";
import { idKey, tryParseResourceId } from "../azure/ids.js";
import { ARM_READ_CONCURRENCY, mapBounded } from "../concurrency.js";
import type { MachineState, RuleState } from "../model.js";
import { toRuleState } from "./normalise.js";

const RULE_TYPE = "microsoft.insights/datacollectionrules";

/**
 * One read per distinct rule `isKnown` says discovery has not covered. A rule that is gone, or that the
 * service may not read (another team's subscription), is left out: the machine then gets the service's own.
 */
export async function readAssociatedRules(gateway: ArmGateway, machines: readonly MachineState[], isKnown: (ruleId: string) => boolean): Promise<Map<string, RuleState>> {
  const wanted = new Map<string, string>();
  for (const machine of machines) {
    for (const { ruleId } of machine.associations) {
      if (ruleId && tryParseResourceId(ruleId)?.resourceType.toLowerCase() === RULE_TYPE && !isKnown(ruleId)) wanted.set(idKey(ruleId), ruleId);
    }
  }
  const read = await mapBounded([...wanted.values()], ARM_READ_CONCURRENCY, (ruleId) => gateway.getResource(ruleId).catch(() => undefined));
  const rules = new Map<string, RuleState>();
  for (const raw of read) {
    const rule = raw ? toRuleState(raw) : undefined;
    if (rule) rules.set(idKey(rule.id), rule);
  }
  return rules;
}
