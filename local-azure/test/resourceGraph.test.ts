import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { PolicyClient } from "@azure/arm-policy";
import { ResourceGraphClient } from "@azure/arm-resourcegraph";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startLocalAzure, type LocalAzure } from "../src/emulator.js";
import { LANDING_ZONES_GROUP, generateEstate } from "../src/estate.js";
import { managementGroupId } from "../src/managementGroups.js";
import type { ArmResource } from "../src/store.js";

const SUB = "00000000-0000-4000-8000-000000000001";
const SUB_ID = `/subscriptions/${SUB}`;
const RG_ID = `${SUB_ID}/resourceGroups/rg-app`;
const vmId = (name: string): string => `${RG_ID}/providers/Microsoft.Compute/virtualMachines/${name}`;
const DEFAULTS = { maxResponseBytes: 16 * 1024 * 1024, seed: 1, extendedProperties: true };

type Row = Record<string, unknown>;
interface GraphAnswer {
  status: number;
  body: { data?: Row[]; count?: number; totalRecords?: number; resultTruncated?: string; $skipToken?: string; error?: { code: string; details?: { code: string; message: string }[] } };
}

let azure: LocalAzure;

beforeAll(async () => {
  azure = await startLocalAzure({ throttle: { reads: false, writes: false, computeVmWrites: false, resourceGraph: false } });
});

afterAll(async () => {
  await azure.close();
});

beforeEach(() => {
  azure.reset();
  azure.setResourceGraph(DEFAULTS);
});

/** The wire request, so that tests see ARG's error body and `$`-named options as they travel. */
/** `subscriptions: null` sends none: the query's scope is the whole tenant. */
async function graph(query: string, options: Record<string, unknown> = {}, subscriptions: string[] | null = [SUB]): Promise<GraphAnswer> {
  const response = await fetch(`${azure.endpoint}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01`, {
    method: "POST",
    headers: { authorization: `Bearer ${azure.token}`, "content-type": "application/json" },
    body: JSON.stringify({ query, options, ...(subscriptions ? { subscriptions } : {}) }),
  });
  return { status: response.status, body: (await response.json()) as GraphAnswer["body"] };
}

async function rows(query: string, options: Record<string, unknown> = {}, subscriptions?: string[] | null): Promise<Row[]> {
  const answer = await graph(query, options, subscriptions);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body.data ?? [];
}

/** Every page of a query, following `$skipToken` with the page sizes given (the last one repeats). */
async function allPages(query: string, tops: number[]): Promise<Row[]> {
  const all: Row[] = [];
  let token: string | undefined;
  let page = 0;
  do {
    const answer = await graph(query, { $top: tops[Math.min(page++, tops.length - 1)], ...(token ? { $skipToken: token } : {}) });
    all.push(...(answer.body.data ?? []));
    token = answer.body.$skipToken;
  } while (token);
  return all;
}

function vm(name: string, extra: Partial<ArmResource> = {}): ArmResource {
  return {
    id: vmId(name),
    name,
    type: "Microsoft.Compute/virtualMachines",
    location: "eastus",
    tags: {},
    properties: { instanceView: { statuses: [{ code: "PowerState/running" }] } },
    ...extra,
  };
}

const subscription: ArmResource = { id: SUB_ID, name: SUB, type: "Microsoft.Resources/subscriptions", properties: { displayName: "Contoso", state: "Enabled" } };
const resourceGroup: ArmResource = { id: RG_ID, name: "rg-app", type: "Microsoft.Resources/resourceGroups", location: "eastus" };

/** One resource of every type the service reads, each at its usual scope. */
const everyType: ArmResource[] = [
  subscription,
  resourceGroup,
  vm("vm1"),
  { id: `${vmId("vm1")}/extensions/AzureMonitorWindowsAgent`, name: "AzureMonitorWindowsAgent", type: "Microsoft.Compute/virtualMachines/extensions" },
  { id: `${RG_ID}/providers/Microsoft.HybridCompute/machines/arc1`, name: "arc1", type: "Microsoft.HybridCompute/machines" },
  { id: `${vmId("vm1")}/providers/Microsoft.Insights/dataCollectionRuleAssociations/a1`, name: "a1", type: "Microsoft.Insights/dataCollectionRuleAssociations" },
  { id: `${RG_ID}/providers/Microsoft.Insights/dataCollectionRules/dcr1`, name: "dcr1", type: "Microsoft.Insights/dataCollectionRules" },
  { id: `${RG_ID}/providers/Microsoft.OperationalInsights/workspaces/ws1`, name: "ws1", type: "Microsoft.OperationalInsights/workspaces" },
  { id: `${RG_ID}/providers/Microsoft.OperationsManagement/solutions/Security(ws1)`, name: "Security(ws1)", type: "Microsoft.OperationsManagement/solutions" },
  { id: `${RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1`, name: "id1", type: "Microsoft.ManagedIdentity/userAssignedIdentities" },
  { id: `${RG_ID}/providers/Microsoft.SqlVirtualMachine/sqlVirtualMachines/vm1`, name: "vm1", type: "Microsoft.SqlVirtualMachine/sqlVirtualMachines" },
  { id: `${SUB_ID}/providers/Microsoft.Security/pricings/VirtualMachines`, name: "VirtualMachines", type: "Microsoft.Security/pricings" },
  { id: `${SUB_ID}/providers/Microsoft.Security/autoProvisioningSettings/default`, name: "default", type: "Microsoft.Security/autoProvisioningSettings" },
  { id: `${SUB_ID}/providers/Microsoft.Authorization/policyAssignments/pa1`, name: "pa1", type: "Microsoft.Authorization/policyAssignments" },
  { id: `${SUB_ID}/providers/Microsoft.Authorization/roleAssignments/ra1`, name: "ra1", type: "Microsoft.Authorization/roleAssignments" },
];

describe("Resource Graph tables (reference/supported-tables-resources.md)", () => {
  it.each([
    ["resources", ["microsoft.compute/virtualmachines", "microsoft.compute/virtualmachines/extensions", "microsoft.hybridcompute/machines", "microsoft.insights/datacollectionrules", "microsoft.managedidentity/userassignedidentities", "microsoft.operationalinsights/workspaces", "microsoft.operationsmanagement/solutions", "microsoft.sqlvirtualmachine/sqlvirtualmachines"]],
    ["resourcecontainers", ["microsoft.resources/subscriptions", "microsoft.resources/subscriptions/resourcegroups"]],
    ["securityresources", ["microsoft.security/pricings"]],
    ["policyresources", ["microsoft.authorization/policyassignments"]],
    ["authorizationresources", ["microsoft.authorization/roleassignments"]],
    ["insightsresources", ["microsoft.insights/datacollectionruleassociations"]],
  ])("%s holds exactly its types", async (table, types) => {
    azure.load(everyType);
    const found = await rows(`${table} | project type | order by type asc`);
    expect(found.map((r) => r.type)).toEqual(types);
  });

  it("returns nothing for a type asked of the wrong table, and autoprovisioning settings from no table", async () => {
    azure.load(everyType);
    expect(await rows("resources | where type =~ 'microsoft.security/pricings'")).toEqual([]);
    expect(await rows("securityresources | where type =~ 'microsoft.security/autoprovisioningsettings'")).toEqual([]);
    expect(await rows("resources | where type =~ 'microsoft.security/autoprovisioningsettings'")).toEqual([]);
  });
});

describe("Resource Graph values", () => {
  it("lower-cases types, keeps ids as stored and matches bag keys with their case", async () => {
    azure.load([subscription, resourceGroup, vm("VM-Mixed", { tags: { "Ama-Remediation": "skip" } })]);
    const [row] = await rows("resources | project id, type");
    expect(row).toEqual({ id: vmId("VM-Mixed"), type: "microsoft.compute/virtualmachines" });
    expect(await rows("resources | where tags['ama-remediation'] == 'skip'")).toEqual([]);
    expect(await rows("resources | where tags['Ama-Remediation'] == 'skip' | project name")).toEqual([{ name: "VM-Mixed" }]);
  });

  it("turns a bag into its JSON with tostring(), and contains/has ignore case", async () => {
    azure.load([subscription, resourceGroup, { ...resourceGroup, id: `${SUB_ID}/resourceGroups/rg-skip`, name: "rg-skip", tags: { "Ama-Remediation": "skip" } }]);
    const query = (op: string): string => `resourcecontainers | where tostring(tags) ${op} 'ama-remediation' | project name, t = tostring(tags)`;
    const expected = [{ name: "rg-skip", t: '{"Ama-Remediation":"skip"}' }];
    expect(await rows(query("contains"))).toEqual(expected);
    expect(await rows(query("has"))).toEqual(expected);
  });

  it("synthesises the VM power state, or leaves properties.extended out when the estate lacks it", async () => {
    azure.load([subscription, resourceGroup, vm("vm1")]);
    expect(await rows("resources | project p = properties.extended.instanceView.powerState.code")).toEqual([{ p: "PowerState/running" }]);
    azure.setResourceGraph({ extendedProperties: false });
    const [row] = await rows("resources | project properties");
    expect(row?.properties).toEqual({});
  });
});

describe("Resource Graph paging and limits", () => {
  const thirty = (): ArmResource[] => [subscription, resourceGroup, ...Array.from({ length: 30 }, (_, i) => vm(`vm${String(i).padStart(2, "0")}`))];

  it("pages an unordered result in a new order per page: duplicates and gaps (concepts/paging-results.md)", async () => {
    azure.load(thirty());
    const unordered = (await allPages("resources | project id", [10])).map((r) => r.id);
    expect(unordered).toHaveLength(30);
    expect(new Set(unordered).size).toBeLessThan(30);
    azure.setResourceGraph({ seed: 1 });
    expect((await allPages("resources | project id", [10])).map((r) => r.id)).toEqual(unordered);
  });

  it("pages an ordered result stably, also when $top changes between pages of one $skipToken", async () => {
    azure.load(thirty());
    const ids = (await allPages("resources | project id | order by id asc", [7, 3, 11])).map((r) => r.id);
    expect(ids).toEqual(thirty().slice(2).map((r) => r.id));
  });

  it("fails a response over the size limit with 400 ResponsePayloadTooLarge; a smaller $top then succeeds", async () => {
    azure.load(thirty());
    azure.setResourceGraph({ maxResponseBytes: 3000 });
    const tooLarge = await graph("resources | order by id asc", { $top: 30 });
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body.error?.code).toBe("BadRequest");
    expect(tooLarge.body.error?.details?.[0]?.code).toBe("ResponsePayloadTooLarge");
    expect(tooLarge.body.error?.details?.[0]?.message).toMatch(/^Response payload size is \d+, and has exceeded the limit of 3000\. /);
    expect(await allPages("resources | order by id asc", [5])).toHaveLength(30);
  });

  it("answers summarize with its first page only", async () => {
    azure.load(thirty());
    const byType = await graph("resourcecontainers | summarize count() by type", { $top: 1 });
    expect(byType.body).toMatchObject({ totalRecords: 2, count: 1, resultTruncated: "true" });
    expect(byType.body.$skipToken).toBeUndefined();
    expect(await rows("resources | summarize n = count()")).toEqual([{ n: 30 }]);
  });

  it("answers 400 InvalidQuery for KQL it parses but does not support", async () => {
    for (const query of ["resources | summarize make_list(id)", "resources | join (resourcecontainers) on subscriptionId", "resources | where strlen(name) > 1"]) {
      const answer = await graph(query);
      expect(answer.status, query).toBe(400);
      expect(answer.body.error?.details?.[0]?.code, query).toBe("InvalidQuery");
    }
  });

  it("pages through the SDK client", async () => {
    azure.load(thirty());
    const client = new ResourceGraphClient(azure.credential, { endpoint: azure.endpoint });
    const first = await client.resources({ subscriptions: [SUB], query: "resources | project id | order by id desc", options: { top: 20 } });
    const second = await client.resources({ subscriptions: [SUB], query: "resources | project id | order by id desc", options: { top: 20, skipToken: first.skipToken } });
    expect([...(first.data as Row[]), ...(second.data as Row[])].map((r) => r.id)).toEqual(thirty().slice(2).map((r) => r.id).reverse());
  });
});

describe("management groups and authorizationScopeFilter", () => {
  const estate = generateEstate({ seed: 3, subscriptions: 2, machinesPerSubscription: 1, managementGroups: true, sqlInitiativeAtManagementGroup: true });
  const [first, second] = estate.subscriptions.map((s) => s.subscriptionId) as [string, string];
  const tenantId = estate.resources.find((r) => r.type === "Microsoft.Resources/subscriptions")?.properties?.tenantId as string;
  const landingZones = managementGroupId(LANDING_ZONES_GROUP);
  const ownAssignment = (scope: string, name: string): ArmResource => ({
    id: `${scope}/providers/Microsoft.Authorization/policyAssignments/${name}`,
    name,
    type: "Microsoft.Authorization/policyAssignments",
    properties: { scope },
  });
  const firstGroup = `/subscriptions/${first}/resourceGroups/rg-own`;
  const local = [ownAssignment(`/subscriptions/${first}`, "at-sub"), { ...resourceGroup, id: firstGroup, name: "rg-own" }, ownAssignment(firstGroup, "at-rg")];
  const policyRows = (filter?: string): Promise<Row[]> =>
    rows("policyresources | project name, subscriptionId, scope = properties.scope | order by name asc", filter ? { authorizationScopeFilter: filter } : {}, [first]);

  beforeEach(() => azure.load([...estate.resources, ...local]));

  it.each([
    ["AtScopeAndBelow", undefined, ["at-rg", "at-sub"]],
    ["AtScopeExact", "AtScopeExact", ["at-sub"]],
    // Ordinal order, as Kusto sorts strings: upper case first.
    ["AtScopeAndAbove", "AtScopeAndAbove", ["Defender for SQL on SQL VMs and Arc-enabled SQL Servers", "at-sub"]],
    ["AtScopeAboveAndBelow", "AtScopeAboveAndBelow", ["Defender for SQL on SQL VMs and Arc-enabled SQL Servers", "at-rg", "at-sub"]],
  ])("policyresources for a subscription, %s", async (_name, filter, names) => {
    expect((await policyRows(filter)).map((r) => r.name)).toEqual(names);
  });

  it("gives group-level rows no subscriptionId and the group as their scope, in policy and role tables alike", async () => {
    const [atGroup] = (await policyRows("AtScopeAboveAndBelow")).filter((r) => r.scope === landingZones);
    expect(atGroup).toMatchObject({ subscriptionId: "" });
    const roles = await rows("authorizationresources | project subscriptionId, scope = properties.scope", { authorizationScopeFilter: "AtScopeAboveAndBelow" }, [second]);
    expect(roles).toHaveLength(5);
    expect(new Set(roles.map((r) => `${String(r.subscriptionId)}|${String(r.scope)}`))).toEqual(new Set([`|${landingZones}`]));
    expect(await rows("authorizationresources | project id", {}, [second])).toEqual([]);
  });

  it("lists the ancestors of a subscription nearest first, and the groups themselves at tenant scope", async () => {
    const [sub] = await rows("resourcecontainers | where type =~ 'microsoft.resources/subscriptions' | project chain = properties.managementGroupAncestorsChain", {}, [first]);
    expect(sub?.chain).toEqual([
      { name: LANDING_ZONES_GROUP, displayName: "Landing Zones" },
      { name: tenantId, displayName: "Tenant Root Group" },
    ]);
    const groups = await rows("resourcecontainers | where type =~ 'microsoft.management/managementgroups' | project name | order by name asc", {}, null);
    expect(groups.map((g) => g.name)).toEqual([LANDING_ZONES_GROUP, tenantId].sort());
  });

  it("rejects an unknown authorizationScopeFilter", async () => {
    expect((await graph("policyresources", { authorizationScopeFilter: "Everywhere" })).status).toBe(400);
  });

  it("includes inherited assignments in ARM's atScope() lists at a subscription, not in atExactScope()", async () => {
    const policy = new PolicyClient(azure.credential, first, { endpoint: azure.endpoint });
    const names = async (filter: string): Promise<string[]> => {
      const found: string[] = [];
      for await (const a of policy.policyAssignments.list({ filter })) found.push(a.name as string);
      return found.sort();
    };
    expect(await names("atScope()")).toEqual(["Defender for SQL on SQL VMs and Arc-enabled SQL Servers", "at-sub"]);
    expect(await names("atExactScope()")).toEqual(["at-sub"]);
    const authorization = new AuthorizationManagementClient(azure.credential, second, { endpoint: azure.endpoint });
    const roles = [];
    for await (const r of authorization.roleAssignments.listForSubscription({ filter: "atScope()" })) roles.push(r.scope);
    expect(roles).toEqual(Array(5).fill(landingZones));
  });
});
