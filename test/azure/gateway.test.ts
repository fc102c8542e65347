/**
 * The gateway hands every read over in ARM's wire shape (`properties` nested, REST names), whichever
 * typed client sent it and however many pages the list took: normalise reads one shape only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGateway, type ArmGateway } from "../../src/azure/gateway.js";
import { loadSettings } from "../../src/config/settings.js";
import { startLocalAzure, type LocalAzure } from "../../local-azure/src/emulator.js";

const SUBSCRIPTION = "5c1d3a9e-2b7f-4e61-9a0c-8d4f6b2e1a37";
const GROUP = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-app`;
const VM = `${GROUP}/providers/Microsoft.Compute/virtualMachines/vm-web`;
const ARC = `${GROUP}/providers/Microsoft.HybridCompute/machines/arc-db`;
const WORKSPACE = `${GROUP}/providers/Microsoft.OperationalInsights/workspaces/law`;

let azure: LocalAzure;
let gateway: ArmGateway;

const extension = (machine: string, name: string, type: string) => ({
  id: `${machine}/extensions/${name}`,
  name,
  type: machine === VM ? "Microsoft.Compute/virtualMachines/extensions" : "Microsoft.HybridCompute/machines/extensions",
  location: "eastus",
  properties: { publisher: "Contoso.Agents", type, typeHandlerVersion: "1.0", provisioningState: "Succeeded" },
});

const association = (name: string) => ({
  id: `${VM}/providers/Microsoft.Insights/dataCollectionRuleAssociations/${name}`,
  name,
  type: "Microsoft.Insights/dataCollectionRuleAssociations",
  properties: { dataCollectionRuleId: `${GROUP}/providers/Microsoft.Insights/dataCollectionRules/${name}` },
});

beforeAll(async () => {
  // Two items a page: every list below takes several pages.
  azure = await startLocalAzure({ pageSize: 2 });
  azure.load([
    { id: `/subscriptions/${SUBSCRIPTION}`, name: SUBSCRIPTION, type: "Microsoft.Resources/subscriptions", properties: {} },
    { id: GROUP, name: "rg-app", type: "Microsoft.Resources/resourceGroups", location: "eastus", properties: {} },
    {
      id: VM,
      name: "vm-web",
      type: "Microsoft.Compute/virtualMachines",
      location: "eastus",
      properties: { storageProfile: { osDisk: { osType: "Linux" } }, osProfile: { allowExtensionOperations: true }, timeCreated: "2026-11-30T01:02:03Z" },
    },
    { id: ARC, name: "arc-db", type: "Microsoft.HybridCompute/machines", location: "eastus", properties: { osName: "windows", status: "Connected" } },
    ...["a", "b", "c"].map((name) => extension(VM, name, `Type${name}`)),
    ...["d", "e", "f"].map((name) => extension(ARC, name, `Type${name}`)),
    ...["r1", "r2", "r3"].map(association),
    { id: WORKSPACE, name: "law", type: "Microsoft.OperationalInsights/workspaces", location: "eastus", properties: { customerId: "c0ffee00-0000-4000-8000-000000000001" } },
  ]);
  gateway = createGateway(loadSettings({ ARM_ENDPOINT: azure.endpoint, ARM_TOKEN: azure.token, REMEDIATION_SUBSCRIPTIONS: SUBSCRIPTION, LOG_LEVEL: "silent" }));
});

afterAll(() => azure.close());

describe("reads through typed clients come back as ARM sent them", () => {
  it("lists a VM's and an Arc machine's extensions with their own `properties.type`, every page", async () => {
    for (const [machine, types] of [[VM, ["Typea", "Typeb", "Typec"]], [ARC, ["Typed", "Typee", "Typef"]]] as const) {
      const extensions = await gateway.listExtensions(machine);
      expect(extensions.map((item) => item.properties?.["type"]).sort()).toEqual(types);
      for (const item of extensions) expect(item).not.toHaveProperty("typePropertiesType");
    }
  });

  it("lists a machine's associations with `properties.dataCollectionRuleId`, every page", async () => {
    const associations = await gateway.listAssociations(VM);
    expect(associations.map((item) => item.name).sort()).toEqual(["r1", "r2", "r3"]);
    for (const item of associations) expect(item.properties?.["dataCollectionRuleId"]).toMatch(/dataCollectionRules\//);
  });

  it("reads a VM with its instance view under `properties`, and its creation time as ARM's string", async () => {
    const vm = await gateway.getVirtualMachine(VM);
    expect(vm?.properties?.["storageProfile"]).toEqual({ osDisk: { osType: "Linux" } });
    expect(vm?.properties?.["timeCreated"]).toBe("2026-11-30T01:02:03Z");
    expect(vm?.properties?.["instanceView"]).toHaveProperty("statuses");
    expect(vm).not.toHaveProperty("storageProfile");
  });

  it("reads any resource by id, and says undefined for one that does not exist", async () => {
    expect((await gateway.getResource(WORKSPACE))?.properties?.["customerId"]).toBe("c0ffee00-0000-4000-8000-000000000001");
    expect(await gateway.getResource(`${GROUP}/providers/Microsoft.OperationalInsights/workspaces/missing`)).toBeUndefined();
    expect(await gateway.getVirtualMachine(`${GROUP}/providers/Microsoft.Compute/virtualMachines/missing`)).toBeUndefined();
  });
});
