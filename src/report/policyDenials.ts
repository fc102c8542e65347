/**
 * Writes Azure Policy refused (403 RequestDisallowedByPolicy), counted per denying assignment: what an
 * operator takes to the policy's owner, or turns into CREATED_RESOURCE_TAGS or another region. Pure.
 */
import type { PolicyViolation } from "../errors.js";

export interface DenyingPolicy extends PolicyViolation {
  /** Writes this assignment refused. */
  readonly writes: number;
}

export interface PolicyDenials {
  /** Writes refused by at least one policy. */
  readonly writes: number;
  readonly policies: readonly DenyingPolicy[];
}

export const NO_POLICY_DENIALS: PolicyDenials = Object.freeze({ writes: 0, policies: [] });

/** One entry per denied write: the assignments that refused it. */
export function countPolicyDenials(deniedWrites: readonly (readonly PolicyViolation[])[]): PolicyDenials {
  return mergePolicyDenials(deniedWrites.map((violations) => ({ writes: 1, policies: violations.map((violation) => ({ ...violation, writes: 1 })) })));
}

/** Several counts (a sweep's batches) as one; an assignment is the same whatever the casing of its id. */
export function mergePolicyDenials(all: readonly PolicyDenials[]): PolicyDenials {
  const policies = new Map<string, DenyingPolicy>();
  for (const policy of all.flatMap((denials) => denials.policies)) {
    const key = policy.policyAssignmentId.toLowerCase();
    policies.set(key, { ...policy, writes: (policies.get(key)?.writes ?? 0) + policy.writes });
  }
  return { writes: all.reduce((sum, denials) => sum + denials.writes, 0), policies: [...policies.values()] };
}
