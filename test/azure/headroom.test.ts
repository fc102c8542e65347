/**
 * The customer's own automation shares the subscription's ARM buckets: however many requests the service
 * sends at once, it leaves at least 20% of the read bucket (50 of 250) and of the write bucket (40 of 200)
 * untouched, also when ARM's answers come back in another order than their requests went out.
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

/** Sends `count` requests, 64 at a time, and returns the lowest level the bucket of `kind` reported. */
async function lowestUnder(kind: keyof typeof HEADROOM, count: number, send: (gateway: ReturnType<typeof createGateway>, n: number) => Promise<unknown>) {
  // ARM's buckets, refilled 10 times faster so the test is quick; the service assumes ARM's own rate.
  azure.setThrottle({ reads: { capacity: 250, refillPerSecond: 25 }, writes: { capacity: 200, refillPerSecond: 10 }, timeScale: 10 });
  // Each answer waits its own latency, so answers overtake one another as ARM's do.
  azure.setFaults({ seed: 42, latency: { fixedMs: 2, jitterMs: 20 } });
  azure.resetRequests();
  const gateway = createGateway(loadSettings({ ARM_ENDPOINT: azure.endpoint, ARM_TOKEN: azure.token, REMEDIATION_SUBSCRIPTIONS: SUBSCRIPTION }));
  await mapBounded(Array.from({ length: count }, (_, n) => n), 64, (n) => send(gateway, n));
  expect(azure.requests.filter((entry) => entry.status === 429)).toEqual([]);
  return azure.stats().lowestRemaining[kind];
}

describe("the headroom kept for the customer's automation", () => {
  it("holds while 64 reads at a time run the read bucket down", async () => {
    const reads = await lowestUnder("reads", 400, (gateway) => gateway.getResourceGroup(SUBSCRIPTION, "rg-busy"));
    expect(reads.capacity).toBe(250);
    expect(reads.lowest).toBeGreaterThanOrEqual(HEADROOM.reads);
  }, 60_000);

  it("holds while 64 writes at a time run the write bucket down", async () => {
    const writes = await lowestUnder("writes", 400, (gateway, n) =>
      gateway.writer(() => undefined).start({ method: "PUT", id: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-new-${n}`, apiVersion: "2021-04-01", body: { location: "eastus" } }),
    );
    expect(writes.capacity).toBe(200);
    expect(writes.lowest).toBeGreaterThanOrEqual(HEADROOM.writes);
  }, 60_000);
});
