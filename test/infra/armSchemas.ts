/**
 * Validation of the rendered templates' resources against Microsoft's ARM template JSON schemas
 * (trimmed copies in test/infra/schemas, see the README there), with ajv.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import { INFRA_FILES, allTemplates, readInfraFile, resourcesOf, type JsonObject } from "./templateLint.js";

type Scope = "resourceGroup" | "subscription" | "managementGroup";
type SchemaDocument = Record<string, Record<string, { properties?: { type?: { enum?: string[] }; apiVersion?: { enum?: string[] } } }>> & {
  id?: string;
  title?: string;
  description?: string;
};

/** The section of a provider schema that holds the resources a template of each scope may declare. */
const SECTION_BY_SCOPE: Record<Scope, string> = {
  resourceGroup: "resourceDefinitions",
  subscription: "subscription_resourceDefinitions",
  managementGroup: "managementGroup_resourceDefinitions",
};

function scopeOf(template: JsonObject): Scope {
  const schema = String(template.$schema);
  if (schema.includes("managementGroupDeploymentTemplate")) return "managementGroup";
  if (schema.includes("subscriptionDeploymentTemplate")) return "subscription";
  return "resourceGroup";
}

interface SchemaTarget {
  file: string;
  path: string;
  scope: Scope;
  type: string;
  apiVersion: string;
  resource: JsonObject;
}

/** Every resource of the three rendered templates, nested and policy-embedded templates included. */
export function schemaTargets(): SchemaTarget[] {
  return INFRA_FILES.flatMap((file) =>
    allTemplates(readInfraFile(file)).flatMap(({ path, template }) =>
      resourcesOf(template).map((resource) => ({ file, path, scope: scopeOf(template), type: String(resource.type), apiVersion: String(resource.apiVersion), resource })),
    ),
  );
}

function schemaFiles(directory: string): string[] {
  return readdirSync(directory, { recursive: true, encoding: "utf8" }).filter((name) => name.endsWith(".json")).map((name) => join(directory, name));
}

/** common/definitions.json#/definitions/expression: a string ARM evaluates before it checks the value. */
const EXPRESSION = { type: "string", pattern: "^\\[([^\\[].*)?\\]$" };

/**
 * Reads a schema as ARM applies it. `oneOf` becomes `anyOf`: the schemas write "a value or an
 * expression" as oneOf, and an expression string often satisfies both branches (a plain string
 * property), which ARM accepts. String enums compare ignoring case, as ARM does (Bicep itself emits
 * `"scope": "inner"` where the schema lists `Inner`). A constrained string (a resource name's length)
 * also takes an expression: ARM checks the value the expression evaluates to.
 */
function asArmReadsIt(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asArmReadsIt);
  if (value === null || typeof value !== "object") return value;
  const schema = Object.fromEntries(
    Object.entries(value).map(([key, inner]) => {
      if (key === "oneOf") return ["anyOf", asArmReadsIt(inner)];
      if (key === "enum" && Array.isArray(inner) && inner.every((item) => typeof item === "string")) return ["enumIgnoringCase", inner];
      return [key, asArmReadsIt(inner)];
    }),
  );
  const constrained = schema.type === "string" && ["maxLength", "minLength", "pattern"].some((key) => key in schema);
  return constrained ? { anyOf: [schema, EXPRESSION] } : schema;
}

/** An ajv instance holding the stored schemas under their ids, and their documents by file. */
export function loadSchemas(directory = join(import.meta.dirname, "schemas")): { ajv: Ajv; documents: Map<string, SchemaDocument> } {
  // draft-04 schemas: ajv 8 reads them as draft-07 once `id` becomes `$id`; they use no keyword whose meaning changed
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  ajv.addKeyword({
    keyword: "enumIgnoringCase",
    type: "string",
    schemaType: "array",
    validate: (values: string[], data: string) => values.some((value) => value.toLowerCase() === data.toLowerCase()),
  });
  const documents = new Map<string, SchemaDocument>();
  for (const path of schemaFiles(directory)) {
    const { id, $schema: _draft, ...document } = JSON.parse(readFileSync(path, "utf8")) as SchemaDocument & { $schema?: string };
    ajv.addSchema({ ...(asArmReadsIt(document) as object), $id: String(id).replace(/#$/, "") });
    documents.set(relative(directory, path), { id, ...document } as SchemaDocument);
  }
  return { ajv, documents };
}

/** The validator of a resource's type and api-version at its scope, or undefined when no stored schema has it. */
export function validatorFor(schemas: ReturnType<typeof loadSchemas>, target: Pick<SchemaTarget, "scope" | "type" | "apiVersion">): ValidateFunction | undefined {
  const section = SECTION_BY_SCOPE[target.scope];
  for (const document of schemas.documents.values()) {
    for (const [name, definition] of Object.entries(document[section] ?? {})) {
      const types = (definition.properties?.type?.enum ?? []).map((type) => type.toLowerCase());
      if (types.includes(target.type.toLowerCase()) && (definition.properties?.apiVersion?.enum ?? []).includes(target.apiVersion)) {
        return schemas.ajv.compile({ $ref: `${String(document.id).replace(/#$/, "")}#/${section}/${name}` });
      }
    }
  }
  return undefined;
}
