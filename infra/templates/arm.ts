/**
 * Small helpers for writing Azure Resource Manager JSON templates as TypeScript data.
 * The templates in this folder are the single source; `infra/build.ts` renders them to the committed
 * `infra/*.json` artifacts that `az deployment` reads.
 */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const SCHEMAS = {
  managementGroup: "https://schema.management.azure.com/schemas/2019-08-01/managementGroupDeploymentTemplate.json#",
  subscription: "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#",
  resourceGroup: "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
} as const;

/** One api-version per resource type, used by every template, so a bump happens in one place. */
export const API_VERSIONS = {
  deployments: "2024-03-01",
  resourceGroups: "2024-03-01",
  roleDefinitions: "2022-04-01",
  roleAssignments: "2022-04-01",
  policyDefinitions: "2025-01-01",
  policyAssignments: "2024-05-01",
  userAssignedIdentities: "2023-01-31",
  storage: "2024-01-01",
  workspaces: "2025-02-01",
  components: "2020-02-02",
  // 2026-03-01 is newer and adds only dynamic thresholds and simple log alerts, which the rules do not use
  scheduledQueryRules: "2023-12-01",
  actionGroups: "2023-01-01",
  workbooks: "2023-06-01",
  web: "2024-04-01",
  eventGrid: "2025-02-15",
} as const;

/** Built-in role definition ids (the same in every tenant). */
export const BUILT_IN_ROLES = {
  storageBlobDataOwner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  storageBlobDataContributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  storageQueueDataContributor: "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
  storageTableDataContributor: "0a9a7e1f-b9d0-4cc4-a60d-0319b160ff3a",
  monitoringMetricsPublisher: "3913510d-42f4-4e42-8a64-420c390055eb",
  eventGridContributor: "1e241071-0855-49ea-94dc-649edcd759de",
  managedIdentityOperator: "f1a07417-d97a-45cb-824c-7a7467783830",
  websiteContributor: "de139f84-1756-47ae-9be6-808fbbe84772",
} as const;

/** Deployment template skeleton. */
export function template(
  schema: string,
  body: { parameters?: JsonObject; variables?: JsonObject; resources: JsonObject[]; outputs?: JsonObject },
): JsonObject {
  return {
    $schema: schema,
    contentVersion: "1.0.0.0",
    parameters: body.parameters ?? {},
    variables: body.variables ?? {},
    resources: body.resources,
    outputs: body.outputs ?? {},
  };
}

/**
 * A nested deployment whose inline template is evaluated in its own ("inner") scope: the nested template
 * sees only the parameters handed to it, never the outer template's, so each template stands alone.
 */
export function nestedDeployment(options: {
  name: string;
  target?: JsonObject;
  parameters: Record<string, Json>;
  template: JsonObject;
  dependsOn?: string[];
}): JsonObject {
  const parameters: JsonObject = {};
  for (const [name, value] of Object.entries(options.parameters)) parameters[name] = { value };
  return {
    type: "Microsoft.Resources/deployments",
    apiVersion: API_VERSIONS.deployments,
    name: options.name,
    ...(options.target ?? {}),
    ...(options.dependsOn ? { dependsOn: options.dependsOn } : {}),
    properties: {
      expressionEvaluationOptions: { scope: "inner" },
      mode: "Incremental",
      parameters,
      template: options.template,
    },
  };
}

/**
 * A subscription-scope pair: the resource group named by parameter `resourceGroupName`, and a nested
 * deployment of `template` into it once it exists.
 */
export function resourceGroupWithDeployment(options: { name: string; parameters: Record<string, Json>; template: JsonObject }): JsonObject[] {
  return [
    {
      type: "Microsoft.Resources/resourceGroups",
      apiVersion: API_VERSIONS.resourceGroups,
      name: "[parameters('resourceGroupName')]",
      location: "[parameters('location')]",
      tags: { "managed-by": "ama-remediator" },
      properties: {}, // required by the resourceGroups schema, though it sets nothing
    },
    nestedDeployment({
      ...options,
      target: { resourceGroup: "[parameters('resourceGroupName')]" },
      dependsOn: ["[subscriptionResourceId('Microsoft.Resources/resourceGroups', parameters('resourceGroupName'))]"],
    }),
  ];
}

/** A string parameter, optionally with a default. */
export function stringParameter(description: string, defaultValue?: string): JsonObject {
  return { type: "string", ...(defaultValue === undefined ? {} : { defaultValue }), metadata: { description } };
}

/** `[parameters('name')]` for every declared parameter, to forward them unchanged to a nested template. */
export function forwardParameters(names: readonly string[]): Record<string, Json> {
  return Object.fromEntries(names.map((name) => [name, `[parameters('${name}')]`]));
}

/** A value that ARM evaluates when it is a string in brackets. */
export function isExpression(value: string): boolean {
  return value.startsWith("[") && !value.startsWith("[[") && value.endsWith("]");
}

/** Applies `transform` to every string of a value, property names included. */
function mapStrings(value: Json, transform: (text: string) => string): Json {
  if (typeof value === "string") return transform(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, transform));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [transform(key), mapStrings(inner, transform)]));
  }
  return value;
}

/**
 * Escapes every template expression so that ARM stores it literally instead of evaluating it while
 * deploying the enclosing template (`[x]` becomes `[[x]`). Used for the policy rule, whose expressions
 * belong to Azure Policy and to the policy's own deployment, not to main.json. Property names are
 * escaped too: ARM evaluates an expression in a name (a `userAssignedIdentities` key) like any value.
 */
export function escapeExpressions(value: Json): Json {
  return mapStrings(value, (text) => (isExpression(text) ? `[${text}` : text));
}

/** The inverse of {@link escapeExpressions}: what Azure stores after deploying an escaped value. */
export function unescapeExpressions(value: Json): Json {
  return mapStrings(value, (text) => (text.startsWith("[[") ? text.slice(1) : text));
}
