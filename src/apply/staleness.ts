/**
 * Before a write whose body was computed from what the plan saw, apply reads the target again and
 * refuses the item when the world moved (Terraform's apply refuses a stale plan the same way):
 * - an identity PATCH lists every user-assigned identity to keep, so an identity attached since the
 *   plan would be detached by it;
 * - a shared resource planned as absent (group, workspace, solution, rule, identity, assignment) that
 *   exists by now was made by someone else, and a PUT would overwrite its settings and tags.
 * Per-machine creates (agents, associations) are not re-read: ARM keeps one agent per type, and an
 * association PUT is idempotent.
 */
import { idKey } from "../azure/ids.js";
import type { ArmWriter } from "../azure/gateway.js";
import { hasFailed, toMachineIdentity } from "../discover/normalise.js";
import type { MachineIdentity } from "../model.js";
import type { PlanAction, PlanItem } from "../plan/plan.js";

const SHARED_CREATES: ReadonlySet<PlanAction> = new Set(["createResourceGroup", "createUserAssignedIdentity", "createWorkspace", "installSolution", "createDataCollectionRule", "assignPolicy"]);

/** Why the item no longer matches the world, or undefined when it may be written. */
export async function staleReason(item: PlanItem, reader: Pick<ArmWriter, "readTarget">): Promise<string | undefined> {
  if (item.action === "updateMachineIdentity") {
    const observed = item.observed as MachineIdentity;
    const machine = await reader.readTarget(item.targetId);
    if (!machine) return "the machine no longer exists";
    const current = toMachineIdentity(machine.identity);
    return sameIdentity(current, observed) ? undefined : `the machine's identities changed since the plan (planned over ${describe(observed)}, now ${describe(current)})`;
  }
  if (SHARED_CREATES.has(item.action) && item.observed === "absent") {
    const found = await reader.readTarget(item.targetId);
    // A create that ended Failed left a resource that does not work: discovery planned it again, rightly.
    if (found && !hasFailed(found)) return "it was created by someone else since the plan: not overwritten";
  }
  return undefined;
}

function sameIdentity(a: MachineIdentity, b: MachineIdentity): boolean {
  const ids = (identity: MachineIdentity) => [...new Set(identity.userAssignedIds.map(idKey))].sort().join("|");
  return a.systemAssigned === b.systemAssigned && ids(a) === ids(b);
}

function describe(identity: MachineIdentity): string {
  const parts = [identity.systemAssigned ? "system-assigned" : undefined, ...identity.userAssignedIds.map((id) => id.split("/").pop())].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : "no identity";
}
