/**
 * The emulator's deny policies on the wire: which writes a built-in deny assignment refuses, at which
 * scopes, and the 403 RequestDisallowedByPolicy body ARM sends for them.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startLocalAzure, type LocalAzure } from "../src/emulator.js";
import { managementGroupId, managementGroupSubscriptionId } from "../src/managementGroups.js";
import { builtInDefinitionId } from "../src/policyDeny.js";
import type { ArmResource } from "../src/store.js";

const SUB = "00000000-0000-4000-8000-0000000000d1";
const SUB_ID = `/subscriptions/${SUB}`;
const RG_ID = `${SUB_ID}/resourceGroups/rg-app`;
const REQUIRE_TAG = "871b6d14-10aa-478d-b590-94f262ecfa99";
const REQUIRE_GROUP_TAG = "96670d01-0a4d-4649-9c89-2d3abc0a5025";
const ALLOWED_LOCATIONS = "e56962a6-4747-49cd-b67b-bf8b01975c4c";
const workspace = (name: string) => `${RG_ID}/providers/Microsoft.OperationalInsights/workspaces/${name}`;

let azure: LocalAzure;
beforeAll(async () => {
  azure = await startLocalAzure();
});
afterAll(() => azure.close());
beforeEach(() => {
  azure.reset();
  azure.load([
    { id: SUB_ID, name: SUB, type: "Microsoft.Resources/subscriptions", properties: { displayName: "Contoso", state: "Enabled" } },
    { id: RG_ID, name: "rg-app", type: "Microsoft.Resources/resourceGroups", location: "eastus" },
  ]);
});

function assignment(scope: string, name: string, definition: string, parameters: Record<string, unknown>, properties: Record<string, unknown> = {}): ArmResource {
  return {
    id: `${scope}/providers/Microsoft.Authorization/policyAssignments/${name}`,
    name,
    type: "Microsoft.Authorization/policyAssignments",
    properties: { displayName: `${name} (display)`, policyDefinitionId: builtInDefinitionId(definition), parameters: Object.fromEntries(Object.entries(parameters).map(([key, value]) => [key, { value }])), ...properties },
  };
}

async function put(id: string, body: Record<string, unknown>, apiVersion = "2022-10-01"): Promise<{ status: number; body: { error?: Record<string, unknown> } }> {
  const response = await fetch(`${azure.endpoint}${id}?api-version=${apiVersion}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${azure.token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json().catch(() => ({}))) as { error?: Record<string, unknown> } };
}

describe("a deny assignment", () => {
  it("refuses with ARM's 403 RequestDisallowedByPolicy body: target, message with policy identifiers, additionalInfo PolicyViolation", async () => {
    const requireTag = assignment(SUB_ID, "require-cc", REQUIRE_TAG, { tagName: "costCenter" });
    azure.load([requireTag]);
    const denied = await put(workspace("ws1"), { location: "eastus" });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toEqual({
      code: "RequestDisallowedByPolicy",
      target: "ws1",
      message: `Resource 'ws1' was disallowed by policy. Policy identifiers: '[{"policyAssignment":{"name":"require-cc (display)","id":"${requireTag.id}"},"policyDefinition":{"name":"Require a tag on resources","id":"/providers/Microsoft.Authorization/policyDefinitions/${REQUIRE_TAG}"}}]'.`,
      additionalInfo: [
        {
          type: "PolicyViolation",
          info: {
            policyDefinitionDisplayName: "Require a tag on resources",
            policyDefinitionId: `/providers/Microsoft.Authorization/policyDefinitions/${REQUIRE_TAG}`,
            policyDefinitionName: REQUIRE_TAG,
            policyDefinitionEffect: "Deny",
            policyAssignmentId: requireTag.id,
            policyAssignmentName: "require-cc",
            policyAssignmentDisplayName: "require-cc (display)",
            policyAssignmentScope: SUB_ID,
            policyAssignmentParameters: { tagName: { value: "costCenter" } },
          },
        },
      ],
    });
    expect(azure.get(workspace("ws1"))).toBeUndefined();
    expect(azure.requests.at(-1)).toMatchObject({ method: "PUT", status: 403, code: "RequestDisallowedByPolicy" });
  });

  it.each([
    { case: "the tag present, in any casing", definition: REQUIRE_TAG, parameters: { tagName: "costCenter" }, id: workspace("ws1"), body: { location: "eastus", tags: { COSTCENTER: "x" } }, status: 201 },
    { case: "a resource group under 'Require a tag on resources' (Indexed)", definition: REQUIRE_TAG, parameters: { tagName: "costCenter" }, id: `${SUB_ID}/resourceGroups/rg-new`, body: { location: "eastus" }, status: 201 },
    { case: "a resource group under 'Require a tag on resource groups'", definition: REQUIRE_GROUP_TAG, parameters: { tagName: "costCenter" }, id: `${SUB_ID}/resourceGroups/rg-new`, body: { location: "eastus" }, status: 403 },
    { case: "a workspace under 'Require a tag on resource groups'", definition: REQUIRE_GROUP_TAG, parameters: { tagName: "costCenter" }, id: workspace("ws1"), body: { location: "eastus" }, status: 201 },
    { case: "a location outside the allowed list", definition: ALLOWED_LOCATIONS, parameters: { listOfAllowedLocations: ["westeurope"] }, id: workspace("ws1"), body: { location: "East US" }, status: 403 },
    { case: "an allowed location, spelled differently", definition: ALLOWED_LOCATIONS, parameters: { listOfAllowedLocations: ["westeurope"] }, id: workspace("ws1"), body: { location: "West Europe" }, status: 201 },
    { case: "a resource group outside the allowed list (Indexed)", definition: ALLOWED_LOCATIONS, parameters: { listOfAllowedLocations: ["westeurope"] }, id: `${SUB_ID}/resourceGroups/rg-new`, body: { location: "eastus" }, status: 201 },
  ])("$case: $status", async ({ definition, parameters, id, body, status }) => {
    azure.load([assignment(SUB_ID, "deny", definition, parameters)]);
    expect((await put(id, body, id.includes("/providers/") ? "2022-10-01" : "2021-04-01")).status).toBe(status);
  });

  it("applies where it is assigned: its resource group, the subscriptions under its management group, not its notScopes, not when DoNotEnforce", async () => {
    const otherGroup = `${SUB_ID}/resourceGroups/rg-other`;
    azure.load([{ id: otherGroup, name: "rg-other", type: "Microsoft.Resources/resourceGroups", location: "eastus" }, assignment(otherGroup, "rg-scoped", REQUIRE_TAG, { tagName: "costCenter" })]);
    expect((await put(workspace("ws1"), { location: "eastus" })).status).toBe(201);
    expect((await put(`${otherGroup}/providers/Microsoft.OperationalInsights/workspaces/ws2`, { location: "eastus" })).status).toBe(403);

    const group = managementGroupId("landing-zones");
    azure.reset();
    azure.load([
      { id: SUB_ID, name: SUB, type: "Microsoft.Resources/subscriptions", properties: { state: "Enabled" } },
      { id: RG_ID, name: "rg-app", type: "Microsoft.Resources/resourceGroups", location: "eastus" },
      { id: group, name: "landing-zones", type: "Microsoft.Management/managementGroups", properties: {} },
      { id: managementGroupSubscriptionId("landing-zones", SUB), name: SUB, type: "Microsoft.Management/managementGroups/subscriptions", properties: {} },
      assignment(group, "mg-scoped", ALLOWED_LOCATIONS, { listOfAllowedLocations: ["westeurope"] }, { notScopes: [`${SUB_ID}/resourceGroups/rg-exempt`] }),
    ]);
    expect((await put(workspace("ws3"), { location: "eastus" })).body.error).toMatchObject({ code: "RequestDisallowedByPolicy", additionalInfo: [{ info: { policyAssignmentScope: group } }] });
    azure.load([{ id: `${SUB_ID}/resourceGroups/rg-exempt`, name: "rg-exempt", type: "Microsoft.Resources/resourceGroups", location: "eastus" }]);
    expect((await put(`${SUB_ID}/resourceGroups/rg-exempt/providers/Microsoft.OperationalInsights/workspaces/ws4`, { location: "eastus" })).status).toBe(201);

    azure.load([assignment(group, "mg-scoped", ALLOWED_LOCATIONS, { listOfAllowedLocations: ["westeurope"] }, { enforcementMode: "DoNotEnforce" })]);
    expect((await put(workspace("ws5"), { location: "eastus" })).status).toBe(201);
  });
});
