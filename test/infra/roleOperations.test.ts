/**
 * Every action of the custom roles in infra/main.json is an operation Microsoft publishes: ARM refuses a
 * role definition with one unknown action (InvalidActionOrNotAction) and fails the whole deployment.
 * The published operations are in test/infra/data/providerOperations.json (source and date there).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { asArray, asObject, readInfraFile, resourcesOf } from "./templateLint.js";

interface ProviderOperations {
  providers: Record<string, { source: string; operations: string[] }>;
}

const published: ProviderOperations = JSON.parse(readFileSync(join(import.meta.dirname, "data/providerOperations.json"), "utf8")) as ProviderOperations;
const operations = Object.values(published.providers).flatMap((provider) => provider.operations);

/**
 * RBAC matching, case-insensitive: `*` matches any characters, and a whole `/*` segment may also stand
 * for no segment at all; Microsoft's Managed Identity Operator role grants the published
 * `userAssignedIdentities/assign/action` through `userAssignedIdentities/*\/assign/action`.
 */
function actionPattern(action: string): RegExp {
  const escaped = action.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join(".*").replace(/\/\.\*\//g, "(/.*)?/")}$`, "i");
}

/** Role actions no published operation matches. */
function unpublished(actions: readonly string[], known: readonly string[] = operations): string[] {
  return actions.filter((action) => !known.some((operation) => actionPattern(action).test(operation)));
}

const roleActions = resourcesOf(readInfraFile("main.json"))
  .filter((resource) => resource.type === "Microsoft.Authorization/roleDefinitions")
  .flatMap((role) => asArray(asObject(role.properties).permissions).flatMap((permission) => asArray(asObject(permission).actions).map(String)));

describe("custom role actions (infra/main.json)", () => {
  it("are all published provider operations", () => {
    expect(roleActions.length).toBeGreaterThan(10);
    expect(unpublished(roleActions)).toEqual([]);
  });

  it("come only from providers whose operations the data file holds", () => {
    const providers = new Set(Object.keys(published.providers).map((name) => name.toLowerCase()));
    expect(roleActions.filter((action) => !providers.has(action.split("/")[0]!.toLowerCase()))).toEqual([]);
  });

  it("include Defender's auto-provisioning read, which security.md still publishes", () => {
    expect(roleActions).toContain("Microsoft.Security/autoProvisioningSettings/read");
  });
});

describe("action matching", () => {
  it("matches exact actions case-insensitively and rejects unknown ones", () => {
    expect(unpublished(["microsoft.insights/datacollectionrules/read", "Microsoft.Security/autoProvisioningSettings/list"])).toEqual([
      "Microsoft.Security/autoProvisioningSettings/list",
    ]);
  });

  it("expands wildcards against the published operations, a /* segment standing for none too", () => {
    expect(unpublished(["Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.Compute/virtualMachines/*"])).toEqual([]);
    expect(unpublished(["Microsoft.ManagedIdentity/userAssignedIdentities/*/launch/action", "Microsoft.Nothing/*"])).toEqual([
      "Microsoft.ManagedIdentity/userAssignedIdentities/*/launch/action",
      "Microsoft.Nothing/*",
    ]);
  });
});
