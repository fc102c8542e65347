/**
 * Resource Graph's change history: the `resourcechanges` table (resources of the `resources` table) and
 * `resourcecontainerchanges` (subscriptions and resource groups). "When a resource is created, updated, or
 * deleted, a new change resource (Microsoft.Resources/changes) is created to extend the modified resource"
 * (azure-docs articles/governance/resource-graph/changes/get-resource-changes.md), kept fourteen days.
 * The emulator records one on every successful write, operation end and delete it serves; resources loaded
 * through the control API (an estate) have no history, as if they were older than the retention.
 */
import { randomUUID } from "node:crypto";
import type { JsonObject, StoredResource } from "./store.js";

export type ChangeType = "Create" | "Update" | "Delete";
export type ChangeTable = "resourcechanges" | "resourcecontainerchanges";

/** "Changes are queryable for fourteen days." */
export const CHANGE_RETENTION_MS = 14 * 24 * 60 * 60 * 1000;
const CHANGE_ROW_TYPE = "microsoft.resources/changes";

export interface ChangeAttributes {
  /** The request's correlation id (a deployment's steps share one). */
  readonly correlationId?: string;
  /** The RBAC action the change was made with, e.g. `Microsoft.Compute/virtualMachines/write`. */
  readonly operation: string;
}

export interface RecordedChange extends ChangeAttributes {
  readonly table: ChangeTable;
  readonly changeType: ChangeType;
  /** The resource after the change (Create, Update) or before it (Delete). */
  readonly target: StoredResource;
  /** ARG's lower-case type of the target (groups: `microsoft.resources/subscriptions/resourcegroups`). */
  readonly targetType: string;
  /** What the resource looked like before an Update; the `changes` dictionary is its difference. */
  readonly before?: JsonObject;
  readonly tenantId: string;
}

type Row = Record<string, unknown>;

/** Change rows per subscription, oldest first; rows past the retention are dropped as they are read. */
export class ChangeLog {
  private readonly rows = new Map<string, Row[]>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Records a change; an Update that changed no property leaves no row (there is nothing to show). */
  record(change: RecordedChange): void {
    const changes = change.changeType === "Update" ? changedProperties(change.before ?? {}, change.target.resource) : undefined;
    if (changes && Object.keys(changes).length === 0) return;
    const subscriptionId = change.target.subscriptionId ?? "";
    const changeId = randomUUID();
    const row: Row = {
      id: `${change.target.resource.id}/providers/Microsoft.Resources/changes/${changeId}`,
      name: changeId,
      type: CHANGE_ROW_TYPE,
      tenantId: change.tenantId,
      kind: "",
      location: "",
      resourceGroup: change.target.resourceGroup ?? "",
      subscriptionId,
      managedBy: "",
      sku: null,
      plan: null,
      properties: {
        targetResourceId: change.target.resource.id,
        targetResourceType: change.targetType,
        changeType: change.changeType,
        changeAttributes: {
          // "Snapshots are not currently supported for deleted resources"; a created one had none before.
          ...(change.changeType === "Create" ? {} : { previousResourceSnapshotId: randomUUID() }),
          ...(change.changeType === "Delete" ? {} : { newResourceSnapshotId: randomUUID() }),
          ...(change.correlationId ? { correlationId: change.correlationId } : {}),
          // "changesCount is shown as 0" for Create and Delete.
          changesCount: changes ? Object.keys(changes).length : 0,
          operation: change.operation,
          timestamp: this.now().toISOString(),
        },
        // "The changes property dictionary is only included when changeType is Update."
        ...(changes ? { changes } : {}),
      },
      tags: {},
      identity: null,
    };
    const key = `${change.table}|${subscriptionId.toLowerCase()}`;
    const list = this.rows.get(key);
    if (list) list.push(row);
    else this.rows.set(key, [row]);
  }

  /** The table's rows of one subscription still inside the retention. */
  list(table: ChangeTable, subscriptionId: string): readonly Row[] {
    const key = `${table}|${subscriptionId.toLowerCase()}`;
    const list = this.rows.get(key) ?? [];
    const oldest = this.now().getTime() - CHANGE_RETENTION_MS;
    const firstKept = list.findIndex((row) => Date.parse(timestampOf(row)) >= oldest);
    list.splice(0, firstKept < 0 ? list.length : firstKept);
    return list;
  }

  clear(): void {
    this.rows.clear();
  }
}

function timestampOf(row: Row): string {
  return ((row.properties as JsonObject).changeAttributes as JsonObject).timestamp as string;
}

/**
 * The `changes` dictionary of an Update: one entry per changed property path (`properties.provisioningState`,
 * `tags.costCenter`), with `previousValue` and `newValue` as strings, a side left out when the property was
 * absent ("previousValue being empty indicates Insert, empty newValue indicates Remove"). Arrays count as one
 * value. The VM instance view is left out: Resource Graph has none (its rows carry `properties.extended`).
 */
export function changedProperties(before: JsonObject, after: JsonObject): Record<string, { previousValue?: string; newValue?: string }> {
  const previous = flatten(withoutIdentityFields(before));
  const next = flatten(withoutIdentityFields(after));
  const changes: Record<string, { previousValue?: string; newValue?: string }> = {};
  for (const path of new Set([...previous.keys(), ...next.keys()])) {
    const [was, now] = [previous.get(path), next.get(path)];
    if (was === now) continue;
    changes[path] = { ...(was !== undefined ? { previousValue: was } : {}), ...(now !== undefined ? { newValue: now } : {}) };
  }
  return changes;
}

function withoutIdentityFields(resource: JsonObject): JsonObject {
  const { id: _id, name: _name, type: _type, ...rest } = resource;
  const properties = rest.properties as JsonObject | undefined;
  if (properties && "instanceView" in properties) {
    const { instanceView: _instanceView, ...others } = properties;
    return { ...rest, properties: others };
  }
  return rest;
}

function flatten(value: JsonObject, prefix = "", into = new Map<string, string>()): Map<string, string> {
  for (const [key, item] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (item === undefined) continue;
    if (item !== null && typeof item === "object" && !Array.isArray(item)) flatten(item as JsonObject, path, into);
    else into.set(path, typeof item === "string" ? item : JSON.stringify(item));
  }
  return into;
}
