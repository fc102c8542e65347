/**
 * Resource Graph's change history (resourceChanges.ts): a row in `resourcechanges` or `resourcecontainerchanges`
 * for every create, update and delete the emulator serves, in the shape azure-docs
 * articles/governance/resource-graph/how-to/get-resource-changes.md documents.
 */
import { ResourceManagementClient } from "@azure/arm-resources";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startLocalAzure, type LocalAzure } from "../src/emulator.js";
import { CHANGE_RETENTION_MS, ChangeLog, changedProperties } from "../src/resourceChanges.js";
import type { ArmResource, StoredResource } from "../src/store.js";

const SUB = "00000000-0000-4000-8000-000000000001";
const OTHER = "00000000-0000-4000-8000-000000000002";
const RG_ID = `/subscriptions/${SUB}/resourceGroups/rg-app`;
const VM_ID = `${RG_ID}/providers/Microsoft.Compute/virtualMachines/vm1`;
const IDENTITY_ID = `${RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-identity`;
const RULE_ID = `${RG_ID}/providers/Microsoft.Insights/dataCollectionRules/rule1`;
const POLL = { updateIntervalInMs: 1 };

type Row = Record<string, unknown> & { properties: Record<string, unknown> };

let azure: LocalAzure;
let arm: ResourceManagementClient;

beforeAll(async () => {
  azure = await startLocalAzure({ throttle: { reads: false, writes: false, computeVmWrites: false, resourceGraph: false } });
  arm = new ResourceManagementClient(azure.credential, { endpoint: azure.endpoint });
});
afterAll(() => azure.close());
beforeEach(() => {
  azure.reset();
  azure.load([
    { id: `/subscriptions/${SUB}`, name: SUB, type: "Microsoft.Resources/subscriptions", properties: { displayName: "one" } },
    { id: `/subscriptions/${OTHER}`, name: OTHER, type: "Microsoft.Resources/subscriptions", properties: { displayName: "two" } },
    { id: RG_ID, name: "rg-app", type: "Microsoft.Resources/resourceGroups", location: "eastus", tags: {} },
    { id: `/subscriptions/${OTHER}/resourceGroups/rg-other`, name: "rg-other", type: "Microsoft.Resources/resourceGroups", location: "eastus" },
    { id: VM_ID, name: "vm1", type: "Microsoft.Compute/virtualMachines", location: "eastus", properties: { storageProfile: { osDisk: { osType: "Linux" } } } },
    { id: RULE_ID, name: "rule1", type: "Microsoft.Insights/dataCollectionRules", location: "eastus", properties: {} },
  ]);
});

/** The table's rows (all subscriptions unless told), oldest first. */
async function changes(table: "resourcechanges" | "resourcecontainerchanges", subscriptions = [SUB, OTHER], since = new Date(0)): Promise<Row[]> {
  const query = `${table} | where todatetime(properties.changeAttributes.timestamp) >= todatetime('${since.toISOString()}') | order by todatetime(properties.changeAttributes.timestamp) asc`;
  const response = await fetch(`${azure.endpoint}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01`, {
    method: "POST",
    headers: { authorization: `Bearer ${azure.token}`, "content-type": "application/json" },
    body: JSON.stringify({ query, subscriptions }),
  });
  const body = (await response.json()) as { data?: Row[] };
  expect(response.status, JSON.stringify(body)).toBe(200);
  return body.data ?? [];
}

const summary = (rows: readonly Row[]) => rows.map((row) => `${String(row.properties["changeType"])} ${String(row.properties["targetResourceId"])}`);

describe("resourcechanges", () => {
  it("records a create, an update and a delete, in the documented shape", async () => {
    await arm.resources.beginCreateOrUpdateByIdAndWait(IDENTITY_ID, "2023-01-31", { location: "eastus" }, POLL);
    await arm.resources.beginUpdateByIdAndWait(IDENTITY_ID, "2023-01-31", { tags: { team: "blue" } }, POLL);
    await arm.resources.beginDeleteByIdAndWait(IDENTITY_ID, "2023-01-31", POLL);

    const rows = await changes("resourcechanges");
    expect(summary(rows)).toEqual([`Create ${IDENTITY_ID}`, `Update ${IDENTITY_ID}`, `Delete ${IDENTITY_ID}`]);
    const [created, updated, deleted] = rows as [Row, Row, Row];
    expect(created).toMatchObject({
      id: expect.stringMatching(new RegExp(`^${IDENTITY_ID}/providers/Microsoft\\.Resources/changes/[0-9a-f-]{36}$`)),
      type: "microsoft.resources/changes",
      subscriptionId: SUB,
      resourceGroup: "rg-app",
      properties: {
        targetResourceId: IDENTITY_ID,
        targetResourceType: "microsoft.managedidentity/userassignedidentities",
        changeType: "Create",
        changeAttributes: { changesCount: 0, operation: "Microsoft.ManagedIdentity/userAssignedIdentities/write", correlationId: expect.any(String), newResourceSnapshotId: expect.any(String) },
      },
    });
    expect(Date.parse(String((created.properties["changeAttributes"] as Record<string, unknown>)["timestamp"]))).toBeGreaterThan(Date.now() - 60_000);
    // "The changes property dictionary is only included when changeType is Update."
    expect(created.properties).not.toHaveProperty("changes");
    expect(updated.properties).toMatchObject({ changeAttributes: { changesCount: 1 }, changes: { "tags.team": { newValue: "blue" } } });
    expect(deleted.properties).toMatchObject({ changeType: "Delete", changeAttributes: { changesCount: 0, operation: "Microsoft.ManagedIdentity/userAssignedIdentities/delete" } });
    expect(deleted.properties).not.toHaveProperty("changes");
  });

  it("adds the provisioningState change when a long-running write ends, and records each child deleted with its parent", async () => {
    const extensionId = `${VM_ID}/extensions/AzureMonitorLinuxAgent`;
    await arm.resources.beginCreateOrUpdateByIdAndWait(extensionId, "2024-07-01", { location: "eastus", properties: { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorLinuxAgent" } }, POLL);
    await arm.resources.beginDeleteByIdAndWait(VM_ID, "2024-07-01", POLL);

    const rows = await changes("resourcechanges");
    expect(summary(rows)).toEqual([`Create ${extensionId}`, `Update ${extensionId}`, `Delete ${VM_ID}`, `Delete ${extensionId}`]);
    expect(rows[1]?.properties["changes"]).toEqual({ "properties.provisioningState": { previousValue: "Creating", newValue: "Succeeded" } });
  });

  it("has no history for what was loaded through the control API, and shows a subscription only its own", async () => {
    expect(await changes("resourcechanges")).toEqual([]);
    expect(await changes("resourcecontainerchanges")).toEqual([]);
    await arm.resources.beginCreateOrUpdateByIdAndWait(`/subscriptions/${OTHER}/resourceGroups/rg-other/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x`, "2023-01-31", { location: "eastus" }, POLL);
    expect(await changes("resourcechanges", [SUB])).toEqual([]);
    expect(await changes("resourcechanges", [OTHER])).toHaveLength(1);
  });

  it("answers a query for the changes at or after a time with those only", async () => {
    await arm.resources.beginCreateOrUpdateByIdAndWait(IDENTITY_ID, "2023-01-31", { location: "eastus" }, POLL);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const since = new Date();
    await arm.resources.beginUpdateByIdAndWait(IDENTITY_ID, "2023-01-31", { tags: { team: "red" } }, POLL);
    expect(summary(await changes("resourcechanges", [SUB], since))).toEqual([`Update ${IDENTITY_ID}`]);
  });
});

describe("resourcecontainerchanges and the tables with no history", () => {
  it("keeps resource group changes with the tags they touched, apart from resource changes", async () => {
    await arm.resources.beginUpdateByIdAndWait(RG_ID, "2021-04-01", { tags: { "ama-remediation": "skip" } }, POLL);
    const rows = await changes("resourcecontainerchanges");
    expect(summary(rows)).toEqual([`Update ${RG_ID}`]);
    expect(rows[0]?.properties).toMatchObject({ targetResourceType: "microsoft.resources/subscriptions/resourcegroups", changes: { "tags.ama-remediation": { newValue: "skip" } } });
    expect(await changes("resourcechanges")).toEqual([]);
  });

  it("records nothing for associations, pricings or policy assignments (no change table holds them)", async () => {
    const associationId = `${VM_ID}/providers/Microsoft.Insights/dataCollectionRuleAssociations/a1`;
    await arm.resources.beginCreateOrUpdateByIdAndWait(associationId, "2022-06-01", { properties: { dataCollectionRuleId: RULE_ID } }, POLL);
    await arm.resources.beginCreateOrUpdateByIdAndWait(`/subscriptions/${SUB}/providers/Microsoft.Security/pricings/VirtualMachines`, "2024-01-01", { properties: { pricingTier: "Standard" } }, POLL);
    await arm.resources.beginCreateOrUpdateByIdAndWait(`/subscriptions/${SUB}/providers/Microsoft.Authorization/policyAssignments/p1`, "2023-04-01", { properties: { policyDefinitionId: "/providers/Microsoft.Authorization/policyDefinitions/x" } }, POLL);
    await arm.resources.beginDeleteByIdAndWait(associationId, "2022-06-01", POLL);
    expect(await changes("resourcechanges")).toEqual([]);
    expect(await changes("resourcecontainerchanges")).toEqual([]);
  });
});

describe("ChangeLog", () => {
  const entry = (resource: ArmResource): StoredResource => ({ resource, key: resource.id.toLowerCase(), typeKey: resource.type.toLowerCase(), containerKey: RG_ID.toLowerCase(), subscriptionId: SUB, resourceGroup: "rg-app" });
  const identity = { id: IDENTITY_ID, name: "app-identity", type: "Microsoft.ManagedIdentity/userAssignedIdentities", tags: { team: "blue" } };

  it("keeps a change fourteen days, then drops it", () => {
    let now = new Date("2026-11-01T00:00:00Z");
    const log = new ChangeLog(() => now);
    log.record({ table: "resourcechanges", changeType: "Create", target: entry(identity), targetType: "microsoft.managedidentity/userassignedidentities", tenantId: "t", operation: "x/write" });
    now = new Date(now.getTime() + CHANGE_RETENTION_MS);
    expect(log.list("resourcechanges", SUB)).toHaveLength(1);
    now = new Date(now.getTime() + 1);
    expect(log.list("resourcechanges", SUB)).toHaveLength(0);
  });

  it("skips an update that changed nothing, and diffs paths: arrays whole, the VM instance view left out", () => {
    const log = new ChangeLog();
    log.record({ table: "resourcechanges", changeType: "Update", target: entry(identity), targetType: "t", tenantId: "t", operation: "x/write", before: { ...identity } });
    expect(log.list("resourcechanges", SUB)).toEqual([]);
    expect(
      changedProperties(
        { id: "a", tags: { keep: "1", gone: "2" }, properties: { list: [1, 2], instanceView: { statuses: [] }, nested: { value: 1 } } },
        { id: "a", tags: { keep: "1", added: "3" }, properties: { list: [1, 3], instanceView: { statuses: [{ code: "PowerState/stopped" }] }, nested: { value: 1 } } },
      ),
    ).toEqual({ "tags.gone": { previousValue: "2" }, "tags.added": { newValue: "3" }, "properties.list": { previousValue: "[1,2]", newValue: "[1,3]" } });
  });
});
