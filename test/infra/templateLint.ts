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

/** The template a policy definition's deployIfNotExists deploys (as written, escaped), if it has one. */
function policyEmbeddedTemplate(definition: JsonObject): Json | undefined {
  const rule = asObject(asObject(definition.properties).policyRule ?? {});
  const details = asObject(asObject(rule.then ?? {}).details ?? {});
  return asObject(asObject(details.deployment ?? {}).properties ?? {}).template;
}

/** The embedded templates of a template's policy definitions, as written in it (escaped). */
export function policyTemplates(template: JsonObject): { name: string; template: Json }[] {
  return resourcesOf(template)
    .filter((resource) => resource.type === "Microsoft.Authorization/policyDefinitions")
    .map((definition) => ({ name: String(definition.name), template: policyEmbeddedTemplate(definition) }))
    .filter((embedded): embedded is { name: string; template: Json } => embedded.template !== undefined);
}

/**
 * Every template in a file, with a path for messages: the root and, recursively, each nested inline
 * template and each policy's embedded template (as Azure stores it, unescaped).
 */
export function allTemplates(root: JsonObject, path = "root"): { path: string; template: JsonObject }[] {
  const inner = [
    ...nestedTemplates(root).map((nested) => ({ path: `${path} > ${nested.name}`, template: nested.template })),
    ...policyTemplates(root).map((policy) => ({ path: `${path} > policy ${policy.name}`, template: asObject(unescapeExpressions(policy.template)) })),
  ];
  return [{ path, template: root }, ...inner.flatMap((child) => allTemplates(child.template, child.path))];
}

/**
 * Strings of a policy's embedded template that ARM would evaluate while deploying the template that
 * holds the policy: every one, property names included, must be escaped (`[[`) to reach Azure Policy
 * as written.
 */
export function unescapedInPolicyTemplates(template: JsonObject): string[] {
  const unescaped: string[] = [];
  const visit = (node: Json): void => {
    if (typeof node === "string") {
      if (isExpression(node)) unescaped.push(node);
    } else if (Array.isArray(node)) node.forEach(visit);
    else if (node !== null && typeof node === "object") {
      for (const [key, inner] of Object.entries(node)) {
        if (isExpression(key)) unescaped.push(key);
        visit(inner);
      }
    }
  };
  for (const policy of policyTemplates(template)) visit(policy.template);
  return unescaped;
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

/**
 * The top-level arguments of the call whose "(" is at `open`, as written. ARM string literals are in
 * single quotes (a doubled quote inside one toggles twice, so it needs no case of its own).
 */
export function callArguments(expression: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = open + 1;
  for (let index = open; index < expression.length; index++) {
    const char = expression[index];
    if (char === "'") quoted = !quoted;
    if (quoted) continue;
    if (char === "(") depth++;
    else if (char === ")" && --depth === 0) {
      args.push(expression.slice(start, index).trim());
      return args.filter((arg) => arg !== "");
    } else if (char === "," && depth === 1) {
      args.push(expression.slice(start, index).trim());
      start = index + 1;
    }
  }
  throw new Error(`unbalanced call in ${expression}`);
}

const RESOURCE_ID_CALL = /^(resourceId|subscriptionResourceId|extensionResourceId|tenantResourceId)\(/;

/**
 * `type|segment/segment` for a resourceId-style call: the first 'Microsoft.X/y' argument is the type
 * and the arguments after it name the resource; scope arguments before it (subscription, resource
 * group, extension parent) are left out, since a template declares each name once per type.
 */
export function resourceKeyOfId(idExpression: string): string | undefined {
  if (!RESOURCE_ID_CALL.test(idExpression)) return undefined;
  const args = callArguments(idExpression, idExpression.indexOf("("));
  const typeIndex = args.findIndex((arg) => /^'Microsoft\.[^']+\/[^']+'$/.test(arg));
  if (typeIndex < 0) return undefined;
  return `${args[typeIndex]!.slice(1, -1).toLowerCase()}|${args.slice(typeIndex + 1).join("/")}`;
}

/** The same key for a declared resource, from its type and name (a literal, an expression, or format('{0}/x', ...)). */
export function resourceKeyOfDeclaration(resource: JsonObject): string {
  const name = String(resource.name);
  let segments: string[];
  if (!isExpression(name)) segments = name.split("/").map((part) => `'${part}'`);
  else if (name.startsWith("[format(")) {
    const [pattern, ...values] = callArguments(name, "[format".length);
    segments = pattern!.slice(1, -1).split("/").map((part) => {
      const placeholder = /^\{(\d+)\}$/.exec(part);
      return placeholder ? values[Number(placeholder[1])]! : `'${part}'`;
    });
  } else segments = [name.slice(1, -1)];
  return `${String(resource.type).toLowerCase()}|${segments.join("/")}`;
}

/** First arguments of every reference() call in the expressions. */
export function referenceTargets(expressions: readonly string[]): string[] {
  return expressions.flatMap((expression) =>
    [...expression.matchAll(/\breference\(/g)].map((match) => callArguments(expression, match.index + "reference".length)[0]!),
  );
}

/** dependsOn entries and reference() targets that name no resource this template declares. */
function danglingTargets(resources: readonly JsonObject[], expressions: readonly string[]): string[] {
  const declared = new Set(resources.map(resourceKeyOfDeclaration));
  const problems: string[] = [];
  for (const resource of resources) {
    for (const dependency of asArray(resource.dependsOn ?? []).map(String)) {
      const key = isExpression(dependency) ? resourceKeyOfId(dependency.slice(1, -1)) : undefined;
      if (!key || !declared.has(key)) problems.push(`${String(resource.type)} ${String(resource.name)}: dependsOn ${dependency} is not a resource of this template`);
    }
  }
  for (const target of referenceTargets(expressions)) {
    const key = resourceKeyOfId(target);
    if (!key || !declared.has(key)) problems.push(`reference(${target}) is not a resource of this template`);
  }
  return problems;
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
  problems.push(...danglingTargets(resources, expressions));
  for (const text of unescapedInPolicyTemplates(template)) problems.push(`policy template: ${text} is evaluated by this template, not by the policy; write [${text}`);

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
