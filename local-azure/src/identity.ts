import { randomUUID } from "node:crypto";
import type { JsonObject } from "./store.js";

/**
 * ARM managed-identity semantics on PUT/PATCH of a VM or machine:
 * - `type` replaces the type;
 * - with UserAssigned in the new type, the `userAssignedIdentities` dictionary sent is the whole set kept:
 *   existing ids listed (each mapped to `{}`) keep their principal, new ids are attached, a null value or
 *   an omitted id removes it. This is the only form Microsoft documents for keeping a VM's user-assigned
 *   identities while changing its identity (managed-identities REST how-to for VMs). The undocumented
 *   form, `"SystemAssigned, UserAssigned"` without the dictionary, is not proven to keep them, so here it
 *   drops them (stricter than Azure may be, on purpose): code relying on it loses identities in a test,
 *   not in a tenant;
 * - a type without UserAssigned drops them;
 * - SystemAssigned gets a principalId/tenantId (kept if it already had one).
 */
export function mergeIdentity(
  existing: JsonObject | undefined,
  requested: JsonObject | undefined,
  tenantId: string,
): JsonObject | undefined {
  if (requested === undefined) return existing;
  const parts = new Set(String(requested.type ?? existing?.type ?? "None").split(",").map((p) => p.trim().toLowerCase()));
  const result: JsonObject = {};

  if (parts.has("systemassigned")) {
    const hadSystem = String(existing?.type ?? "").toLowerCase().includes("systemassigned");
    result.principalId = hadSystem && existing?.principalId ? existing.principalId : randomUUID();
    result.tenantId = hadSystem && existing?.tenantId ? existing.tenantId : tenantId;
  }
  const users = parts.has("userassigned") ? userAssignedKept(existing, requested) : {};
  if (Object.keys(users).length > 0) result.userAssignedIdentities = users;
  const type = [result.principalId ? "SystemAssigned" : undefined, result.userAssignedIdentities ? "UserAssigned" : undefined].filter(Boolean).join(", ");
  return type ? { type, ...result } : undefined;
}

/** The user-assigned identities a request lists (null = remove), existing ones keeping their ids. */
function userAssignedKept(existing: JsonObject | undefined, requested: JsonObject): JsonObject {
  const current = (existing?.userAssignedIdentities as JsonObject | undefined) ?? {};
  const kept: JsonObject = {};
  for (const [id, value] of Object.entries((requested.userAssignedIdentities as Record<string, unknown> | undefined) ?? {})) {
    if (value === null) continue;
    const key = Object.keys(current).find((k) => k.toLowerCase() === id.toLowerCase());
    kept[key ?? id] = key ? current[key] : { principalId: randomUUID(), clientId: randomUUID() };
  }
  return kept;
}
