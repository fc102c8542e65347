/**
 * Static checks of ARM JSON templates, used by the infra tests: what `az deployment ... validate` would
 * catch late (or not at all), checked here without Azure.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isExpression, unescapeExpressions, type Json, type JsonObject } from "../../infra/templates/arm.js";

export type { Json, JsonObject };

export const INFRA_FILES = ["main.json", "app.json", "eventgrid-subscription.json"] as const;

export function readInfraFile(file: string): JsonObject {
  return JSON.parse(readFileSync(join(import.meta.dirname, "../../infra", file), "utf8")) as JsonObject;
}

export function asObject(value: Json | undefined): JsonObject {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`not an object: ${JSON.stringify(value)}`);
  return value;
}

export function asArray(value: Json | undefined): Json[] {
  if (!Array.isArray(value)) throw new Error(`not an array: ${JSON.stringify(value)}`);
  return value;
}

/** Oldest api-version accepted per resource provider: below it the properties these templates use do not exist. */
export const API_VERSION_FLOORS: Record<string, string> = {
  "microsoft.authorization": "2022-04-01",
  "microsoft.resources": "2022-09-01",
  "microsoft.web": "2023-12-01", // functionAppConfig (Flex Consumption)
  "microsoft.storage": "2023-01-01",
  "microsoft.operationalinsights": "2022-10-01",
  "microsoft.insights": "2020-02-02", // workspace-based Application Insights
  "microsoft.managedidentity": "2023-01-31",
  "microsoft.eventgrid": "2022-06-15", // deadLetterWithResourceIdentity, system topic identities
};

/** The resources of a template, child `resources` arrays included. */
export function resourcesOf(template: JsonObject): JsonObject[] {
  const result: JsonObject[] = [];
  const visit = (resources: Json | undefined): void => {
    for (const resource of asArray(resources ?? [])) {
      const object = asObject(resource);
      result.push(object);
      if (object.resources) visit(object.resources);
    }
  };
  visit(template.resources);
  return result;
}

/** Inline templates of nested deployments (one level down). */
export function nestedTemplates(template: JsonObject): { name: string; deployment: JsonObject; template: JsonObject }[] {
  return resourcesOf(template)
    .filter((resource) => String(resource.type).toLowerCase() === "microsoft.resources/deployments")
    .map((deployment) => ({
      name: String(deployment.name),
      deployment,
      template: asObject(asObject(deployment.properties).template),
    }));
}

/** Every template in a file: the root and, recursively, each nested inline template, with a path for messages. */
export function allTemplates(root: JsonObject, path = "root"): { path: string; template: JsonObject }[] {
  return [{ path, template: root }, ...nestedTemplates(root).flatMap((nested) => allTemplates(nested.template, `${path} > ${nested.name}`))];
}

/** Strings of a value, not descending into nested deployments' inline templates (their own scope). */
export function stringsOutsideNested(value: Json): string[] {
  const strings: string[] = [];
  const visit = (node: Json, insideDeployment: boolean): void => {
    if (typeof node === "string") strings.push(node);
    else if (Array.isArray(node)) node.forEach((item) => visit(item, false));
    else if (node !== null && typeof node === "object") {
      const isDeployment = typeof node.type === "string" && node.type.toLowerCase() === "microsoft.resources/deployments";
      for (const [key, inner] of Object.entries(node)) {
        if (insideDeployment && key === "template") continue;
        // object keys can be expressions too (userAssignedIdentities)
        strings.push(key);
        visit(inner, isDeployment && key === "properties");
      }
    }
  };
  visit(value, false);
  return strings;
}

export function expressionsOf(value: Json): string[] {
  return stringsOutsideNested(value).filter(isExpression);
}

export function referencedNames(expressions: readonly string[], kind: "parameters" | "variables"): Set<string> {
  const names = new Set<string>();
  const pattern = new RegExp(`\\b${kind}\\('([^']+)'\\)`, "g");
  for (const expression of expressions) for (const match of expression.matchAll(pattern)) names.add(match[1] as string);
  return names;
}

/** Resource types named in resourceId-style calls of an expression ('Microsoft.X/y' literals). */
export function resourceTypesNamed(expression: string): string[] {
  return [...expression.matchAll(/'(Microsoft\.[A-Za-z]+\/[A-Za-z/]+)'/g)].map((match) => match[1] as string);
}

function compareDates(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Problems of one template (its own scope only; call it for each of {@link allTemplates}). */
export function lintTemplate(template: JsonObject): string[] {
  const problems: string[] = [];
  if (typeof template.$schema !== "string" || !template.$schema.startsWith("https://schema.management.azure.com/schemas/")) {
    problems.push("$schema is missing or not an ARM deployment schema");
  }
  if (template.contentVersion !== "1.0.0.0") problems.push("contentVersion must be 1.0.0.0");

  const resources = resourcesOf(template);
  for (const resource of resources) {
    const label = `${String(resource.type)} ${String(resource.name)}`;
    if (typeof resource.type !== "string" || !/^Microsoft\.[A-Za-z]+\/[A-Za-z]+(\/[A-Za-z]+)*$/.test(resource.type)) {
      problems.push(`${label}: type missing or malformed`);
      continue;
    }
    if (typeof resource.name !== "string" || resource.name === "") problems.push(`${label}: name missing`);
    const apiVersion = resource.apiVersion;
    if (typeof apiVersion !== "string" || !/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/.test(apiVersion)) {
      problems.push(`${label}: apiVersion '${String(apiVersion)}' is not a stable yyyy-mm-dd version`);
      continue;
    }
    const floor = API_VERSION_FLOORS[resource.type.split("/")[0]!.toLowerCase()];
    if (!floor) problems.push(`${label}: no api-version floor known for this provider; add one to API_VERSION_FLOORS`);
    else if (compareDates(apiVersion, floor) < 0) problems.push(`${label}: apiVersion ${apiVersion} is older than ${floor}`);
    if (resource.type === "Microsoft.Resources/deployments") {
      const scope = asObject(asObject(resource.properties).expressionEvaluationOptions ?? {}).scope;
      if (scope !== "inner") problems.push(`${label}: nested templates must use expressionEvaluationOptions.scope 'inner'`);
    }
  }
  const keys = resources.map((resource) => `${String(resource.type).toLowerCase()}|${String(resource.name)}`);
  for (const key of new Set(keys)) if (keys.filter((other) => other === key).length > 1) problems.push(`duplicate resource ${key}`);

  const expressions = expressionsOf({ resources: template.resources ?? [], variables: template.variables ?? {}, outputs: template.outputs ?? {}, parameters: template.parameters ?? {} });
  for (const kind of ["parameters", "variables"] as const) {
    const declared = new Set(Object.keys(asObject(template[kind] ?? {})));
    const used = referencedNames(expressions, kind);
    for (const name of used) if (!declared.has(name)) problems.push(`${kind}('${name}') is used but not declared`);
    for (const name of declared) if (!used.has(name)) problems.push(`${kind} '${name}' is declared but never used`);
  }

  const declaredTypes = new Set(resources.map((resource) => String(resource.type).toLowerCase()));
  for (const [name, output] of Object.entries(asObject(template.outputs ?? {}))) {
    const { type, value } = asObject(output);
    if (typeof type !== "string") problems.push(`output ${name}: type missing`);
    if (typeof value !== "string") {
      problems.push(`output ${name}: value missing`);
      continue;
    }
    for (const resourceType of resourceTypesNamed(value)) {
      if (!declaredTypes.has(resourceType.toLowerCase())) problems.push(`output ${name}: refers to ${resourceType}, which this template does not declare`);
    }
  }
  return problems;
}

/** The wiring policy definition of main.json, as Azure stores it (escaped expressions unescaped). */
export function storedPolicyDefinition(main: JsonObject): JsonObject {
  const definitions = resourcesOf(main).filter((resource) => resource.type === "Microsoft.Authorization/policyDefinitions");
  if (definitions.length !== 1) throw new Error(`expected one policy definition, found ${definitions.length}`);
  return asObject(unescapeExpressions(asObject(definitions[0]!.properties)));
}

/** The deployment the policy runs in each subscription lacking the wiring. */
export function policyDeployment(main: JsonObject): JsonObject {
  const rule = asObject(storedPolicyDefinition(main).policyRule);
  return asObject(asObject(asObject(rule.then).details).deployment);
}

/** The custom role assigned to the Function App's identity. */
export function remediatorRole(main: JsonObject): JsonObject {
  const roles = resourcesOf(main).filter(
    (resource) => resource.type === "Microsoft.Authorization/roleDefinitions" && String(asObject(resource.properties).roleName).startsWith("[format('AMA Remediator ("),
  );
  if (roles.length !== 1) throw new Error(`expected one AMA Remediator role, found ${roles.length}`);
  return roles[0]!;
}

/** The RBAC actions granted to the service (read from the deployed artifact, infra/main.json). */
export function remediatorRoleActions(main: JsonObject = readInfraFile("main.json")): string[] {
  const permissions = asArray(asObject(remediatorRole(main).properties).permissions);
  return asArray(asObject(permissions[0]).actions).map(String);
}
