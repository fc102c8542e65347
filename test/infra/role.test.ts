import { describe, expect, it } from "vitest";
import { asArray, asObject, readInfraFile, remediatorRole, remediatorRoleActions, resourcesOf } from "./templateLint.js";

const main = readInfraFile("main.json");

describe("AMA Remediator custom role", () => {
  const actions = remediatorRoleActions(main);

  it("is a sorted list of unique actions without wildcards", () => {
    expect(actions).toEqual([...actions].sort());
    expect(new Set(actions.map((action) => action.toLowerCase())).size).toBe(actions.length);
    expect(actions.filter((action) => action.includes("*"))).toEqual([]);
    for (const action of actions) expect(action).toMatch(/^Microsoft\.[A-Za-z]+(\/[A-Za-z]+)+\/(read|write|delete|action)$/);
  });

  it("grants control-plane actions only, at the management group it is created in", () => {
    const properties = asObject(remediatorRole(main).properties);
    expect(properties.assignableScopes).toEqual(["[managementGroup().id]"]);
    expect(asArray(properties.permissions)).toHaveLength(1);
    expect(asObject(asArray(properties.permissions)[0])).toMatchObject({ notActions: [], dataActions: [], notDataActions: [] });
  });

  it("includes the operations the service's design calls for", () => {
    expect(actions).toEqual(
      expect.arrayContaining([
        "Microsoft.ResourceGraph/resources/read",
        "Microsoft.Security/pricings/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/write",
        "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
        "Microsoft.Authorization/policyAssignments/read",
        "Microsoft.Authorization/policyAssignments/write",
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Compute/virtualMachines/extensions/delete",
        "Microsoft.HybridCompute/machines/extensions/delete",
        "Microsoft.SqlVirtualMachine/sqlVirtualMachines/read",
      ]),
    );
  });

  it("is assigned at the management group to the Function App's identity", () => {
    const assignment = resourcesOf(main).find(
      (resource) =>
        resource.type === "Microsoft.Authorization/roleAssignments" &&
        String(asObject(resource.properties).roleDefinitionId).includes("variables('remediatorRoleId')"),
    );
    expect(assignment).toBeDefined();
    expect(assignment).not.toHaveProperty("scope");
    expect(asObject(assignment!.properties)).toMatchObject({
      principalId: expect.stringContaining(".outputs.principalId.value") as unknown,
      principalType: "ServicePrincipal",
    });
  });
});
