/**
 * Security events a customer's own data collection rules already bring into Defender's workspace: a
 * sweep must not associate those machines with the service's rule as well (every event would then be
 * collected and billed twice). Only machines no rule covers get the service's rule.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { idKey } from "../../src/azure/ids.js";
import { convergedEstate, type OwnedRuleContext } from "../../local-azure/src/estate.js";
import { startEngineHarness, type EngineHarness } from "../support/engineHarness.js";

let h: EngineHarness;

beforeAll(async () => {
  h = await startEngineHarness();
});
afterAll(() => h.close());

const secopsRuleId = (subscriptionId: string, region: string) => `/subscriptions/${subscriptionId}/resourceGroups/rg-secops/providers/Microsoft.Insights/dataCollectionRules/dcr-secops-${region}`;

/** The security team's rule: their own names and filters, both OSes' security events into Defender's workspace. */
const secopsRule = (rule: OwnedRuleContext) => ({
  description: "SecOps: security events for Sentinel and Defender",
  immutableId: rule.immutableId,
  provisioningState: "Succeeded",
  dataSources: {
    windowsEventLogs: [{ name: "secops-windows", streams: ["Microsoft-SecurityEvent"], xPathQueries: ["Security!*[System[(band(Keywords,13510798882111488))]]"] }],
    syslog: [{ name: "secops-linux", streams: ["Microsoft-Syslog"], facilityNames: ["auth", "authpriv", "cron"], logLevels: ["Info", "Notice", "Warning", "Error", "Critical", "Alert", "Emergency"] }],
    performanceCounters: [{ name: "secops-perf", streams: ["Microsoft-Perf"], samplingFrequencyInSeconds: 60, counterSpecifiers: ["\\Processor(_Total)\\% Processor Time"] }],
  },
  destinations: { logAnalytics: [{ name: "defender", workspaceResourceId: rule.workspaceResourceId, workspaceId: rule.workspaceCustomerId }] },
  dataFlows: [
    { streams: ["Microsoft-SecurityEvent"], destinations: ["defender"] },
    { streams: ["Microsoft-Syslog"], destinations: ["defender"] },
    { streams: ["Microsoft-Perf"], destinations: ["defender"] },
  ],
});

describe("an estate whose machines mostly collect security events through the security team's rules", () => {
  const estate = convergedEstate({ seed: 31, subscriptions: 4, machinesPerSubscription: 20, drift: 0.1, ruleIdFor: secopsRuleId, ruleProperties: secopsRule, associationName: "secops" });
  const covered = estate.machines.filter((machine) => machine.state === "converged");
  const uncovered = estate.machines.filter((machine) => machine.state !== "converged" && !machine.state.startsWith("opt-out"));
  let first: Awaited<ReturnType<EngineHarness["run"]>>;

  beforeAll(async () => {
    h.load(estate);
    first = await h.run();
  });

  it("has both kinds of machine (the case under test)", () => {
    expect(covered.length).toBeGreaterThan(uncovered.length * 3);
    expect(uncovered.length).toBeGreaterThan(0);
  });

  it("adds no association or rule for a machine the security team's rule covers, and says which rule does", () => {
    expect(first.report.summary.failed).toBe(0);
    const writes = h.writes();
    for (const machine of covered) {
      expect(writes.filter((write) => idKey(write.split(" ")[1] as string).startsWith(idKey(machine.id))), machine.name).toEqual([]);
      const notes = first.report.resources.find((resource) => idKey(resource.id) === idKey(machine.id))?.notes ?? [];
      expect(notes, machine.name).toContain(`security events already reach the workspace through data collection rule ${secopsRuleId(machine.subscriptionId, machine.region)}: the service's own rule is not needed`);
    }
  });

  it("associates only the machines no rule covers with the service's own rule, created just for them", () => {
    const associations = h.writes().filter((write) => /\/dataCollectionRuleAssociations\//i.test(write));
    const associated = new Set(associations.map((write) => idKey((write.split(" ")[1] as string).split("/providers/Microsoft.Insights/")[0] as string)));
    expect(associated.size).toBeGreaterThan(0);
    expect([...associated].filter((id) => !uncovered.some((machine) => idKey(machine.id) === id))).toEqual([]);
    const rules = h.writes().filter((write) => /\/dataCollectionRules\/[^/]+$/i.test(write));
    const regionsNeedingIt = new Set(uncovered.map((machine) => `${machine.subscriptionId}|${machine.region}`));
    expect(rules.length).toBeLessThanOrEqual(regionsNeedingIt.size);
    expect(rules.every((write) => /\/dataCollectionRules\/ama-remediator-/i.test(write))).toBe(true);
  });

  it("a second sweep writes nothing", async () => {
    h.azure.resetRequests();
    const second = await h.run();
    expect(second.plan.items).toEqual([]);
    expect(h.azure.requestCounts()).toMatchObject({ writes: 0, deletes: 0 });
  });

  it("an event for a covered machine, before any sweep, reads the machine's rule and plans nothing either", async () => {
    h.load(estate);
    const machine = covered[0]!;
    const { plan } = await h.run({ resourceIds: [machine.id], dryRun: true });
    expect(plan.items.filter((item) => item.machineId !== undefined || /dataCollectionRules/i.test(item.targetId))).toEqual([]);
    expect(h.requestsUnder(secopsRuleId(machine.subscriptionId, machine.region)).map((entry) => entry.method)).toEqual(["GET"]);
  });
});
