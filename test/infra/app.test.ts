import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NODE_WORKER_ARGUMENTS } from "../../infra/templates/app.js";
import { asArray, asObject, readInfraFile, resourcesOf, type JsonObject } from "./templateLint.js";

const app = readInfraFile("app.json");
const resources = resourcesOf(app);
const ofType = (type: string): JsonObject[] => resources.filter((resource) => resource.type === type);
const site = ofType("Microsoft.Web/sites")[0]!;
const siteProperties = asObject(site.properties);
const appSettings = new Map(
  asArray(asObject(siteProperties.siteConfig).appSettings).map((setting) => [String(asObject(setting).name), asObject(setting).value]),
);

/** Setting names from the settings table of docs/design.md. */
function designSettings(): string[] {
  const design = readFileSync(join(import.meta.dirname, "../../docs/design.md"), "utf8");
  return [...design.matchAll(/^\| `([A-Za-z_]+)` \|/gm)].map((match) => match[1] as string);
}

describe("app.json", () => {
  it("runs a Linux Function App on Flex Consumption with Node 22", () => {
    expect(ofType("Microsoft.Web/serverfarms")[0]).toMatchObject({ kind: "functionapp", sku: { tier: "FlexConsumption", name: "FC1" }, properties: { reserved: true } });
    expect(site.kind).toBe("functionapp,linux");
    expect(siteProperties.functionAppConfig).toMatchObject({
      runtime: { name: "node", version: "22" },
      scaleAndConcurrency: { instanceMemoryMB: 2048 },
      deployment: { storage: { type: "blobContainer", authentication: { type: "UserAssignedIdentity" } } },
    });
  });

  it("uses storage through the app's identity only", () => {
    expect(asObject(ofType("Microsoft.Storage/storageAccounts")[0]!.properties)).toMatchObject({ allowSharedKeyAccess: false, allowBlobPublicAccess: false });
    expect(appSettings.get("AzureWebJobsStorage__credential")).toBe("managedidentity");
    expect(appSettings.get("AzureWebJobsStorage__accountName")).toBe("[variables('storageAccountName')]");
    expect(appSettings.get("AzureWebJobsStorage__clientId")).toBe(appSettings.get("AZURE_CLIENT_ID"));
    expect([...appSettings.keys()].filter((name) => /ConnectionString|AccountKey/i.test(String(appSettings.get(name))) && name.startsWith("AzureWebJobs"))).toEqual([]);
    const storageRoles = ofType("Microsoft.Authorization/roleAssignments")
      .filter((assignment) => String(assignment.scope).startsWith("[format('Microsoft.Storage/storageAccounts/{0}',"))
      .map((assignment) => asObject(assignment.properties).roleDefinitionId);
    expect(storageRoles).toEqual([
      "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')]",
      "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '974c5e8b-45b9-4653-ba55-5f855dd0fb88')]",
      "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160ff3a')]",
    ]);
  });

  it("sends telemetry to workspace-based Application Insights with Entra authentication", () => {
    expect(ofType("Microsoft.Insights/components")[0]).toMatchObject({ properties: { DisableLocalAuth: true, WorkspaceResourceId: expect.any(String) as unknown } });
    expect(appSettings.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")).toMatch(/Authorization=AAD/);
  });

  it("sets every service setting of docs/design.md that is not deployment-specific", () => {
    // Deployment-specific (the endpoint, the credential and Storage come from the Function App itself),
    // or tuning knobs for tests and local runs that the app leaves at their defaults.
    const notSet = ["ARM_ENDPOINT", "ARM_TOKEN", "AzureWebJobsStorage", "ARM_POLL_INTERVAL_MS", "ARM_OPERATION_CHECK_AFTER_MS", "ARM_OPERATION_TIMEOUT_MS", "ARM_CONFLICT_RETRY_DELAY_MS", "LOG_LEVEL"];
    const expected = designSettings().filter((name) => !notSet.includes(name));
    expect(expected.length).toBeGreaterThan(5);
    for (const name of expected) expect(appSettings.has(name), name).toBe(true);
  });

  it("takes CREATED_RESOURCE_TAGS as an object parameter and hands the app its JSON", () => {
    expect(appSettings.get("CREATED_RESOURCE_TAGS")).toBe("[string(parameters('createdResourceTags'))]");
  });

  it("starts the Node.js worker with the arguments the bench runs its service processes with, none of them a heap cap", () => {
    expect(appSettings.get("languageWorkers__node__arguments")).toBe(NODE_WORKER_ARGUMENTS.join(" "));
    expect(NODE_WORKER_ARGUMENTS.filter((argument) => argument.startsWith("--max-old-space-size"))).toEqual([]);
    // V8 flags are not a stable interface: Node refuses to start on one its V8 dropped ("bad option").
    expect(spawnSync(process.execPath, [...NODE_WORKER_ARGUMENTS, "-e", ""]).status).toBe(0);
  });

  it("outputs what main.json and the deploy script need", () => {
    expect(Object.keys(asObject(app.outputs))).toEqual(
      expect.arrayContaining(["functionAppName", "functionAppId", "principalId", "eventGridFunctionResourceId"]),
    );
  });
});
