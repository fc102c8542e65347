/**
 * The lowest level each ARM bucket (subscription × principal, reads and writes) reached since the last reset, in the
 * emulator's stats: what the benchmark reads to show the service leaves the customer's automation its share.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startLocalAzure, type EmulatorStats, type LocalAzure } from "../src/emulator.js";
import type { ArmResource } from "../src/store.js";

const SUB_A = "00000000-0000-4000-8000-0000000000a1";
const SUB_B = "00000000-0000-4000-8000-0000000000b2";
const identityId = (sub: string, name: string): string => `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
/** Small buckets that barely refill, so each request moves the level by one. */
const BUCKETS = { reads: { capacity: 10, refillPerSecond: 1e-6 }, writes: { capacity: 5, refillPerSecond: 1e-6 }, timeScale: 1 };

function estate(): ArmResource[] {
  return [SUB_A, SUB_B].flatMap((sub) => [
    { id: `/subscriptions/${sub}`, name: sub, type: "Microsoft.Resources/subscriptions", properties: { displayName: sub } },
    { id: `/subscriptions/${sub}/resourceGroups/rg`, name: "rg", type: "Microsoft.Resources/resourceGroups", location: "eastus" },
    { id: identityId(sub, "existing"), name: "existing", type: "Microsoft.ManagedIdentity/userAssignedIdentities", location: "eastus", properties: {} },
  ]);
}

let azure: LocalAzure;

beforeAll(async () => {
  azure = await startLocalAzure({ throttle: BUCKETS });
});
afterAll(() => azure.close());
beforeEach(() => {
  azure.reset();
  azure.setThrottle(BUCKETS);
  azure.load(estate());
});

async function arm(method: string, id: string, body?: unknown): Promise<number> {
  const response = await fetch(`${azure.endpoint}${id}?api-version=2023-01-31`, {
    method,
    headers: { authorization: `Bearer ${azure.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

async function control<T>(method: string, path: string): Promise<T> {
  const response = await fetch(`${azure.endpoint}/_emulator/${path}`, { method });
  return (await response.json()) as T;
}

const untouched = (capacity: number | null) => ({ capacity, lowest: null, bySubscription: {} });

describe("lowest bucket levels in the stats", () => {
  it("keeps the lowest remaining per subscription and kind, and the lowest of each kind", async () => {
    for (let i = 0; i < 3; i++) expect(await arm("GET", identityId(SUB_A, "existing"))).toBe(200);
    expect(await arm("GET", identityId(SUB_B, "existing"))).toBe(200);
    expect(await arm("PUT", identityId(SUB_A, "new"), { location: "eastus" })).toBe(201);
    expect(await arm("DELETE", identityId(SUB_A, "new"))).toBe(200);

    expect(azure.stats()).toMatchObject({
      reads: 4,
      writes: 1,
      deletes: 1,
      lowestRemaining: {
        reads: { capacity: 10, lowest: 7, bySubscription: { [SUB_A]: 7, [SUB_B]: 9 } },
        // Deletes share the write bucket.
        writes: { capacity: 5, lowest: 3, bySubscription: { [SUB_A]: 3 } },
      },
    });
  });

  it("counts an empty bucket's 429 as 0 left, and serves the same figures over HTTPS", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push(await arm("GET", identityId(SUB_B, "existing")));
    expect(statuses.at(-1)).toBe(429);
    const stats = await control<EmulatorStats>("GET", "stats");
    expect(stats.lowestRemaining.reads).toEqual({ capacity: 10, lowest: 0, bySubscription: { [SUB_B]: 0 } });
    expect(stats).toEqual(azure.stats());
  });

  it("starts again from nothing after whatever resets the stats or refills the buckets", async () => {
    await arm("GET", identityId(SUB_A, "existing"));
    await control("POST", "requests/reset");
    expect(azure.stats().lowestRemaining).toEqual({ reads: untouched(10), writes: untouched(5) });

    await arm("GET", identityId(SUB_A, "existing"));
    // Still the same bucket (not refilled): the level goes on from where it was.
    expect(azure.stats().lowestRemaining.reads.lowest).toBe(8);
    azure.setThrottle(BUCKETS);
    expect(azure.stats().lowestRemaining.reads.lowest).toBeNull();

    await arm("GET", identityId(SUB_A, "existing"));
    azure.reset();
    expect(azure.stats().lowestRemaining.reads.lowest).toBeNull();
  });

  it("reports a disabled bucket with no capacity and no level", async () => {
    azure.setThrottle({ reads: false });
    await arm("GET", identityId(SUB_A, "existing"));
    expect(azure.stats().lowestRemaining.reads).toEqual(untouched(null));
  });
});
