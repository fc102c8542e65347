/**
 * A burst of named machines is read a group at a time, and each group's writes start while the next group is read,
 * so the burst's reads overlap its writes. Groups never plan the same shared create twice: the next group is read
 * only once the shared writes of the one before have their results.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MACHINES_PER_GROUP, reconcile } from "../../src/engine.js";
import { createGateway } from "../../src/azure/gateway.js";
import { createLogger } from "../../src/log.js";
import { demoEstate, machineWith } from "../../local-azure/src/estate.js";
import { startEngineHarness, type EngineHarness } from "../support/engineHarness.js";
import { newVirtualMachine } from "../service/harness.js";

let h: EngineHarness;
const estate = demoEstate();

beforeAll(async () => {
  h = await startEngineHarness();
});
afterAll(() => h.close());

describe("a burst of more machines than one group", () => {
  it("creates the region's missing workspace and rule once, remediates every machine, and starts writing before the last group is read", async () => {
    h.load(estate);
    // ARM's buckets refill 20 times as fast: the quota's pace is not what this test is about.
    h.azure.setThrottle({ timeScale: 20, resourceGraph: { queries: 200, windowSeconds: 5 } });
    const template = machineWith(estate, "no-identity", "windows");
    const subscriptionId = template.subscriptionId;
    // The subscription has lost Defender's workspaces and every data collection rule: the first group must create them.
    const shared = h.azure.list((resource) => resource.id.toLowerCase().startsWith(`/subscriptions/${subscriptionId}/`) && /^microsoft\.(operationalinsights\/workspaces|insights\/datacollectionrules|operationsmanagement\/solutions)$/i.test(resource.type));
    for (const resource of shared) h.azure.remove(resource.id);
    const count = 2 * MACHINES_PER_GROUP + 17;
    const created = Array.from({ length: count }, (_, n) => newVirtualMachine(h.azure, template, `vm-group-${n}`));

    const { report, sent } = await h.run({ resourceIds: created });

    const machines = report.resources.filter((resource) => resource.kind !== "shared");
    expect(machines.map((resource) => resource.status)).toEqual(Array(count).fill("remediated"));
    const creates = sent.filter((write) => !created.some((id) => write.targetId.toLowerCase().startsWith(id.toLowerCase())));
    const targets = creates.map((write) => write.targetId.toLowerCase());
    expect(targets.length, "each shared resource written once").toBe(new Set(targets).size);
    expect(targets.some((target) => target.includes("/microsoft.operationalinsights/workspaces/"))).toBe(true);
    expect(targets.some((target) => target.includes("/microsoft.insights/datacollectionrules/"))).toBe(true);
    expect(report.subscriptions.filter((entry) => entry.subscriptionId.toLowerCase() === subscriptionId.toLowerCase())).toHaveLength(1);

    // The reads of the last group's machines come after the first machine writes.
    const requests = h.azure.requests;
    const lastMachineRead = Math.max(...requests.flatMap((entry, index) => (entry.method === "GET" && entry.path.toLowerCase() === created.at(-1)?.toLowerCase() ? [index] : [])));
    const firstMachineWrite = requests.findIndex((entry) => entry.method !== "GET" && created.some((id) => entry.path.toLowerCase().startsWith(id.toLowerCase())));
    expect(firstMachineWrite).toBeGreaterThanOrEqual(0);
    expect(firstMachineWrite).toBeLessThan(lastMachineRead);
    h.azure.setThrottle({ timeScale: 1, resourceGraph: { queries: 200, windowSeconds: 5 } });
  }, 120_000);
});

describe("a group that cannot be reconciled", () => {
  it("ends the run with its error before any later group is read or written", async () => {
    h.load(estate);
    const template = machineWith(estate, "no-identity", "windows");
    const created = Array.from({ length: MACHINES_PER_GROUP + 5 }, (_, n) => newVirtualMachine(h.azure, template, `vm-unreadable-${n}`));
    const settings = h.settings();
    let recalled = 0;
    // What the run remembers of drift cannot be read: the first group stops before writing, as a single run would.
    const driftMemory = {
      recall: async () => {
        recalled++;
        throw new Error("drift memory unavailable");
      },
      update: async () => undefined,
    };
    h.azure.resetRequests();
    await expect(reconcile({ resourceIds: created }, { settings, gateway: createGateway(settings), logger: createLogger({ level: "silent" }), driftMemory })).rejects.toThrow("drift memory unavailable");
    expect(recalled).toBe(1);
    expect(h.azure.requests.filter((entry) => entry.method !== "GET" && entry.method !== "POST")).toEqual([]);
    expect(h.azure.requests.some((entry) => entry.path.toLowerCase() === created.at(-1)?.toLowerCase())).toBe(false);
  });
});

