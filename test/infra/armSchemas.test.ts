import { describe, expect, it } from "vitest";
import { loadSchemas, schemaTargets, validatorFor } from "./armSchemas.js";

const schemas = loadSchemas();
const targets = schemaTargets();

describe("rendered templates against Microsoft's ARM template schemas", () => {
  it("check every resource of the three templates, nested and policy-embedded ones included", () => {
    expect(new Set(targets.map((target) => target.file))).toEqual(new Set(["main.json", "app.json", "eventgrid-subscription.json"]));
    expect(targets.some((target) => target.path.includes("> policy "))).toBe(true);
  });

  it.each(targets.map((target) => [`${target.file} ${target.path}: ${target.type}@${target.apiVersion}`, target] as const))("%s matches its schema", (_label, target) => {
    const validate = validatorFor(schemas, target);
    expect(validate, "no stored schema for this type, api-version and scope").toBeDefined();
    validate!(target.resource);
    expect((validate!.errors ?? []).map((error) => `${error.instancePath} ${error.message ?? ""}`)).toEqual([]);
  });

  it("rejects a resource that breaks its schema", () => {
    const storage = targets.find((target) => target.type === "Microsoft.Storage/storageAccounts")!;
    const validate = validatorFor(schemas, storage)!;
    expect(validate({ ...storage.resource, sku: { name: "Premium_Unknown" }, properties: { minimumTlsVersion: 12 } })).toBe(false);
    expect(validate({ ...storage.resource, apiVersion: "2019-06-01" })).toBe(false);
    expect(validatorFor(schemas, { ...storage, apiVersion: "2019-06-01" })).toBeUndefined();
  });
});
