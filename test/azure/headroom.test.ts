/**
 * The customer's own automation shares the subscription's ARM buckets: however many reads the service
 * sends at once, it leaves at least 20% of the read bucket (50 of 250) untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGateway } from "../../src/azure/gateway.js";
import { loadSettings } from "../../src/config/settings.js";
import { HEADROOM } from "../../src/azure/policies.js";
import { mapBounded } from "../../src/concurrency.js";
import { startLocalAzure, type LocalAzure } from "../../local-azure/src/emulator.js";

const SUBSCRIPTION = "0b6f2d1c-4e8a-4c3b-9d7e-1a2b3c4d5e6f";
const GROUP = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-busy`;

let azure: LocalAzure;

beforeAll(async () => {
  azure = await startLocalAzure();
  azure.load([
    { id: `/subscriptions/${SUBSCRIPTION}`, name: SUBSCRIPTION, type: "Microsoft.Resources/subscriptions", properties: {} },
    { id: GROUP, name: "rg-busy", type: "Microsoft.Resources/resourceGroups", location: "eastus", properties: {} },
  ]);
});
afterAll(() => azure.close());

describe("the headroom kept for the customer's automation", () => {
  it("holds while 64 reads at a time run the read bucket down", async () => {
    // ARM's bucket (250, 25/s), refilled 10 times faster so the test is quick; the service assumes ARM's own rate.
    azure.setThrottle({ reads: { capacity: 250, refillPerSecond: 25 }, timeScale: 10 });
    azure.resetRequests();
    const gateway = createGateway(loadSettings({ ARM_ENDPOINT: azure.endpoint, ARM_TOKEN: azure.token, REMEDIATION_SUBSCRIPTIONS: SUBSCRIPTION }));
    await mapBounded(Array.from({ length: 400 }, (_, n) => n), 64, () => gateway.getResourceGroup(SUBSCRIPTION, "rg-busy"));

    const { reads } = azure.stats().lowestRemaining;
    expect(reads.capacity).toBe(250);
    expect(azure.requests.filter((entry) => entry.status === 429)).toEqual([]);
    expect(reads.lowest).toBeGreaterThanOrEqual(HEADROOM.reads);
  }, 60_000);
});
