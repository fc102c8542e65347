import { randomUUID } from "node:crypto";
import type { JsonObject } from "./store.js";

/**
 * ARM managed-identity semantics on PUT/PATCH of a VM or machine:
 * - `type` replaces the type;
 * - with UserAssigned in the new type, an omitted `userAssignedIdentities` KEEPS the existing ones and a
 *   given dictionary is merged into them (a null value removes one);
 * - a type without UserAssigned drops them;
 * - SystemAssigned gets a principalId/tenantId (kept if it already had one).
 */
export function mergeIdentity(
  existing: JsonObject | undefined,
  requested: JsonObject | undefined,
  tenantId: string,
): JsonObject | undefined {
  if (requested === undefined) return existing;
  const type = String(requested.type ?? existing?.type ?? "None");
  const parts = new Set(type.split(",").map((p) => p.trim().toLowerCase()));
  if (parts.has("none")) return undefined;
  const result: JsonObject = { type };

  if (parts.has("systemassigned")) {
    const hadSystem = String(existing?.type ?? "").toLowerCase().includes("systemassigned");
    result.principalId = hadSystem && existing?.principalId ? existing.principalId : randomUUID();
    result.tenantId = hadSystem && existing?.tenantId ? existing.tenantId : tenantId;
  }
  if (parts.has("userassigned")) {
    const merged: JsonObject = { ...((existing?.userAssignedIdentities as JsonObject | undefined) ?? {}) };
    const given = requested.userAssignedIdentities as Record<string, unknown> | undefined;
    for (const [id, value] of Object.entries(given ?? {})) {
      const key = Object.keys(merged).find((k) => k.toLowerCase() === id.toLowerCase()) ?? id;
      if (value === null) delete merged[key];
      else merged[key] = merged[key] ?? { principalId: randomUUID(), clientId: randomUUID() };
    }
    result.userAssignedIdentities = merged;
  }
  return result;
}
