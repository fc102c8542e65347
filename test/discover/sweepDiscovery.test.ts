/**
 * Sweep discovery against Resource Graph as it really behaves (the emulator follows docs/azure-fidelity.md):
 * assignments inherited from management groups, tag names in any case, unordered paging, the 16 MB
 * response limit, VMs whose power state Resource Graph leaves out, and the legacy MMA switch that no
 * Resource Graph table holds. Each sweep must see what the event path sees.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGateway } from "../../src/azure/gateway.js";
import { idKey } from "../../src/azure/ids.js";
import { discoverSweep } from "../../src/discover/sweepDiscovery.js";
import { SQL_ASSIGNMENT_ROLES } from "../../src/defender/names.js";
import { roleGrantKey } from "../../src/model.js";
import type { ArmResource } from "../../local-azure/src/arm-resource.js";
import { demoEstate, generateEstate, machineWith, type Estate } from "../../local-azure/src/estate.js";
import { startEngineHarness, subscriptionNamed, type EngineHarness } from "../support/engineHarness.js";

let h: EngineHarness;

beforeAll(async () => {
  h = await startEngineHarness();
});
afterAll(() => h.close());

const sweepSnapshot = (estate: Estate) => {
  const settings = h.settings();
  return discoverSweep(createGateway(settings), settings, estate.subscriptions.map((subscription) => subscription.subscriptionId));
};

describe("assignments inherited from a management group (Enterprise-Scale landing zones)", () => {
  const estate = generateEstate({ seed: 11, subscriptions: 4, machinesPerSubscription: 12, managementGroups: true, sqlInitiativeAtManagementGroup: true });
  const sqlSubscriptions = estate.subscriptions.filter((subscription) => subscription.sqlPlan === "Standard" && !subscription.optedOut);
  const sqlMachine = estate.machines.find((machine) => machine.labels.includes("sql") && sqlSubscriptions.some((subscription) => subscription.subscriptionId === machine.subscriptionId));

  beforeAll(() => h.load(estate));

  it("the estate has SQL machines in subscriptions with Defender for SQL on (the case under test)", () => {
    expect(sqlSubscriptions.length).toBeGreaterThan(0);
    expect(sqlMachine).toBeDefined();
  });

  it("count as each subscription's own, with their role grants", async () => {
    const snapshot = await sweepSnapshot(estate);
    for (const { subscriptionId } of estate.subscriptions) {
      const subscription = snapshot.subscriptions.get(subscriptionId);
      expect(subscription?.sqlAssignments.map((assignment) => assignment.id)).toEqual([expect.stringMatching(/^\/providers\/Microsoft\.Management\/managementGroups\/mg-landingzones\//)]);
      const principalId = subscription?.sqlAssignments[0]?.principalId as string;
      for (const role of Object.values(SQL_ASSIGNMENT_ROLES)) expect(subscription?.roleGrants.has(roleGrantKey(principalId, role))).toBe(true);
    }
  });

  it("are not assigned again by a sweep, nor by an event: both paths agree", async () => {
    const sweep = await h.run({ dryRun: true });
    const event = await h.run({ resourceIds: [sqlMachine?.id as string], dryRun: true });
    for (const plan of [sweep.plan, event.plan]) expect(plan.items.filter((item) => item.action === "assignPolicy" || item.action === "assignRole")).toEqual([]);
  });
});

describe("the opt-out tag, whatever its case", () => {
  const estate = demoEstate();
  const machine = machineWith(estate, "no-identity", "linux");
  const group = estate.resources.find((resource) => idKey(resource.id) === idKey(`/subscriptions/${machine.subscriptionId}/resourceGroups/${machine.resourceGroup}`)) as ArmResource;

  beforeAll(() => h.load(estate, { ...group, tags: { ...group.tags, "AMA-Remediation": "SKIP" } }));

  it("keeps a sweep and an event out of a resource group tagged AMA-Remediation: SKIP", async () => {
    const snapshot = await sweepSnapshot(estate);
    expect(snapshot.subscriptions.get(machine.subscriptionId)?.optedOutResourceGroups.has(machine.resourceGroup.toLowerCase())).toBe(true);
    for (const request of [{}, { resourceIds: [machine.id] }]) {
      h.azure.resetRequests();
      const { report } = await h.run(request);
      expect(report.resources.find((resource) => idKey(resource.id) === idKey(machine.id))?.notes).toEqual(["resource group tagged ama-remediation: skip"]);
      expect(h.requestsUnder(machine.id).filter((entry) => entry.method !== "GET")).toEqual([]);
    }
  });
});

describe("subscriptions and paging", () => {
  it("names each subscription by its display name (the `name` column of resourcecontainers)", async () => {
    const estate = demoEstate();
    h.load(estate);
    const snapshot = await sweepSnapshot(estate);
    const production = subscriptionNamed(estate, "Contoso Production");
    expect(snapshot.subscriptions.get(production.subscriptionId)?.displayName).toBe("Contoso Production");
  });

  it("finds every machine and association exactly once across many pages, although unordered results are not repeatable", async () => {
    const estate = generateEstate({ seed: 5, subscriptions: 2, machinesPerSubscription: 900, converged: true });
    h.load(estate);
    const snapshot = await sweepSnapshot(estate);
    const ofType = (type: string) => estate.resources.filter((resource) => resource.type.toLowerCase() === type).map((resource) => idKey(resource.id));
    const associations = ofType("microsoft.insights/datacollectionruleassociations");
    expect(associations.length).toBeGreaterThan(1000);
    for (const [found, expected] of [
      [snapshot.machines.map((machine) => idKey(machine.id)), estate.machines.map((machine) => idKey(machine.id))],
      [snapshot.machines.flatMap((machine) => machine.associations.map((association) => idKey(association.id))), associations],
    ] as const) {
      expect(found.length).toBe(new Set(found).size);
      expect(new Set(found)).toEqual(new Set(expected));
    }
  });

  it("asks again with smaller pages when a page is over Resource Graph's response limit", async () => {
    const estate = generateEstate({ seed: 6, subscriptions: 1, machinesPerSubscription: 400 });
    h.load(estate);
    h.azure.setResourceGraph({ maxResponseBytes: 100_000 });
    try {
      const snapshot = await sweepSnapshot(estate);
      expect(new Set(snapshot.machines.map((machine) => idKey(machine.id)))).toEqual(new Set(estate.machines.map((machine) => idKey(machine.id))));
      expect(h.azure.requests.filter((entry) => entry.kind === "query" && entry.status === 400).length).toBeGreaterThan(0);
    } finally {
      h.azure.setResourceGraph({ maxResponseBytes: 16 * 1024 * 1024 });
    }
  });
});

describe("VMs whose power state Resource Graph does not report (properties.extended is a preview feature)", () => {
  const estate = demoEstate();
  const vms = estate.machines.filter((machine) => machine.kind === "vm");

  beforeAll(() => {
    h.load(estate);
    h.azure.setResourceGraph({ extendedProperties: false });
  });
  afterAll(() => h.azure.setResourceGraph({ extendedProperties: true }));

  it("are read directly, once each, and remediated when running; stopped ones are skipped with the reason", async () => {
    h.azure.resetRequests();
    const snapshot = await sweepSnapshot(estate);
    const directReads = h.azure.requests.filter((entry) => entry.method === "GET" && vms.some((vm) => idKey(vm.id) === idKey(entry.path)));
    expect(directReads.length).toBe(vms.length);
    expect(snapshot.machines.filter((machine) => machine.kind === "virtualMachine" && machine.power === "unknown")).toEqual([]);
    const { report } = await h.run();
    const running = machineWith(estate, "no-identity", "linux");
    expect(report.resources.find((resource) => idKey(resource.id) === idKey(running.id))?.status).toBe("remediated");
    const deallocated = machineWith(estate, "deallocated");
    expect(report.resources.find((resource) => idKey(resource.id) === idKey(deallocated.id))?.notes).toEqual([expect.stringMatching(/deallocated/)]);
  });
});
