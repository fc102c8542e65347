import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { ComputeManagementClient } from "@azure/arm-compute";
import { HybridComputeManagementClient } from "@azure/arm-hybridcompute";
import { MonitorClient } from "@azure/arm-monitor";
import { ManagedServiceIdentityClient } from "@azure/arm-msi";
import { OperationalInsightsManagementClient } from "@azure/arm-operationalinsights";
import { PolicyClient } from "@azure/arm-policy";
import { ResourceGraphClient } from "@azure/arm-resourcegraph";
import { ResourceManagementClient } from "@azure/arm-resources";
import { SubscriptionClient } from "@azure/arm-resources-subscriptions";
import { SecurityCenter } from "@azure/arm-security";
import { SqlVirtualMachineManagementClient } from "@azure/arm-sqlvirtualmachine";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startLocalAzure, type LocalAzure } from "../src/emulator.js";
import { rbacActionFor } from "../src/rbac.js";
import type { ArmResource } from "../src/store.js";

const SUB = "00000000-0000-4000-8000-000000000001";
const SUB_ID = `/subscriptions/${SUB}`;
const RG = "rg-app";
const RG_ID = `${SUB_ID}/resourceGroups/${RG}`;
const vmId = (name: string): string => `${RG_ID}/providers/Microsoft.Compute/virtualMachines/${name}`;
const arcId = (name: string): string => `${RG_ID}/providers/Microsoft.HybridCompute/machines/${name}`;
const workspaceId = `${RG_ID}/providers/Microsoft.OperationalInsights/workspaces/ws1`;
const uamiId = `${RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami1`;
const POLL = { updateIntervalInMs: 1 };
const NO_RETRY = { retryOptions: { maxRetries: 0 } };

function vm(name: string, power = "running"): ArmResource {
  return {
    id: vmId(name),
    name,
    type: "Microsoft.Compute/virtualMachines",
    location: "eastus",
    properties: {
      storageProfile: { osDisk: { osType: "Windows" } },
      provisioningState: "Succeeded",
      instanceView: { statuses: [{ code: `PowerState/${power}`, displayStatus: `VM ${power}` }] },
    },
  };
}

function estate(vmCount: number): ArmResource[] {
  const vms = Array.from({ length: vmCount }, (_, i) => vm(`vm${String(i).padStart(2, "0")}`));
  return [
    { id: SUB_ID, name: SUB, type: "Microsoft.Resources/subscriptions", properties: { displayName: "Contoso", state: "Enabled", tenantId: "t1" } },
    { id: RG_ID, name: RG, type: "Microsoft.Resources/resourceGroups", location: "eastus", properties: { provisioningState: "Succeeded" } },
    ...vms,
    { id: arcId("arc-on"), name: "arc-on", type: "Microsoft.HybridCompute/machines", location: "eastus", properties: { status: "Connected", osName: "windows", mssqlDiscovered: "true" } },
    { id: arcId("arc-off"), name: "arc-off", type: "Microsoft.HybridCompute/machines", location: "eastus", properties: { status: "Disconnected", osName: "linux" } },
    { id: workspaceId, name: "ws1", type: "Microsoft.OperationalInsights/workspaces", location: "eastus", properties: { customerId: "c1", provisioningState: "Succeeded" } },
    { id: uamiId, name: "uami1", type: "Microsoft.ManagedIdentity/userAssignedIdentities", location: "eastus", properties: { principalId: "p-uami", clientId: "c-uami" } },
    { id: `${RG_ID}/providers/Microsoft.SqlVirtualMachine/sqlVirtualMachines/vm00`, name: "vm00", type: "Microsoft.SqlVirtualMachine/sqlVirtualMachines", location: "eastus", properties: { virtualMachineResourceId: vmId("vm00"), sqlImageOffer: "SQL2022-WS2022" } },
    { id: `${SUB_ID}/providers/Microsoft.Security/pricings/VirtualMachines`, name: "VirtualMachines", type: "Microsoft.Security/pricings", properties: { pricingTier: "Standard", subPlan: "P2" } },
    { id: `${SUB_ID}/providers/Microsoft.Security/pricings/SqlServerVirtualMachines`, name: "SqlServerVirtualMachines", type: "Microsoft.Security/pricings", properties: { pricingTier: "Free" } },
  ];
}

const ama = { location: "eastus", publisher: "Microsoft.Azure.Monitor", typePropertiesType: "AzureMonitorWindowsAgent", typeHandlerVersion: "1.0", autoUpgradeMinorVersion: true };

let azure: LocalAzure;
let compute: ComputeManagementClient;
const options = (): { endpoint: string } => ({ endpoint: azure.endpoint });

beforeAll(async () => {
  azure = await startLocalAzure({ pageSize: 5, throttle: { reads: false, writes: false, computeVmWrites: false, resourceGraph: false } });
  compute = new ComputeManagementClient(azure.credential, SUB, { ...options(), ...NO_RETRY });
});
afterAll(() => azure.close());
beforeEach(() => {
  azure.reset();
  azure.setFaults({});
  azure.setLro({ polls: 1 });
  azure.setThrottle({ reads: false, writes: false, computeVmWrites: false, resourceGraph: false });
  azure.load(estate(12));
});

/** The ARM error code an SDK call failed with. */
async function armCode(promise: Promise<unknown>): Promise<{ status?: number; code?: string }> {
  try {
    await promise;
  } catch (e) {
    const error = e as { statusCode?: number; code?: string; details?: { error?: { code?: string } } };
    return { status: error.statusCode, code: error.details?.error?.code ?? error.code };
  }
  throw new Error("expected the call to fail");
}

describe("virtual machines", () => {
  it("gets a VM with and without instanceView and pages listAll across pages", async () => {
    const plain = await compute.virtualMachines.get(RG, "VM03");
    expect(plain.id).toBe(vmId("vm03"));
    expect(plain.instanceView).toBeUndefined();
    azure.setPowerState(vmId("vm03"), "deallocated");
    const expanded = await compute.virtualMachines.get(RG, "vm03", { expand: "instanceView" });
    expect(expanded.instanceView?.statuses?.map((s) => s.code)).toContain("PowerState/deallocated");

    azure.resetRequests();
    const names: string[] = [];
    for await (const v of compute.virtualMachines.listAll()) names.push(v.name as string);
    expect(names).toHaveLength(12);
    expect(new Set(names).size).toBe(12);
    expect(azure.requests.map((r) => [r.kind, r.status])).toEqual([["read", 200], ["read", 200], ["read", 200]]);
    expect(azure.requests[1]?.path).toBe(`${SUB_ID}/providers/Microsoft.Compute/virtualMachines`);
  });

  it("PATCH adding SystemAssigned keeps the user-assigned identities it lists, each mapped to {} (long-running)", async () => {
    azure.load([{ ...vm("vm00"), identity: { type: "UserAssigned", userAssignedIdentities: { [uamiId]: { principalId: "p-uami", clientId: "c-uami" } } } }]);
    const updated = await compute.virtualMachines.update(RG, "vm00", { identity: { type: "SystemAssigned, UserAssigned", userAssignedIdentities: { [uamiId]: {} } } }, POLL);
    expect(updated.identity?.type).toBe("SystemAssigned, UserAssigned");
    expect(updated.identity?.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(updated.identity?.userAssignedIdentities).toEqual({ [uamiId]: { principalId: "p-uami", clientId: "c-uami" } });
    expect(updated.provisioningState).toBe("Succeeded");
    expect(azure.requests.map((r) => r.kind)).toEqual(["write", "poll", "poll", "read"]);
  });

  it("carries an etag that changes with its model, and refuses a write whose If-Match names an old one with 412 (the SDK's ifMatch)", async () => {
    const read = await compute.virtualMachines.get(RG, "vm01");
    expect(read.etag).toMatch(/^".+"$/);
    azure.setPowerState(vmId("vm01"), "deallocated");
    expect((await compute.virtualMachines.get(RG, "vm01")).etag, "a power action changes status, not the model").toBe(read.etag);
    await compute.virtualMachines.update(RG, "vm01", { tags: { owner: "someone else" } }, POLL);
    const changed = await compute.virtualMachines.get(RG, "vm01");
    expect(changed.etag).not.toBe(read.etag);
    expect(await armCode(compute.virtualMachines.update(RG, "vm01", { identity: { type: "SystemAssigned" } }, { ...POLL, ifMatch: read.etag }))).toEqual({ status: 412, code: "PreconditionFailed" });
    const updated = await compute.virtualMachines.update(RG, "vm01", { identity: { type: "SystemAssigned" } }, { ...POLL, ifMatch: changed.etag });
    expect(updated.identity?.type).toBe("SystemAssigned");
  });

  it("PATCH in the undocumented form (UserAssigned in the type, no dictionary) drops the user-assigned identities", async () => {
    azure.load([{ ...vm("vm00"), identity: { type: "UserAssigned", userAssignedIdentities: { [uamiId]: { principalId: "p-uami", clientId: "c-uami" } } } }]);
    const updated = await compute.virtualMachines.update(RG, "vm00", { identity: { type: "SystemAssigned, UserAssigned" } }, POLL);
    expect(updated.identity?.type).toBe("SystemAssigned");
    expect(updated.identity?.userAssignedIdentities).toBeUndefined();
  });
});

describe("VM extensions", () => {
  it("installs an extension through the SDK poller", async () => {
    const ext = await compute.virtualMachineExtensions.createOrUpdate(RG, "vm00", "AzureMonitorWindowsAgent", ama, POLL);
    expect(ext.provisioningState).toBe("Succeeded");
    expect(azure.get(`${vmId("vm00")}/extensions/AzureMonitorWindowsAgent`)?.properties?.provisioningState).toBe("Succeeded");
    const put = azure.requests[0];
    expect(put).toMatchObject({ method: "PUT", status: 201, kind: "write", action: "Microsoft.Compute/virtualMachines/extensions/write" });
    const list = await compute.virtualMachineExtensions.list(RG, "vm00");
    expect(list.value?.map((e) => e.name)).toEqual(["AzureMonitorWindowsAgent"]);
  });

  it("surfaces a failed extension operation as an SDK error", async () => {
    azure.setFaults({ seed: 7, lroFailureRate: 1 });
    await expect(compute.virtualMachineExtensions.createOrUpdate(RG, "vm00", "AzureMonitorWindowsAgent", ama, POLL)).rejects.toThrow();
    expect(azure.get(`${vmId("vm00")}/extensions/AzureMonitorWindowsAgent`)?.properties?.provisioningState).toBe("Failed");
  });

  it("refuses writes on a deallocated VM and while another operation runs", async () => {
    azure.setPowerState(vmId("vm01"), "deallocated");
    expect(await armCode(compute.virtualMachineExtensions.createOrUpdate(RG, "vm01", "ama", ama, POLL))).toEqual({ status: 409, code: "OperationNotAllowed" });

    // An operation that stays in progress: the client waits long between polls and is aborted below.
    const abort = new AbortController();
    const running = compute.virtualMachineExtensions.createOrUpdate(RG, "vm00", "ama", ama, { updateIntervalInMs: 60_000, abortSignal: abort.signal });
    await running.submitted();
    expect(await armCode(compute.virtualMachines.update(RG, "vm00", { identity: { type: "SystemAssigned" } }, POLL))).toEqual({ status: 409, code: "Conflict" });
    expect(await armCode(compute.virtualMachineExtensions.createOrUpdate(RG, "vm00", "other", { ...ama, typePropertiesType: "X" }, POLL))).toEqual({ status: 409, code: "Conflict" });
    abort.abort();
    await expect(running).rejects.toThrow();
  });

  it("finishes an operation its client abandoned, as ARM does: the machine is not locked for ever", async () => {
    azure.setLro({ finishUnpolledAfterMs: 50 });
    try {
      const abort = new AbortController();
      const abandoned = compute.virtualMachineExtensions.createOrUpdate(RG, "vm00", "AzureMonitorWindowsAgent", ama, { updateIntervalInMs: 60_000, abortSignal: abort.signal });
      await abandoned.submitted();
      abort.abort();
      await expect(abandoned).rejects.toThrow();
      expect(azure.get(`${vmId("vm00")}/extensions/AzureMonitorWindowsAgent`)?.properties?.provisioningState).toBe("Creating");
      await new Promise((resolve) => setTimeout(resolve, 60));
      const extension = await compute.virtualMachineExtensions.get(RG, "vm00", "AzureMonitorWindowsAgent");
      expect(extension.provisioningState).toBe("Succeeded");
      await compute.virtualMachines.update(RG, "vm00", { identity: { type: "SystemAssigned" } }, POLL);
    } finally {
      azure.setLro({ finishUnpolledAfterMs: 2_000 });
    }
  });

  it("rejects a second extension of the same publisher and type under another name", async () => {
    await compute.virtualMachineExtensions.createOrUpdate(RG, "vm00", "AzureMonitorWindowsAgent", ama, POLL);
    const again = compute.virtualMachineExtensions.createOrUpdate(RG, "vm00", "ama-2", { ...ama, publisher: "microsoft.azure.monitor" }, POLL);
    expect(await armCode(again)).toEqual({ status: 400, code: "OperationNotAllowed" });
  });

  it("throttles per-VM writes with 429 OperationNotAllowed", async () => {
    azure.setThrottle({ computeVmWrites: { capacity: 1, refillPerSecond: 0.001 } });
    await compute.virtualMachineExtensions.createOrUpdate(RG, "vm00", "a", ama, POLL);
    const second = await armCode(compute.virtualMachineExtensions.createOrUpdate(RG, "vm00", "a", ama, POLL));
    expect(second).toEqual({ status: 429, code: "OperationNotAllowed" });
  });
});

describe("Arc machines and SQL VMs", () => {
  const hybrid = (): HybridComputeManagementClient => new HybridComputeManagementClient(azure.credential, SUB, { ...options(), ...NO_RETRY });
  const arcAma = { location: "eastus", properties: { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorWindowsAgent" } };

  it("lists machines and installs an extension; a disconnected machine's operation fails", async () => {
    const machines: string[] = [];
    for await (const m of hybrid().machines.listBySubscription()) machines.push(`${m.name}:${m.properties?.status}`);
    expect(machines.sort()).toEqual(["arc-off:Disconnected", "arc-on:Connected"]);
    const ext = await hybrid().machineExtensions.beginCreateOrUpdateAndWait(RG, "arc-on", "AzureMonitorWindowsAgent", arcAma, POLL);
    expect(ext.properties?.provisioningState).toBe("Succeeded");
    await expect(hybrid().machineExtensions.beginCreateOrUpdateAndWait(RG, "arc-off", "AzureMonitorLinuxAgent", arcAma, POLL)).rejects.toThrow();
  });

  it("lists SQL virtual machines with the legacy client (baseUri)", async () => {
    const sql = new SqlVirtualMachineManagementClient(azure.credential, SUB, { baseUri: azure.endpoint });
    const page = await sql.sqlVirtualMachines.list();
    expect(page.map((s) => s.virtualMachineResourceId)).toEqual([vmId("vm00")]);
  });
});

describe("monitoring resources", () => {
  const monitor = (): MonitorClient => new MonitorClient(azure.credential, SUB, { ...options(), ...NO_RETRY });
  const dcrBody = { location: "eastus", destinations: { logAnalytics: [{ name: "la", workspaceResourceId: workspaceId }] } };

  it("creates a rule and associations, and lists them by resource and by rule", async () => {
    const rule = await monitor().dataCollectionRules.create(RG, "dcr1", { body: dcrBody });
    expect(rule.immutableId).toMatch(/^dcr-[0-9a-f]{32}$/);
    expect(rule.provisioningState).toBe("Succeeded");
    for (const name of ["vm00", "vm01"]) {
      await monitor().dataCollectionRuleAssociations.create(vmId(name).slice(1), "ama-dcra", { body: { dataCollectionRuleId: rule.id } });
    }
    const byResource = [];
    for await (const a of monitor().dataCollectionRuleAssociations.listByResource(vmId("vm00"))) byResource.push(a.dataCollectionRuleId);
    expect(byResource).toEqual([rule.id]);
    const byRule = [];
    for await (const a of monitor().dataCollectionRuleAssociations.listByRule(RG, "dcr1")) byRule.push(a.id);
    expect(byRule).toHaveLength(2);
  });

  it("rejects a rule naming a missing workspace and an association on a missing machine or rule", async () => {
    const missing = { ...dcrBody, destinations: { logAnalytics: [{ name: "la", workspaceResourceId: `${workspaceId}-gone` }] } };
    expect(await armCode(monitor().dataCollectionRules.create(RG, "bad", { body: missing }))).toEqual({ status: 400, code: "InvalidPayload" });
    expect(await armCode(monitor().dataCollectionRuleAssociations.create(vmId("nope"), "x", { body: { dataCollectionRuleId: "/x" } }))).toEqual({ status: 404, code: "ResourceNotFound" });
    const ruleId = `${RG_ID}/providers/Microsoft.Insights/dataCollectionRules/none`;
    expect(await armCode(monitor().dataCollectionRuleAssociations.create(vmId("vm00"), "x", { body: { dataCollectionRuleId: ruleId } }))).toEqual({ status: 400, code: "InvalidPayload" });
  });

  it("creates a workspace (long-running) and refuses the same name in another region", async () => {
    const logs = new OperationalInsightsManagementClient(azure.credential, SUB, { ...options(), ...NO_RETRY });
    const ws = await logs.workspaces.createOrUpdate(RG, "ws2", { location: "westeurope" }, POLL);
    expect(ws.provisioningState).toBe("Succeeded");
    expect(ws.customerId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await armCode(logs.workspaces.createOrUpdate(RG, "ws2", { location: "eastus" }, POLL))).toEqual({ status: 409, code: "InvalidResourceLocation" });
  });

  it("creates a solution with the generic resources client (Location-style polling)", async () => {
    const resources = new ResourceManagementClient(azure.credential, SUB, { ...options(), ...NO_RETRY });
    const id = `${RG_ID}/providers/Microsoft.OperationsManagement/solutions/SecurityCenterFree(ws1)`;
    const body = { location: "eastus", plan: { name: "SecurityCenterFree(ws1)", publisher: "Microsoft", product: "OMSGallery/SecurityCenterFree", promotionCode: "" }, properties: { workspaceResourceId: workspaceId } };
    const solution = await resources.resources.beginCreateOrUpdateByIdAndWait(id, "2015-11-01-preview", body, POLL);
    expect(solution.properties?.provisioningState).toBe("Succeeded");
    expect(azure.requests.map((r) => `${r.kind}:${r.status}`)).toEqual(["write:201", "poll:202", "poll:200"]);
  });
});

describe("security, policy, identity and subscriptions", () => {
  it("reads pricings and the default autoprovisioning setting", async () => {
    const security = new SecurityCenter(azure.credential, SUB, options());
    const pricings = await security.pricings.list();
    expect(pricings.value.map((p) => `${p.name}:${p.pricingTier}`)).toEqual(["VirtualMachines:Standard", "SqlServerVirtualMachines:Free"]);
    const auto = await security.autoProvisioningSettings.get("default");
    expect(auto.autoProvision).toBe("Off");
  });

  it("creates a policy assignment whose name has spaces, with a system identity", async () => {
    const policy = new PolicyClient(azure.credential, options());
    const name = "Enable SQL AMA autoprovisioning";
    const created = await policy.policyAssignments.create(SUB_ID, name, { location: "eastus", identity: { type: "SystemAssigned" }, policyDefinitionId: "/providers/Microsoft.Authorization/policySetDefinitions/d7c3ea3a" });
    expect(created.name).toBe(name);
    expect(created.identity?.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await policy.policyAssignments.get(`subscriptions/${SUB}`, name)).id).toBe(`${SUB_ID}/providers/Microsoft.Authorization/policyAssignments/${name}`);
  });

  it("answers 403 AuthorizationFailed naming the action for a forbidden scope", async () => {
    azure.setFaults({ forbidden: [{ scope: SUB_ID, actions: ["Microsoft.Authorization/roleAssignments/write"] }] });
    const authorization = new AuthorizationManagementClient(azure.credential, SUB, { ...options(), ...NO_RETRY });
    const params = { roleDefinitionId: `${SUB_ID}/providers/Microsoft.Authorization/roleDefinitions/r`, principalId: "p" };
    const failure = authorization.roleAssignments.create(SUB_ID, "8f2b4e2c-0000-4000-8000-000000000001", params);
    expect(await armCode(failure)).toEqual({ status: 403, code: "AuthorizationFailed" });
    expect(azure.requests.at(-1)?.action).toBe("Microsoft.Authorization/roleAssignments/write");
  });

  it("creates a user-assigned identity and lists subscriptions", async () => {
    const msi = new ManagedServiceIdentityClient(azure.credential, SUB, options());
    const identity = await msi.userAssignedIdentities.createOrUpdate(RG, "uami2", { location: "eastus" });
    expect(identity.principalId).toMatch(/^[0-9a-f-]{36}$/);
    const subscriptions = new SubscriptionClient(azure.credential, options());
    const all = [];
    for await (const s of subscriptions.subscriptions.list()) all.push(`${s.subscriptionId}:${s.displayName}:${s.state}`);
    expect(all).toEqual([`${SUB}:Contoso:Enabled`]);
  });
});

describe("Resource Graph", () => {
  const graph = (): ResourceGraphClient => new ResourceGraphClient(azure.credential, { ...options(), ...NO_RETRY });

  it("filters, projects, orders and pages with $skipToken", async () => {
    const query =
      "resources | where type in~ ('microsoft.compute/virtualmachines', 'microsoft.hybridcompute/machines') and not(name startswith 'vm1')" +
      " | project id, name, power = properties.extended.instanceView.powerState.code, os = tostring(properties['osName']) | order by name asc";
    azure.setPowerState(vmId("vm02"), "stopped");
    const rows: Record<string, unknown>[] = [];
    let skipToken: string | undefined;
    let pages = 0;
    do {
      const page = await graph().resources({ subscriptions: [SUB], query, options: { top: 4, skipToken, resultFormat: "objectArray" } });
      rows.push(...(page.data as Record<string, unknown>[]));
      expect(page.totalRecords).toBe(12);
      skipToken = page.skipToken;
      pages++;
    } while (skipToken);
    expect(pages).toBe(3);
    expect(rows.map((r) => r.name)).toEqual(["arc-off", "arc-on", ...Array.from({ length: 10 }, (_, i) => `vm0${i}`)]);
    expect(rows.find((r) => r.name === "vm02")?.power).toBe("PowerState/stopped");
    expect(rows.find((r) => r.name === "arc-on")).toMatchObject({ os: "windows", power: null });
  });

  it("answers 400 InvalidQuery for KQL outside the subset and serves the other tables", async () => {
    expect(await armCode(graph().resources({ query: "resources | summarize make_list(id) by type" }))).toEqual({ status: 400, code: "BadRequest" });
    const containers = await graph().resources({ subscriptions: [SUB], query: "resourcecontainers | project type, name | order by type asc" });
    expect(containers.data).toEqual([{ type: "microsoft.resources/subscriptions", name: "Contoso" }, { type: "microsoft.resources/subscriptions/resourcegroups", name: RG }]);
    const security = await graph().resources({ subscriptions: [SUB], query: "securityresources | where name == 'VirtualMachines' | project tier = properties.pricingTier" });
    expect(security.data).toEqual([{ tier: "Standard" }]);
  });

  it("enforces the per-principal quota with quota headers", async () => {
    azure.setThrottle({ resourceGraph: { queries: 2, windowSeconds: 60 } });
    await graph().resources({ query: "resources | limit 1" });
    await graph().resources({ query: "resources | limit 1" });
    expect(await armCode(graph().resources({ query: "resources | limit 1" }))).toMatchObject({ status: 429 });
  });
});

describe("ARM platform behaviour", () => {
  it("retries a throttled read inside the SDK pipeline (429 then 200)", async () => {
    azure.setThrottle({ reads: { capacity: 1, refillPerSecond: 1 } });
    const retrying = new ComputeManagementClient(azure.credential, SUB, options());
    await retrying.virtualMachines.get(RG, "vm00");
    azure.resetRequests();
    const again = await retrying.virtualMachines.get(RG, "vm00");
    expect(again.name).toBe("vm00");
    expect(azure.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it("uses ARM's not-found codes", async () => {
    expect(await armCode(compute.virtualMachines.get(RG, "nope"))).toEqual({ status: 404, code: "ResourceNotFound" });
    expect(await armCode(compute.virtualMachines.get("rg-missing", "vm00"))).toEqual({ status: 404, code: "ResourceGroupNotFound" });
    const other = new ComputeManagementClient(azure.credential, "00000000-0000-4000-8000-0000000000ff", { ...options(), ...NO_RETRY });
    expect(await armCode(other.virtualMachines.get(RG, "vm00"))).toEqual({ status: 404, code: "SubscriptionNotFound" });
    expect(await armCode(compute.virtualMachineExtensions.createOrUpdate(RG, "nope", "ama", ama, POLL))).toEqual({ status: 404, code: "ParentResourceNotFound" });
  });

  it("requires a bearer token and an api-version, and echoes correlation ids", async () => {
    const url = `${azure.endpoint}${vmId("vm00")}`;
    const anonymous = await fetch(`${url}?api-version=2026-04-01`);
    expect(anonymous.status).toBe(401);
    const noVersion = await fetch(url, { headers: { authorization: `Bearer ${azure.token}`, "x-ms-correlation-request-id": "corr-1" } });
    expect(noVersion.status).toBe(400);
    expect(((await noVersion.json()) as { error: { code: string } }).error.code).toBe("MissingApiVersionParameter");
    expect(noVersion.headers.get("x-ms-correlation-request-id")).toBe("corr-1");
    expect(noVersion.headers.get("x-ms-request-id")).toBeTruthy();
  });

  it("repeats a seeded fault run exactly", async () => {
    const run = async (): Promise<string[]> => {
      azure.setFaults({ seed: 42, serverErrorRate: 0.3, throttleRate: 0.2 });
      const outcomes: string[] = [];
      for (let i = 0; i < 15; i++) {
        outcomes.push(await compute.virtualMachines.get(RG, "vm00").then(() => "ok", (e: { statusCode?: number }) => String(e.statusCode)));
      }
      return outcomes;
    };
    const first = await run();
    expect(new Set(first).size).toBeGreaterThan(1);
    expect(await run()).toEqual(first);
  });

  it("serves the control API over HTTPS", async () => {
    const control = (path: string, body?: unknown): Promise<Response> =>
      fetch(`${azure.endpoint}/_emulator/${path}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
    await control("load", [vm("vm99")]);
    await compute.virtualMachines.get(RG, "vm99");
    expect(await (await control("stats")).json()).toMatchObject({ reads: 1, writes: 0 });
    const listed = (await (await control("resources?type=microsoft.compute/virtualmachines")).json()) as { value: unknown[] };
    expect(listed.value).toHaveLength(13);
  });

  it("maps methods and types to RBAC actions", () => {
    expect(rbacActionFor("PUT", "Microsoft.Compute/virtualMachines/extensions")).toBe("Microsoft.Compute/virtualMachines/extensions/write");
    expect(rbacActionFor("GET", "Microsoft.Resources/resourceGroups")).toBe("Microsoft.Resources/subscriptions/resourceGroups/read");
    expect(rbacActionFor("POST", "Microsoft.ResourceGraph/resources")).toBe("Microsoft.ResourceGraph/resources/read");
  });
});
