/**
 * Resource Graph's freshness lag (src/graphLag.ts): with the lag on, a query sees each resource as Resource Graph last
 * read it until the notification of its latest change arrives, while ARM's own GETs are read-your-writes
 * (azure-docs articles/governance/resource-graph/overview.md; Azure/azure-dev#540).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startLocalAzure, type LocalAzure } from "../src/emulator.js";
import { GraphLag, lagSeconds } from "../src/graphLag.js";
import type { ArmResource, StoredResource } from "../src/store.js";

const SUB = "00000000-0000-4000-8000-0000000000e1";
const RG_ID = `/subscriptions/${SUB}/resourceGroups/rg-lag`;
const VM_ID = `${RG_ID}/providers/Microsoft.Compute/virtualMachines/vm1`;
const EXTENSION_ID = `${VM_ID}/extensions/AzureMonitorWindowsAgent`;
const RULE_ID = `${RG_ID}/providers/Microsoft.Insights/dataCollectionRules/dcr-loaded`;
const NEW_RULE_ID = `${RG_ID}/providers/Microsoft.Insights/dataCollectionRules/dcr-new`;
const ASSOCIATION_ID = `${VM_ID}/providers/Microsoft.Insights/dataCollectionRuleAssociations/assoc-new`;
const IDENTITY_ID = `${RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-gone`;
/** A seed whose draws for this file's changes all fall between 8 and 24 ARM seconds (checked below). */
const SEED = 188;
/** 30 ARM seconds per wall second: those lags take 270-800 ms. */
const TIME_SCALE = 30;
const NO_THROTTLE = { reads: false, writes: false, computeVmWrites: false, resourceGraph: false } as const;
const AMA = { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorWindowsAgent" };

function estate(): ArmResource[] {
  return [
    { id: `/subscriptions/${SUB}`, name: SUB, type: "Microsoft.Resources/subscriptions", properties: { displayName: "Lag", state: "Enabled" } },
    { id: RG_ID, name: "rg-lag", type: "Microsoft.Resources/resourceGroups", location: "eastus", tags: {} },
    { id: VM_ID, name: "vm1", type: "Microsoft.Compute/virtualMachines", location: "eastus", properties: { provisioningState: "Succeeded" } },
    { id: EXTENSION_ID, name: "AzureMonitorWindowsAgent", type: "Microsoft.Compute/virtualMachines/extensions", location: "eastus", properties: { ...AMA, typeHandlerVersion: "1.0", provisioningState: "Succeeded" } },
    { id: RULE_ID, name: "dcr-loaded", type: "Microsoft.Insights/dataCollectionRules", location: "eastus", properties: { provisioningState: "Succeeded" } },
    { id: IDENTITY_ID, name: "uai-gone", type: "Microsoft.ManagedIdentity/userAssignedIdentities", location: "eastus", properties: {} },
  ];
}

let azure: LocalAzure;

beforeAll(async () => {
  azure = await startLocalAzure({ throttle: { ...NO_THROTTLE, timeScale: TIME_SCALE } });
});
afterAll(() => azure.close());
beforeEach(() => {
  azure.reset();
  azure.setResourceGraph({ lag: false });
  azure.setLro({ model: "polls", polls: 1, finishUnpolledAfterMs: 60_000 });
  azure.load(estate());
});

/** The wall milliseconds the n-th change of a resource takes to reach Resource Graph under this file's seed and time scale. */
const lagMs = (id: string, occurrence = 0): number => (lagSeconds({ seed: SEED }, id, occurrence) * 1000) / TIME_SCALE;

/** Waits until a change answered at `answeredAt` (performance.now()) has surely reached Resource Graph. */
const untilSeen = (answeredAt: number, ms: number): Promise<void> => sleep(Math.max(0, answeredAt + ms + 30 - performance.now()));

async function arm(method: string, path: string, body?: unknown, apiVersion = "2024-07-01"): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const url = path.startsWith("https://") ? path : `${azure.endpoint}${path}?api-version=${apiVersion}`;
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${azure.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** The resource's Resource Graph row in a table, if Resource Graph shows it. */
async function graphRow(table: string, id: string): Promise<Record<string, unknown> | undefined> {
  const answer = await arm("POST", "/providers/Microsoft.ResourceGraph/resources", { query: `${table} | where id =~ '${id}'`, subscriptions: [SUB] }, "2024-04-01");
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return (answer.body.data as Record<string, unknown>[])[0];
}

const propertiesOf = (resource: Record<string, unknown> | undefined): Record<string, unknown> | undefined => resource?.properties as Record<string, unknown> | undefined;

describe("Resource Graph lag (opt-in)", () => {
  beforeEach(() => azure.setResourceGraph({ lag: { seed: SEED } }));

  it("draws this file's lags in a range the tests can wait for", () => {
    for (const [id, occurrence] of [[NEW_RULE_ID, 0], [EXTENSION_ID, 0], [EXTENSION_ID, 1], [IDENTITY_ID, 0], [ASSOCIATION_ID, 0], [RG_ID, 0]] as const) {
      expect(lagSeconds({ seed: SEED }, id, occurrence)).toBeGreaterThanOrEqual(8);
      expect(lagSeconds({ seed: SEED }, id, occurrence)).toBeLessThanOrEqual(24);
    }
  });

  it("leaves a created resource out of Resource Graph until its lag has passed, while ARM's GET has it at once", async () => {
    const started = performance.now();
    const put = await arm("PUT", NEW_RULE_ID, { location: "eastus", properties: {} }, "2022-06-01");
    const answeredAt = performance.now();
    expect(put.status).toBe(201);
    expect((await arm("GET", NEW_RULE_ID, undefined, "2022-06-01")).status).toBe(200);
    expect(await graphRow("resources", NEW_RULE_ID)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(lagMs(NEW_RULE_ID));

    await untilSeen(answeredAt, lagMs(NEW_RULE_ID));
    expect(propertiesOf(await graphRow("resources", NEW_RULE_ID))?.provisioningState).toBe("Succeeded");
  });

  it("shows an update's previous content, then learns late that its long-running operation finished", async () => {
    const started = performance.now();
    const put = await arm("PUT", EXTENSION_ID, { location: "eastus", properties: { ...AMA, typeHandlerVersion: "1.1" } });
    const updatedAt = performance.now();
    expect(put.status).toBe(200);
    expect(propertiesOf((await arm("GET", EXTENSION_ID)).body)).toMatchObject({ typeHandlerVersion: "1.1", provisioningState: "Updating" });
    expect(propertiesOf(await graphRow("resources", EXTENSION_ID))).toMatchObject({ typeHandlerVersion: "1.0", provisioningState: "Succeeded" });
    expect(performance.now() - started).toBeLessThan(lagMs(EXTENSION_ID, 0));

    await untilSeen(updatedAt, lagMs(EXTENSION_ID, 0));
    expect(propertiesOf(await graphRow("resources", EXTENSION_ID))).toMatchObject({ typeHandlerVersion: "1.1", provisioningState: "Updating" });

    // The operation ends (polls model: InProgress, then Succeeded): ARM's GET says so at once, Resource Graph later.
    const operationUrl = String(put.headers.get("azure-asyncoperation"));
    expect((await arm("GET", operationUrl)).body.status).toBe("InProgress");
    const finishing = performance.now();
    expect((await arm("GET", operationUrl)).body.status).toBe("Succeeded");
    const finishedAt = performance.now();
    expect(propertiesOf((await arm("GET", EXTENSION_ID)).body)?.provisioningState).toBe("Succeeded");
    expect(propertiesOf(await graphRow("resources", EXTENSION_ID))?.provisioningState).toBe("Updating");
    expect(performance.now() - finishing).toBeLessThan(lagMs(EXTENSION_ID, 1));

    await untilSeen(finishedAt, lagMs(EXTENSION_ID, 1));
    expect(propertiesOf(await graphRow("resources", EXTENSION_ID))?.provisioningState).toBe("Succeeded");
  });

  it("keeps showing a deleted resource until the delete reaches Resource Graph", async () => {
    const started = performance.now();
    expect((await arm("DELETE", IDENTITY_ID, undefined, "2023-01-31")).status).toBe(200);
    const deletedAt = performance.now();
    expect((await arm("GET", IDENTITY_ID, undefined, "2023-01-31")).status).toBe(404);
    expect(await graphRow("resources", IDENTITY_ID)).toBeDefined();
    expect(performance.now() - started).toBeLessThan(lagMs(IDENTITY_ID));

    await untilSeen(deletedAt, lagMs(IDENTITY_ID));
    expect(await graphRow("resources", IDENTITY_ID)).toBeUndefined();
  });

  it("holds every table served from the store back alike: an association in insightsresources, a group's tags in resourcecontainers", async () => {
    const started = performance.now();
    expect((await arm("PUT", ASSOCIATION_ID, { properties: { dataCollectionRuleId: RULE_ID } }, "2022-06-01")).status).toBe(201);
    expect((await arm("PATCH", `${RG_ID}/providers/Microsoft.Resources/tags/default`, { operation: "Merge", properties: { tags: { team: "blue" } } }, "2021-04-01")).status).toBe(200);
    const answeredAt = performance.now();
    expect(await graphRow("insightsresources", ASSOCIATION_ID)).toBeUndefined();
    expect((await graphRow("resourcecontainers", RG_ID))?.tags).toEqual({});
    expect(performance.now() - started).toBeLessThan(Math.min(lagMs(ASSOCIATION_ID), lagMs(RG_ID)));

    await untilSeen(answeredAt, Math.max(lagMs(ASSOCIATION_ID), lagMs(RG_ID)));
    expect(await graphRow("insightsresources", ASSOCIATION_ID)).toBeDefined();
    expect((await graphRow("resourcecontainers", RG_ID))?.tags).toEqual({ team: "blue" });
  });

  it("shows what the control API loads at once: it stands for the estate as it was", async () => {
    azure.load([{ id: NEW_RULE_ID, name: "dcr-new", type: "Microsoft.Insights/dataCollectionRules", location: "eastus", properties: {} }]);
    expect(await graphRow("resources", NEW_RULE_ID)).toBeDefined();
  });

  it("is switched on and off through the control API, which refuses bad options and changes nothing then", async () => {
    azure.setResourceGraph({ lag: false });
    const control = (body: unknown): Promise<Response> =>
      fetch(`${azure.endpoint}/_emulator/resource-graph`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await control({ lag: { p95Seconds: -1 } })).status).toBe(400);
    expect((await control({ lag: { missedRate: 2 } })).status).toBe(400);
    await arm("PUT", NEW_RULE_ID, { location: "eastus", properties: {} }, "2022-06-01");
    expect(await graphRow("resources", NEW_RULE_ID)).toBeDefined();

    expect((await control({ lag: { p95Seconds: 30, seed: SEED } })).status).toBe(200);
    await arm("DELETE", NEW_RULE_ID, undefined, "2022-06-01");
    expect(await graphRow("resources", NEW_RULE_ID)).toBeDefined();

    // Off again: what was on its way shows at once.
    expect((await control({ lag: false })).status).toBe(200);
    expect(await graphRow("resources", NEW_RULE_ID)).toBeUndefined();
  });
});

describe("Resource Graph lag off (the default)", () => {
  it("shows every change at once, as before", async () => {
    await arm("PUT", NEW_RULE_ID, { location: "eastus", properties: {} }, "2022-06-01");
    await arm("PUT", EXTENSION_ID, { location: "eastus", properties: { ...AMA, typeHandlerVersion: "1.1" } });
    await arm("DELETE", IDENTITY_ID, undefined, "2023-01-31");
    expect(await graphRow("resources", NEW_RULE_ID)).toBeDefined();
    expect(propertiesOf(await graphRow("resources", EXTENSION_ID))).toMatchObject({ typeHandlerVersion: "1.1", provisioningState: "Updating" });
    expect(await graphRow("resources", IDENTITY_ID)).toBeUndefined();
  });
});

describe("GraphLag", () => {
  const entry = (key: string, version: string): StoredResource => ({
    resource: { id: key, name: "x", type: "t", properties: { version } },
    key,
    typeKey: "t",
    containerKey: "",
  });
  const versionOf = (seen: StoredResource | undefined): unknown => seen?.resource.properties?.version;

  it("draws 95% of lags within p95Seconds with a tail beyond; a missed notification waits for the full scan", () => {
    const draws = Array.from({ length: 20_000 }, (_, i) => lagSeconds({ seed: 3 }, `/r/${i}`));
    const within = draws.filter((lag) => lag <= 30).length / draws.length;
    expect(within).toBeGreaterThan(0.94);
    expect(within).toBeLessThan(0.96);
    expect(draws.filter((lag) => lag > 45).length / draws.length).toBeGreaterThan(0.005);
    expect(lagSeconds({ seed: 3, p95Seconds: 60 }, "/r/1")).toBeCloseTo(2 * lagSeconds({ seed: 3 }, "/r/1"), 9);

    const missed = Array.from({ length: 2_000 }, (_, i) => lagSeconds({ seed: 3, missedRate: 1, fullScanSeconds: 108_000 }, `/r/${i}`));
    expect(Math.max(...missed)).toBeLessThanOrEqual(108_000);
    expect(missed.filter((lag) => lag > 3_600).length / missed.length).toBeGreaterThan(0.9);
  });

  it("reads the resource as it is when a notification arrives, so a later change that arrives first shows the earlier one too", () => {
    let now = 0;
    const lag = new GraphLag(() => now);
    lag.configure({ seed: 22 });
    const [first, second] = [lagSeconds({ seed: 22 }, "/r/ext", 0), lagSeconds({ seed: 22 }, "/r/ext", 1)];
    // Seed 22 draws 19.8 s then 7.2 s: the second change, made 5 s later, arrives first.
    expect(second + 5).toBeLessThan(first);

    const v1 = entry("/r/ext", "1");
    const v2 = entry("/r/ext", "2");
    const v3 = entry("/r/ext", "3");
    lag.record("/r/ext", v1, v2);
    now = 5_000;
    lag.record("/r/ext", v2, v3);
    lag.settle();
    expect(versionOf(lag.view(v3))).toBe("1");

    now = (5 + second) * 1000;
    lag.settle();
    expect(versionOf(lag.view(v3))).toBe("3");
    expect(lag.size).toBe(1);

    now = first * 1000;
    lag.settle();
    expect(lag.view(v3)).toBe(v3);
    expect(lag.size).toBe(0);
  });

  it("keeps only resources whose lag is running, also when nobody queries", () => {
    let now = 0;
    const lag = new GraphLag(() => now);
    lag.configure({ seed: 7 });
    let largest = 0;
    // One change a second for ten thousand seconds: about 7 s of lag each on average, 222 s at the very most.
    for (let i = 0; i < 10_000; i++) {
      now = i * 1000;
      lag.record(`/r/${i}`, undefined, entry(`/r/${i}`, "1"));
      largest = Math.max(largest, lag.size);
    }
    expect(largest).toBeLessThan(600);
    now += 300_000;
    lag.settle();
    expect(lag.size).toBe(0);
  });
});
