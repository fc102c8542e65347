/**
 * Site properties and app settings Microsoft lists as deprecated or invalid on Flex Consumption: App
 * Service refuses a site that sets one (e.g. error 51021, "The following site configuration property
 * (Site.SiteConfig.FtpsState) for Flex Consumption sites is invalid").
 * Source: MicrosoftDocs/azure-docs, articles/azure-functions/flex-consumption-plan.md, "Deprecated
 * properties and settings" (the table now lives in functions-app-settings.md#flex-consumption-plan-deprecations);
 * read 2026-08-17. Names compare case-insensitively, as App Service does.
 */
import { describe, expect, it } from "vitest";
import { asArray, asObject, readInfraFile, resourcesOf, type JsonObject } from "./templateLint.js";

/** Paths under the site's `properties`, as the table names them (`properties.` left off). */
const FLEX_REJECTED_SITE_PROPERTIES = [
  "ftpsState",
  "use32BitWorkerProcess",
  "isReserved",
  "IsXenon",
  "windowsFxVersion",
  "alwaysOn",
  "siteConfig.preWarmedInstanceCount",
  "siteConfig.functionAppScaleLimit",
  "containerSize",
  "javaVersion",
  "powerShellVersion",
  "netFrameworkVersion",
  "LinuxFxVersion",
] as const;

const FLEX_REJECTED_APP_SETTINGS = [
  "WEBSITE_NODE_DEFAULT_VERSION",
  "FUNCTIONS_EXTENSION_VERSION",
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_WORKER_RUNTIME_VERSION",
  "FUNCTIONS_MAX_HTTP_CONCURRENCY",
  "FUNCTIONS_WORKER_PROCESS_COUNT",
  "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED",
  "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
  "WEBSITE_CONTENTSHARE",
] as const;

/**
 * The table says `properties.ftpsState` for what the REST API takes as `properties.siteConfig.ftpsState`
 * (the 51021 error names Site.SiteConfig.FtpsState), so a plain name is looked for in both places.
 */
function rejectedPropertiesOf(site: JsonObject): string[] {
  const properties = asObject(site.properties);
  const keysOf = (object: JsonObject): Map<string, string> => new Map(Object.keys(object).map((key) => [key.toLowerCase(), key]));
  const top = keysOf(properties);
  const siteConfig = keysOf(asObject(properties.siteConfig ?? {}));
  return FLEX_REJECTED_SITE_PROPERTIES.flatMap((path) => {
    const name = path.replace(/^siteConfig\./, "").toLowerCase();
    const found = path.startsWith("siteConfig.") ? [siteConfig.get(name)] : [top.get(name), siteConfig.get(name)];
    return found.filter((key): key is string => key !== undefined).map((key) => `${path} (${key})`);
  });
}

function rejectedSettingsOf(site: JsonObject): string[] {
  const rejected = new Set(FLEX_REJECTED_APP_SETTINGS.map((name) => name.toLowerCase()));
  const settings = asArray(asObject(asObject(site.properties).siteConfig ?? {}).appSettings ?? []);
  return settings.map((setting) => String(asObject(setting).name)).filter((name) => rejected.has(name.toLowerCase()));
}

const flexSites = (): JsonObject[] => {
  const app = readInfraFile("app.json");
  const resources = resourcesOf(app);
  const flexPlans = resources.filter((resource) => resource.type === "Microsoft.Web/serverfarms" && asObject(resource.sku).tier === "FlexConsumption");
  expect(flexPlans).toHaveLength(1);
  return resources.filter((resource) => resource.type === "Microsoft.Web/sites");
};

describe("Flex Consumption site (infra/app.json)", () => {
  it("sets none of the site properties Flex Consumption rejects", () => {
    for (const site of flexSites()) expect(rejectedPropertiesOf(site)).toEqual([]);
  });

  it("sets none of the app settings Flex Consumption replaced by functionAppConfig", () => {
    for (const site of flexSites()) expect(rejectedSettingsOf(site)).toEqual([]);
  });

  it("finds a rejected property wherever the site sets it, in any case", () => {
    const site = { properties: { containerSize: 1536, siteConfig: { FtpsState: "Disabled", alwaysOn: true, functionAppScaleLimit: 5 } } };
    expect(rejectedPropertiesOf(site)).toEqual([
      "ftpsState (FtpsState)",
      "alwaysOn (alwaysOn)",
      "siteConfig.functionAppScaleLimit (functionAppScaleLimit)",
      "containerSize (containerSize)",
    ]);
    expect(rejectedSettingsOf({ properties: { siteConfig: { appSettings: [{ name: "functions_worker_runtime", value: "node" }] } } })).toEqual([
      "functions_worker_runtime",
    ]);
  });
});
