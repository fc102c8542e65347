import { describe, expect, it } from "vitest";
import { escapeExpressions, isExpression, unescapeExpressions } from "../../infra/templates/arm.js";
import {
  INFRA_FILES,
  allTemplates,
  asObject,
  lintTemplate,
  policyDeployment,
  readInfraFile,
  referencedNames,
  resourcesOf,
  storedPolicyDefinition,
  stringsOutsideNested,
  type JsonObject,
} from "./templateLint.js";

describe.each(INFRA_FILES)("infra/%s", (file) => {
  const root = readInfraFile(file);

  it.each(allTemplates(root).map(({ path, template }) => [path, template] as const))("%s passes the template checks", (_path, template) => {
    expect(lintTemplate(template)).toEqual([]);
  });
});

describe("lintTemplate", () => {
  const minimal = (body: Partial<JsonObject>): JsonObject => ({
    $schema: "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    contentVersion: "1.0.0.0",
    parameters: {},
    variables: {},
    resources: [],
    outputs: {},
    ...body,
  });

  it("accepts a clean template", () => {
    const template = minimal({
      parameters: { name: { type: "string" } },
      resources: [{ type: "Microsoft.ManagedIdentity/userAssignedIdentities", apiVersion: "2023-01-31", name: "[parameters('name')]" }],
      outputs: { id: { type: "string", value: "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', parameters('name'))]" } },
    });
    expect(lintTemplate(template)).toEqual([]);
  });

  it("reports unused and undeclared names, old or preview api-versions, and outputs naming undeclared resources", () => {
    const template = minimal({
      parameters: { unused: { type: "string" } },
      variables: { alsoUnused: "x" },
      resources: [
        { type: "Microsoft.Storage/storageAccounts", apiVersion: "2019-06-01", name: "[parameters('missing')]" },
        { type: "Microsoft.EventGrid/systemTopics", apiVersion: "2024-06-01-preview", name: "t" },
        { type: "Microsoft.Unknown/things", apiVersion: "2024-01-01", name: "u" },
        { name: "no-type" },
      ],
      outputs: { site: { type: "string", value: "[resourceId('Microsoft.Web/sites', 'x')]" } },
    });
    expect(lintTemplate(template)).toEqual([
      "Microsoft.Storage/storageAccounts [parameters('missing')]: apiVersion 2019-06-01 is older than 2023-01-01",
      "Microsoft.EventGrid/systemTopics t: apiVersion '2024-06-01-preview' is not a stable yyyy-mm-dd version",
      "Microsoft.Unknown/things u: no api-version floor known for this provider; add one to API_VERSION_FLOORS",
      "undefined no-type: type missing or malformed",
      "parameters('missing') is used but not declared",
      "parameters 'unused' is declared but never used",
      "variables 'alsoUnused' is declared but never used",
      "output site: refers to Microsoft.Web/sites, which this template does not declare",
    ]);
  });

  it("reports dependsOn entries and reference() targets that are not resources of the template", () => {
    const template = minimal({
      parameters: { name: { type: "string" } },
      resources: [
        { type: "Microsoft.ManagedIdentity/userAssignedIdentities", apiVersion: "2023-01-31", name: "[parameters('name')]" },
        {
          type: "Microsoft.Storage/storageAccounts/blobServices",
          apiVersion: "2024-01-01",
          name: "[format('{0}/default', parameters('name'))]",
          dependsOn: ["[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', parameters('name'))]", "[resourceId('Microsoft.Storage/storageAccounts', parameters('name'))]"],
        },
      ],
      outputs: {
        ok: { type: "string", value: "[reference(resourceId('Microsoft.Storage/storageAccounts/blobServices', parameters('name'), 'default'), '2024-01-01').x]" },
        missing: { type: "string", value: "[reference(resourceId('Microsoft.Web/sites', 'x'), '2024-04-01').y]" },
      },
    });
    expect(lintTemplate(template)).toEqual([
      "Microsoft.Storage/storageAccounts/blobServices [format('{0}/default', parameters('name'))]: dependsOn [resourceId('Microsoft.Storage/storageAccounts', parameters('name'))] is not a resource of this template",
      "reference(resourceId('Microsoft.Web/sites', 'x')) is not a resource of this template",
      "output missing: refers to Microsoft.Web/sites, which this template does not declare",
    ]);
  });

  it("requires every expression of a policy's embedded template, property names included, to be escaped", () => {
    const embedded = minimal({ parameters: { id: { type: "string" } }, outputs: { id: { type: "string", value: "[[parameters('id')]" } } });
    const withKey = (key: string): JsonObject =>
      minimal({
        resources: [
          {
            type: "Microsoft.Authorization/policyDefinitions",
            apiVersion: "2025-01-01",
            name: "p",
            properties: { policyRule: { then: { details: { deployment: { properties: { template: { ...embedded, variables: { [key]: {} } } } } } } } },
          },
        ],
      });
    expect(lintTemplate(withKey("[[parameters('id')]"))).toEqual([]);
    // unescaped, the outer template evaluates it where the parameter does not exist: ARM's InvalidTemplate
    expect(lintTemplate(withKey("[parameters('id')]"))).toEqual([
      "parameters('id') is used but not declared",
      "policy template: [parameters('id')] is evaluated by this template, not by the policy; write [[parameters('id')]",
    ]);
  });

  it("requires nested templates to be evaluated in their own scope", () => {
    const template = minimal({
      resources: [{ type: "Microsoft.Resources/deployments", apiVersion: "2024-03-01", name: "n", properties: { template: minimal({}) } }],
    });
    expect(lintTemplate(template)).toContain("Microsoft.Resources/deployments n: nested templates must use expressionEvaluationOptions.scope 'inner'");
  });
});

describe("main.json policy definition", () => {
  const main = readInfraFile("main.json");
  const definition = storedPolicyDefinition(main);

  it("is a deployIfNotExists on subscriptions that deploys at subscription scope", () => {
    const rule = asObject(definition.policyRule);
    expect(rule.if).toEqual({ field: "type", equals: "Microsoft.Resources/subscriptions" });
    const details = asObject(asObject(rule.then).details);
    expect(details).toMatchObject({
      type: "Microsoft.EventGrid/systemTopics/eventSubscriptions",
      existenceScope: "ResourceGroup",
      deploymentScope: "Subscription",
    });
    expect(details.roleDefinitionIds).toContain(
      "[tenantResourceId('Microsoft.Authorization/roleDefinitions', '1e241071-0855-49ea-94dc-649edcd759de')]",
    );
    expect(asObject(definition.parameters).effect).toMatchObject({ defaultValue: "DeployIfNotExists" });
  });

  it("declares exactly the policy parameters its rule uses", () => {
    const rule = asObject(definition.policyRule);
    const deployment = policyDeployment(main);
    const properties = asObject(deployment.properties);
    // the embedded template has its own parameters; the rule's expressions are everything else
    const ruleStrings = stringsOutsideNested({ ...rule, then: { ...asObject(rule.then), details: { ...asObject(asObject(rule.then).details), deployment: { location: deployment.location ?? null, parameters: properties.parameters ?? null } } } });
    const used = referencedNames(ruleStrings.filter(isExpression), "parameters");
    expect([...used].sort()).toEqual(Object.keys(asObject(definition.parameters)).sort());
  });

  it("passes the embedded template exactly the parameters it declares", () => {
    const properties = asObject(policyDeployment(main).properties);
    const declared = Object.keys(asObject(asObject(properties.template).parameters));
    const required = Object.entries(asObject(asObject(properties.template).parameters))
      .filter(([, declaration]) => asObject(declaration).defaultValue === undefined)
      .map(([name]) => name);
    const passed = Object.keys(asObject(properties.parameters));
    expect(passed.every((name) => declared.includes(name))).toBe(true);
    expect(required.every((name) => passed.includes(name))).toBe(true);
  });

  it("escapes expressions only inside the policy rule, so ARM leaves them to Azure Policy", () => {
    const outsidePolicy = resourcesOf(main).filter((resource) => resource.type !== "Microsoft.Authorization/policyDefinitions");
    const escaped = outsidePolicy.flatMap((resource) => stringsOutsideNested(resource)).filter((value) => value.startsWith("[["));
    expect(escaped).toEqual([]);
  });

  it("is assigned at the management group with an identity that gets the roles the rule names", () => {
    const resources = resourcesOf(main);
    const assignment = resources.find((resource) => resource.type === "Microsoft.Authorization/policyAssignments");
    expect(assignment).toMatchObject({ identity: { type: "SystemAssigned" }, location: "[parameters('location')]" });
    const rule = asObject(definition.policyRule);
    const roleIds = asObject(asObject(rule.then).details).roleDefinitionIds as string[];
    const assigned = resources
      .filter((resource) => resource.type === "Microsoft.Authorization/roleAssignments")
      .map((resource) => asObject(resource.properties))
      .filter((properties) => String(properties.principalId).includes("policyAssignments"))
      .map((properties) => properties.roleDefinitionId);
    expect(assigned.sort()).toEqual([...roleIds].sort());
  });
});

describe("escapeExpressions", () => {
  it("escapes expressions in property names as well as values, and unescapeExpressions undoes it", () => {
    const value = { "[parameters('id')]": { id: "[parameters('id')]", literal: "x", list: ["[variables('v')]"] } };
    const escaped = escapeExpressions(value);
    expect(escaped).toEqual({ "[[parameters('id')]": { id: "[[parameters('id')]", literal: "x", list: ["[[variables('v')]"] } });
    expect(unescapeExpressions(escaped)).toEqual(value);
  });
});
