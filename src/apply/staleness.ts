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
  // ARM checks an If-Match itself, and refuses the write with 412 when the target moved (see applyPlan).
  if (item.action === "updateMachineIdentity" && !item.ifMatch) {
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

/**
 * A saved plan's items against a plan made now over the same scope: an item is still current only when
 * today's plan would make the very same write (action, method, target, API version, body, whose
 * principal) over what it observed then, needing nothing the saved plan does not list. Every other item is
 * refused as stale, with why; what today's plan adds is not the reviewed plan's to write.
 */
export function staleAgainst(saved: readonly PlanItem[], fresh: readonly PlanItem[]): Map<string, string> {
  const now = new Map(fresh.map((item) => [item.key, item]));
  const listed = new Set(saved.map((item) => item.key));
  const stale = new Map<string, string>();
  for (const item of saved) {
    const current = now.get(item.key);
    const unlisted = current?.dependsOn.find((key) => !listed.has(key));
    if (!current) stale.set(item.key, "no longer needed, or no longer allowed (already done, the target is gone or opted out)");
    else if (canonical(current.observed) !== canonical(item.observed)) stale.set(item.key, `what the plan observed changed (planned over ${brief(item.observed)}, now ${brief(current.observed)})`);
    else if (canonical(theWrite(current)) !== canonical(theWrite(item))) stale.set(item.key, "the write it would make now differs from the plan's");
    else if (unlisted) stale.set(item.key, `it now needs ${unlisted}, which the plan does not list`);
  }
  return stale;
}

/** What an item sends to ARM, and whose principal it grants: the part of a plan a reviewer approved. */
function theWrite(item: PlanItem): unknown {
  return { action: item.action, method: item.method, target: idKey(item.targetId), apiVersion: item.apiVersion, body: item.body, principalFrom: item.principalFrom && idKey(item.principalFrom) };
}

/** JSON with object keys sorted: two readings of the same state compare equal whatever the key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === "object" && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b))) : inner,
  ) ?? "undefined";
}

function brief(value: unknown): string {
  const text = canonical(value);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
