import { describe, expect, it } from "vitest";
import { idKey, owningMachineId, parseResourceId } from "../../src/azure/ids.js";
import { SQL_ASSIGNMENT_NAMES, SQL_ASSIGNMENT_ROLES, SQL_INITIATIVES } from "../../src/defender/names.js";
import type { ArmResource } from "../src/arm-resource.js";
import {
  LANDING_ZONES_GROUP,
  MACHINE_STATES,
  convergedEstate,
  defaultRuleIdFor,
  demoEstate,
  generateEstate,
  generateResources,
  machineWith,
  machinesWith,
  testEstate,
  type Estate,
  type EstateMachine,
  type MachineState,
} from "../src/estate.js";
import { managementGroupId } from "../src/managementGroups.js";

/** A machine with everything that hangs off it, looked up by id (case-insensitively). */
interface MachineView {
  machine: ArmResource;
  extensions: ArmResource[];
  associations: ArmResource[];
  sqlVirtualMachine?: ArmResource;
}

function indexById(estate: Estate): Map<string, ArmResource> {
  return new Map(estate.resources.map((resource) => [idKey(resource.id), resource]));
}

function viewOf(estate: Estate, machine: EstateMachine): MachineView {
  const key = idKey(machine.id);
  const children = estate.resources.filter((resource) => resource.id !== machine.id && idKey(resource.id).startsWith(`${key}/`));
  const sqlVirtualMachine = machine.sqlVirtualMachineId ? indexById(estate).get(idKey(machine.sqlVirtualMachineId)) : undefined;
  return {
    machine: indexById(estate).get(key) as ArmResource,
    extensions: children.filter((resource) => resource.type.endsWith("/extensions")),
    associations: children.filter((resource) => resource.type === "Microsoft.Insights/dataCollectionRuleAssociations"),
    ...(sqlVirtualMachine ? { sqlVirtualMachine } : {}),
  };
}

const prop = (resource: ArmResource | undefined, path: string): unknown =>
  path.split(".").reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], resource?.properties);

function extensionOfType(view: MachineView, type: string): ArmResource | undefined {
  return view.extensions.find((extension) => String(prop(extension, "type")).toLowerCase() === type.toLowerCase());
}

const amaType = (machine: EstateMachine): string => (machine.os === "windows" ? "AzureMonitorWindowsAgent" : "AzureMonitorLinuxAgent");

function powerState(view: MachineView): string | undefined {
  const statuses = prop(view.machine, "instanceView.statuses") as { code: string }[] | undefined;
  return statuses?.find((status) => status.code.startsWith("PowerState/"))?.code;
}

/** What each state must look like on the wire, beyond its label. */
const EXPECTED: Record<MachineState, (view: MachineView, machine: EstateMachine, estate: Estate) => void> = {
  "converged": (view, machine) => {
    expect(view.machine.identity?.type).toBe("SystemAssigned");
    expect(prop(extensionOfType(view, amaType(machine)), "provisioningState")).toBe("Succeeded");
    expect(prop(extensionOfType(view, amaType(machine)), "enableAutomaticUpgrade")).toBe(true);
    expect(view.associations.map((a) => [a.name, prop(a, "dataCollectionRuleId")])).toEqual([
      ["ama-remediator", defaultRuleIdFor(machine.subscriptionId, machine.region)],
    ]);
  },
  "system-identity": (view) => {
    expect(view.machine.identity?.type).toBe("SystemAssigned");
    expect(view.machine.identity?.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(view.extensions).toEqual([]);
    expect(powerState(view)).toBe("PowerState/running");
  },
  "no-identity": (view) => expect(view.machine.identity).toBeUndefined(),
  "user-identity-only": (view) => {
    expect(view.machine.identity?.type).toBe("UserAssigned");
    expect(view.machine.identity?.principalId).toBeUndefined();
    expect(Object.keys(view.machine.identity?.userAssignedIdentities ?? {})).toHaveLength(1);
  },
  "system-and-user-identity": (view) => {
    expect(view.machine.identity?.type).toBe("SystemAssigned, UserAssigned");
    expect(Object.values(view.machine.identity?.userAssignedIdentities ?? {})[0]?.clientId).toMatch(/^[0-9a-f-]{36}$/);
  },
  "ama-conventional": (view, machine) => {
    const ama = extensionOfType(view, amaType(machine));
    expect([ama?.name, prop(ama, "provisioningState")]).toEqual([amaType(machine), "Succeeded"]);
    expect(view.associations).toEqual([]);
  },
  "ama-custom-name": (view, machine) => expect(extensionOfType(view, amaType(machine))?.name).toBe("ama-custom"),
  "ama-failed": (view, machine) => expect(prop(extensionOfType(view, amaType(machine)), "provisioningState")).toBe("Failed"),
  "mma-only": (view, machine) => {
    const legacy = extensionOfType(view, "MicrosoftMonitoringAgent") ?? extensionOfType(view, "OmsAgentForLinux");
    expect(prop(legacy, "publisher")).toBe("Microsoft.EnterpriseCloud.Monitoring");
    expect(extensionOfType(view, amaType(machine))).toBeUndefined();
  },
  "mma-and-ama": (view, machine) => {
    expect(extensionOfType(view, "MicrosoftMonitoringAgent") ?? extensionOfType(view, "OmsAgentForLinux")).toBeDefined();
    expect(extensionOfType(view, amaType(machine))).toBeDefined();
  },
  "deallocated": (view) => expect(powerState(view)).toBe("PowerState/deallocated"),
  "stopped": (view) => expect(powerState(view)).toBe("PowerState/stopped"),
  "extensions-disabled": (view) => expect(prop(view.machine, "osProfile.allowExtensionOperations")).toBe(false),
  "off-policy-image": (view) => {
    const image = prop(view.machine, "storageProfile.imageReference") as Record<string, string>;
    expect(image.id?.includes("/galleries/") || !["MicrosoftWindowsServer", "Canonical", "RedHat", "SUSE"].includes(image.publisher ?? "")).toBe(true);
  },
  "opt-out-machine": (view) => expect(view.machine.tags?.["ama-remediation"]).toBe("skip"),
  "opt-out-resource-group": (_view, machine, estate) => {
    const group = indexById(estate).get(idKey(`/subscriptions/${machine.subscriptionId}/resourceGroups/${machine.resourceGroup}`));
    expect(group?.tags?.["ama-remediation"]).toBe("skip");
  },
  "opt-out-subscription": (_view, machine, estate) => {
    expect(indexById(estate).get(idKey(`/subscriptions/${machine.subscriptionId}`))?.tags?.["ama-remediation"]).toBe("skip");
  },
  "sql-vm-windows": (view) => {
    expect(prop(extensionOfType(view, "SqlIaaSAgent"), "publisher")).toBe("Microsoft.SqlServer.Management");
    expect(prop(view.sqlVirtualMachine, "virtualMachineResourceId")).toBe(view.machine.id);
    expect(prop(view.sqlVirtualMachine, "sqlImageOffer")).toBe("SQL2022-WS2022");
  },
  "sql-vm-linux": (view) => {
    expect(extensionOfType(view, "SqlIaaSAgentLinux")).toBeDefined();
    expect(prop(view.sqlVirtualMachine, "virtualMachineResourceId")).toBe(view.machine.id);
  },
  "arc-windows-connected": (view) => expect([prop(view.machine, "osName"), prop(view.machine, "status")]).toEqual(["windows", "Connected"]),
  "arc-linux-connected": (view) => expect([prop(view.machine, "osName"), prop(view.machine, "status")]).toEqual(["linux", "Connected"]),
  "arc-windows-disconnected": (view) => expect([prop(view.machine, "osName"), prop(view.machine, "status")]).toEqual(["windows", "Disconnected"]),
  "arc-linux-disconnected": (view) => expect([prop(view.machine, "osName"), prop(view.machine, "status")]).toEqual(["linux", "Disconnected"]),
  "arc-sql": (view) => {
    expect(view.machine.identity?.type).toBe("SystemAssigned");
    expect([prop(view.machine, "mssqlDiscovered"), prop(view.machine, "detectedProperties.mssqldiscovered")]).toEqual(["true", "true"]);
  },
  "already-associated": (view, machine) => {
    expect(view.associations).toHaveLength(1);
    expect(view.associations[0]?.name).not.toBe("ama-remediator");
    expect(idKey(String(prop(view.associations[0], "dataCollectionRuleId")))).toBe(idKey(defaultRuleIdFor(machine.subscriptionId, machine.region)));
  },
  "other-association": (view) => {
    expect(view.associations).toHaveLength(1);
    expect(String(prop(view.associations[0], "dataCollectionRuleId"))).toContain("/rg-monitoring/");
  },
};

/** Structural checks every estate must pass. */
function expectWellFormed(estate: Estate): void {
  const byId = indexById(estate);
  expect(byId.size).toBe(estate.resources.length); // unique, case-insensitively
  const machineIds = new Set(estate.machines.map((machine) => idKey(machine.id)));
  for (const resource of estate.resources) {
    const parsed = parseResourceId(resource.id);
    expect(parsed.resourceType.toLowerCase(), resource.id).toBe(resource.type.toLowerCase());
    expect(parsed.name, resource.id).toBe(resource.name);
    expect(byId.has(idKey(`/subscriptions/${parsed.subscriptionId}`)), resource.id).toBe(true);
    if (parsed.resourceGroup && resource.type !== "Microsoft.Resources/resourceGroups") {
      expect(byId.has(idKey(`/subscriptions/${parsed.subscriptionId}/resourceGroups/${parsed.resourceGroup}`)), resource.id).toBe(true);
    }
    if (/\/extensions$|dataCollectionRuleAssociations$/i.test(resource.type)) {
      expect(machineIds.has(idKey(owningMachineId(parsed) ?? "")), resource.id).toBe(true);
    }
    const ruleId = prop(resource, "dataCollectionRuleId");
    if (typeof ruleId === "string") expect(byId.get(idKey(ruleId))?.type, resource.id).toBe("Microsoft.Insights/dataCollectionRules");
    const workspaceId = prop(resource, "workspaceResourceId");
    if (typeof workspaceId === "string") expect(byId.has(idKey(workspaceId)), resource.id).toBe(true);
    for (const identityId of Object.keys(resource.identity?.userAssignedIdentities ?? {})) expect(byId.has(idKey(identityId))).toBe(true);
  }
  for (const machine of estate.machines) {
    expect(byId.get(idKey(machine.id))?.location).toBe(machine.region);
    if (machine.sqlVirtualMachineId) {
      const sqlVm = byId.get(idKey(machine.sqlVirtualMachineId));
      expect(prop(sqlVm, "virtualMachineResourceId")).toBe(machine.id);
      expect(parseResourceId(machine.sqlVirtualMachineId).resourceGroup).toBe(machine.resourceGroup);
    }
  }
  expect(estate.labels.size).toBe(estate.machines.length);
  expect(estate.summary.machines).toBe(estate.machines.length);
  expect(estate.summary.resources).toBe(estate.resources.length);
  expect(Object.values(estate.summary.byState).reduce((a, b) => a + b, 0)).toBe(estate.machines.length);
}

describe("generateEstate", () => {
  it("is deterministic: same seed, same estate; another seed, another estate", () => {
    const options = { seed: 42, subscriptions: 4, machinesPerSubscription: 30 };
    expect(generateEstate(options)).toEqual(generateEstate(options));
    expect(demoEstate()).toEqual(demoEstate());
    expect(testEstate(3)).toEqual(testEstate(3));
    expect(generateEstate({ ...options, seed: 43 }).resources).not.toEqual(generateEstate(options).resources);
  });

  it("streams the same resources in the same order and returns the summary", () => {
    const options = { seed: 9, subscriptions: 5, machinesPerSubscription: 25 };
    const estate = generateEstate(options);
    const streamed: ArmResource[] = [];
    const iterator = generateResources(options);
    let step = iterator.next();
    while (!step.done) {
      streamed.push(step.value);
      step = iterator.next();
    }
    expect(streamed).toEqual(estate.resources);
    expect(step.value).toEqual(estate.summary);
  });

  it.each([
    ["demoEstate()", () => demoEstate()],
    ["testEstate(1)", () => testEstate(1)],
    ["testEstate(2)", () => testEstate(2)],
  ])("%s has every state, each looking the part on the wire", (_name, build) => {
    const estate = build();
    expectWellFormed(estate);
    for (const state of MACHINE_STATES) {
      const machines = machinesWith(estate, state);
      expect(machines.length, state).toBeGreaterThan(0);
      for (const machine of machines) EXPECTED[state](viewOf(estate, machine), machine, estate);
    }
    for (const label of ["vm", "arc", "windows", "linux", "sql"] as const) expect(machinesWith(estate, label).length, label).toBeGreaterThan(0);
  });

  it("labels machines so tests need no name matching", () => {
    const estate = demoEstate();
    expect(machineWith(estate, "deallocated").name).toBe("vm-win-deallocated");
    expect(machineWith(estate, "mma-only", "linux").name).toBe("vm-lin-oms");
    expect(machineWith(estate, "off-policy-image", "windows").name).toBe("vm-win-gallery-image");
    expect(estate.labels.get(machineWith(estate, "arc-sql").id)).toEqual(["arc-sql", "arc", "windows", "sql"]);
    expect(() => machineWith(estate, "drifted")).toThrow(/no machine labelled drifted/);
  });

  it("lays out Defender's subscription settings and default workspaces like Defender does", () => {
    const estate = demoEstate();
    const production = estate.subscriptions[0]!;
    const names = estate.resources.filter((r) => r.id.startsWith(production.id + "/")).map((r) => r.name);
    // japaneast and japanwest share EJP; westus3 is unmapped in map A, so Defender made no workspace there.
    expect(names.filter((name) => name.startsWith("DefaultWorkspace-"))).toEqual(
      ["EUS", "WEU", "EJP"].map((code) => `DefaultWorkspace-${production.subscriptionId}-${code}`),
    );
    expect(names).toContain(`SecurityCenterFree(DefaultWorkspace-${production.subscriptionId}-WEU)`);
    expect(names).not.toContain(`Security(DefaultWorkspace-${production.subscriptionId}-WEU)`);
    expect(names).not.toContain(`SecurityCenterFree(DefaultWorkspace-${production.subscriptionId}-EJP)`);
    const pricing = estate.resources.find((r) => r.id === `${production.id}/providers/Microsoft.Security/pricings/VirtualMachines`);
    expect(pricing?.properties).toEqual({ pricingTier: "Standard", subPlan: "P2" });
    const workspace = estate.resources.find((r) => r.name === `DefaultWorkspace-${production.subscriptionId}-EUS`);
    expect(workspace?.properties).toMatchObject({ sku: { name: "PerGB2018" }, retentionInDays: 30 });
    expect(estate.summary.optedOutSubscriptions).toBe(1);
  });

  it("honours a custom opt-out tag name", () => {
    const estate = testEstate(1, { optOutTag: "x-skip" });
    const optedOut = machineWith(estate, "opt-out-machine");
    expect(indexById(estate).get(idKey(optedOut.id))?.tags).toMatchObject({ "x-skip": "skip" });
    expect(JSON.stringify(estate.resources)).not.toContain('"ama-remediation"');
  });

  it("rejects options it cannot honour", () => {
    expect(() => generateEstate({ subscriptions: 1, coverAllStates: true })).toThrow(RangeError);
    expect(() => generateEstate({ drift: 0.1 })).toThrow(/converged/);
    expect(() => generateEstate({ mix: { "no-identity": 0 } })).toThrow(/positive/);
    expect(() => generateEstate({ mix: { "opt-out-subscription": 1 } as never })).toThrow(/unknown machine state/);
  });
});

describe("management groups", () => {
  it("puts the subscriptions under tenant root group → mg-landingzones, with the SQL initiative assigned there", () => {
    const options = { seed: 5, subscriptions: 2, machinesPerSubscription: 3, managementGroups: true, sqlInitiativeAtManagementGroup: true };
    const estate = generateEstate(options);
    const [root, landingZones] = estate.resources;
    const tenantId = prop(estate.resources.find((r) => r.type === "Microsoft.Resources/subscriptions"), "tenantId");
    expect(root).toMatchObject({ id: `/providers/Microsoft.Management/managementGroups/${String(tenantId)}`, properties: { displayName: "Tenant Root Group" } });
    expect(landingZones).toMatchObject({ id: managementGroupId(LANDING_ZONES_GROUP), properties: { details: { parent: { id: root?.id } } } });
    const members = estate.resources.filter((r) => r.type === "Microsoft.Management/managementGroups/subscriptions");
    expect(members.map((m) => m.id)).toEqual(estate.subscriptions.map((s) => `${landingZones?.id}/subscriptions/${s.subscriptionId}`));

    const assignment = estate.resources.find((r) => r.type === "Microsoft.Authorization/policyAssignments");
    expect(assignment).toMatchObject({
      id: `${landingZones?.id}/providers/Microsoft.Authorization/policyAssignments/${SQL_ASSIGNMENT_NAMES.amaDefaultWorkspace}`,
      identity: { type: "SystemAssigned", principalId: expect.stringMatching(/^[0-9a-f-]{36}$/) },
      properties: { policyDefinitionId: SQL_INITIATIVES.amaDefaultWorkspace, scope: landingZones?.id },
    });
    const roles = estate.resources.filter((r) => r.type === "Microsoft.Authorization/roleAssignments");
    expect(roles.map((r) => prop(r, "roleDefinitionId"))).toEqual(Object.values(SQL_ASSIGNMENT_ROLES).map((role) => `/providers/Microsoft.Authorization/roleDefinitions/${role}`));
    for (const role of roles) expect(role.properties).toMatchObject({ principalId: assignment?.identity?.principalId, scope: landingZones?.id });

    expect([...generateResources(options)]).toEqual(estate.resources);
    expect(estate.summary.resources).toBe(estate.resources.length);
  });

  it("needs the hierarchy for a group-level SQL initiative", () => {
    expect(() => generateEstate({ sqlInitiativeAtManagementGroup: true })).toThrow(RangeError);
  });
});

describe("convergedEstate", () => {
  it("puts every machine in the compliant state, with the owned rule and its workspace", () => {
    const ruleIdFor = (subscriptionId: string, region: string): string =>
      `/subscriptions/${subscriptionId}/resourceGroups/rg-ama/providers/Microsoft.Insights/dataCollectionRules/owned-${region}`;
    const estate = convergedEstate({ seed: 5, subscriptions: 3, machinesPerSubscription: 40, ruleIdFor, associationName: "mine" });
    expectWellFormed(estate);
    expect(estate.summary.byState.converged).toBe(120);
    expect(machinesWith(estate, "arc").length).toBeGreaterThan(0);
    for (const machine of estate.machines) {
      const view = viewOf(estate, machine);
      expect(view.machine.identity?.type).toBe("SystemAssigned");
      expect(prop(extensionOfType(view, amaType(machine)), "enableAutomaticUpgrade")).toBe(true);
      expect(view.associations.map((a) => [a.name, prop(a, "dataCollectionRuleId")])).toEqual([
        ["mine", ruleIdFor(machine.subscriptionId, machine.region)],
      ]);
    }
    for (const subscription of estate.subscriptions) {
      expect(subscription.autoProvision).toBe("Off");
      const solutions = estate.resources.filter((r) => r.id.startsWith(subscription.id + "/") && r.type === "Microsoft.OperationsManagement/solutions");
      const gallery = new Set(solutions.map((r) => r.plan?.product));
      expect(gallery.has("OMSGallery/SecurityCenterFree")).toBe(true);
      expect(gallery.has("OMSGallery/Security")).toBe(subscription.serversPlan === "P2");
    }
  });

  it("drifts about the requested fraction of machines into states that need work", () => {
    const estate = convergedEstate({ seed: 11, subscriptions: 20, machinesPerSubscription: 100, drift: 0.1 });
    const drifted = machinesWith(estate, "drifted");
    expect(estate.summary.drifted).toBe(drifted.length);
    expect(drifted.length).toBeGreaterThan(120);
    expect(drifted.length).toBeLessThan(280);
    expect(drifted.every((machine) => machine.state !== "converged")).toBe(true);
    expect(estate.summary.byState.converged).toBe(2000 - drifted.length);
  });
});

describe("benchmark scale", () => {
  it("generates 100,000 machines in seconds, in memory or streamed", { timeout: 120_000 }, () => {
    const options = { subscriptions: 1000, machinesPerSubscription: 100 };
    const heapBeforeInBytes = process.memoryUsage().heapUsed;
    const startedInMs = performance.now();
    const estate = generateEstate(options);
    const elapsedInMs = performance.now() - startedInMs;
    const heapGrowthInMb = (process.memoryUsage().heapUsed - heapBeforeInBytes) / 2 ** 20;
    console.log(
      `generateEstate: ${estate.summary.machines} machines, ${estate.summary.resources} resources in ${elapsedInMs.toFixed(0)} ms, heap +${heapGrowthInMb.toFixed(0)} MiB`,
    );
    expect(estate.summary.machines).toBe(100_000);
    expect(elapsedInMs).toBeLessThan(30_000);
    expect(heapGrowthInMb).toBeLessThan(2_048);

    const streamStartedInMs = performance.now();
    let count = 0;
    let peakHeapInBytes = 0;
    for (const resource of generateResources(options)) {
      count += resource.id.length > 0 ? 1 : 0;
      if (count % 20_000 === 0) peakHeapInBytes = Math.max(peakHeapInBytes, process.memoryUsage().heapUsed);
    }
    console.log(
      `generateResources: ${count} resources in ${(performance.now() - streamStartedInMs).toFixed(0)} ms, peak heap ${(peakHeapInBytes / 2 ** 20).toFixed(0)} MiB (the in-memory estate above still held)`,
    );
    expect(count).toBe(estate.summary.resources);
  });
});
