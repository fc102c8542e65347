import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startLocalAzure, type LocalAzure } from "../src/emulator.js";
import { OperationTracker } from "../src/lro.js";
import type { ArmResource } from "../src/store.js";

const SUB = "00000000-0000-4000-8000-0000000000d1";
const SUB_ID = `/subscriptions/${SUB}`;
const RG_ID = `${SUB_ID}/resourceGroups/rg-ops`;
const vmId = (name: string): string => `${RG_ID}/providers/Microsoft.Compute/virtualMachines/${name}`;
const extensionId = (vm: string): string => `${vmId(vm)}/extensions/AzureMonitorWindowsAgent`;
const workspaceId = `${RG_ID}/providers/Microsoft.OperationalInsights/workspaces/ws-ops`;
/** 600 ARM seconds per wall second: a 60-240 s install takes 100-400 ms. */
const TIME_SCALE = 600;
const SEED = 5;
const NO_THROTTLE = { reads: false, writes: false, computeVmWrites: false, resourceGraph: false } as const;

const AMA_BODY = { location: "eastus", properties: { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorWindowsAgent", typeHandlerVersion: "1.0" } };

function estate(): ArmResource[] {
  const vm = (name: string): ArmResource => ({
    id: vmId(name),
    name,
    type: "Microsoft.Compute/virtualMachines",
    location: "eastus",
    properties: { storageProfile: { osDisk: { osType: "Windows" } }, provisioningState: "Succeeded" },
  });
  return [
    { id: SUB_ID, name: SUB, type: "Microsoft.Resources/subscriptions", properties: { displayName: "Ops", state: "Enabled" } },
    { id: RG_ID, name: "rg-ops", type: "Microsoft.Resources/resourceGroups", location: "eastus", properties: {} },
    vm("vm1"),
    vm("vm2"),
    { id: workspaceId, name: "ws-ops", type: "Microsoft.OperationalInsights/workspaces", location: "eastus", properties: { customerId: "c1", provisioningState: "Succeeded" } },
  ];
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

let azure: LocalAzure;
let ca: string;

/** One raw ARM request, so the test sees every header and decides when to poll. */
function arm(method: string, pathOrUrl: string, body?: unknown): Promise<Answer> {
  const url = pathOrUrl.startsWith("https://") ? new URL(pathOrUrl) : new URL(`${azure.endpoint}${pathOrUrl}?api-version=2024-07-01`);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${azure.token}`, ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}) };
    const req = request(url, { method, ca, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/** The wall milliseconds an operation on `id` takes under this file's seed and time scale (the n-th on it). */
function expectedWallMs(id: string, occurrence = 0, durationScale = 1): number {
  const tracker = new OperationTracker({ model: "durations", seed: SEED, durationScale });
  return (tracker.durationSeconds(id, occurrence) * 1000) / TIME_SCALE;
}

beforeAll(async () => {
  azure = await startLocalAzure({ throttle: { ...NO_THROTTLE, timeScale: TIME_SCALE } });
  ca = await readFile(azure.caCertPath, "utf8");
});
afterAll(() => azure.close());
beforeEach(() => {
  azure.reset();
  azure.setThrottle({ ...NO_THROTTLE, timeScale: TIME_SCALE });
  azure.setLro({ model: "durations", seed: SEED, durationScale: 1, retryAfterSeconds: 60 });
  azure.load(estate());
});

describe("durations model: operations take their time", () => {
  it("draws each type's duration from its range, the same for a seed whatever the order, scaled by durationScale", () => {
    const tracker = new OperationTracker({ model: "durations", seed: SEED });
    const install = tracker.durationSeconds(extensionId("vm1"));
    expect(install).toBeGreaterThanOrEqual(60);
    expect(install).toBeLessThanOrEqual(240);
    expect(tracker.durationSeconds(vmId("vm1"))).toBeGreaterThanOrEqual(10);
    expect(tracker.durationSeconds(vmId("vm1"))).toBeLessThanOrEqual(40);
    expect(tracker.durationSeconds(workspaceId)).toBeLessThanOrEqual(10);
    expect(tracker.durationSeconds(`${RG_ID}/providers/Microsoft.Insights/dataCollectionRules/dcr1`)).toBe(0);
    expect(new OperationTracker({ model: "durations", seed: SEED }).durationSeconds(extensionId("vm1"))).toBe(install);
    expect(new OperationTracker({ model: "durations", seed: SEED, durationScale: 2 }).durationSeconds(extensionId("vm1"))).toBeCloseTo(install * 2, 9);
    const draws = new Set(["vm1", "vm2", "vm3", "vm4"].map((vm) => tracker.durationSeconds(extensionId(vm))));
    expect(draws.size).toBe(4);
  });

  it("answers an extension install InProgress with Retry-After until its scaled time is up, then Succeeded", async () => {
    const wallMs = expectedWallMs(extensionId("vm1"));
    const started = performance.now();
    const put = await arm("PUT", extensionId("vm1"), AMA_BODY);
    // The operation started before the answer came back: its time is up by `answered + wallMs` however slow the PUT was.
    const answered = performance.now();
    expect(put.status).toBe(201);
    // Retry-After 60 ARM seconds at 600x: 0.1 s, rounded up to the whole second HTTP allows.
    expect(put.headers["retry-after"]).toBe("1");
    const operationUrl = String(put.headers["azure-asyncoperation"]);

    for (let i = 0; i < 3; i++) {
      const poll = await arm("GET", operationUrl);
      expect(poll.body.status).toBe("InProgress");
      expect(poll.headers["retry-after"]).toBe("1");
    }
    expect(performance.now() - started).toBeLessThan(wallMs);

    await sleep(wallMs - (performance.now() - answered) + 20);
    const done = await arm("GET", operationUrl);
    expect(done.body.status).toBe("Succeeded");
    expect(done.headers["retry-after"]).toBeUndefined();
    const ranMs = Date.parse(String(done.body.endTime)) - Date.parse(String(done.body.startTime));
    expect(ranMs).toBeGreaterThanOrEqual(Math.floor(wallMs) - 1);
    expect(azure.get(extensionId("vm1"))?.properties?.provisioningState).toBe("Succeeded");
  });

  it("raises its event when its time is up, ready to take with no ARM request in between, and not before", async () => {
    azure.takeEvents();
    const put = await arm("PUT", extensionId("vm1"), AMA_BODY);
    const correlationId = String(put.headers["x-ms-correlation-request-id"]);
    const ofThisWrite = () => azure.takeEvents().filter((event) => (event["data"] as Record<string, unknown>)["correlationId"] === correlationId);
    expect(ofThisWrite()).toEqual([]);

    await sleep(expectedWallMs(extensionId("vm1")) + 20);
    expect(ofThisWrite().map((event) => [event["eventType"], (event["data"] as Record<string, unknown>)["status"]])).toEqual([["Microsoft.Resources.ResourceWriteSuccess", "Succeeded"]]);
  });

  it("finishes at its time even if nobody polls, and not before however often it is polled", async () => {
    const put = await arm("PUT", extensionId("vm2"), AMA_BODY);
    const operationUrl = String(put.headers["azure-asyncoperation"]);
    // Polling hard does not hurry it (the polls model would have ended it on the second poll).
    for (let i = 0; i < 5; i++) expect((await arm("GET", operationUrl)).body.status).toBe("InProgress");
    expect((await arm("PATCH", vmId("vm2"), { tags: { a: "b" } })).status).toBe(409);

    await sleep(expectedWallMs(extensionId("vm2")) + 20);
    // Any request settles what is due: the extension reads Succeeded and the machine takes writes again.
    const extension = await arm("GET", extensionId("vm2"));
    expect((extension.body.properties as Record<string, unknown>).provisioningState).toBe("Succeeded");
    expect((await arm("PATCH", vmId("vm2"), { identity: { type: "SystemAssigned" } })).status).toBe(200);
  });

  it("counts every poll of the operation URL as a read against the subscription's read bucket", async () => {
    azure.setThrottle({ reads: { capacity: 3, refillPerSecond: 1e-6 }, timeScale: TIME_SCALE });
    const put = await arm("PUT", extensionId("vm1"), AMA_BODY);
    const operationUrl = String(put.headers["azure-asyncoperation"]);
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const poll = await arm("GET", operationUrl);
      expect(poll.status).toBe(200);
      remaining.push(String(poll.headers["x-ms-ratelimit-remaining-subscription-reads"]));
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const throttled = await arm("GET", operationUrl);
    expect(throttled.status).toBe(429);
    expect(throttled.headers["retry-after"]).toBeDefined();
    expect(azure.requestCounts()).toMatchObject({ writes: 1, polls: 4 });
  });

  it("answers synchronous types at once: rules, associations and role assignments are 201 with no operation to poll", async () => {
    const dcrId = `${RG_ID}/providers/Microsoft.Insights/dataCollectionRules/dcr-ops`;
    const dcr = await arm("PUT", dcrId, { location: "eastus", properties: { destinations: { logAnalytics: [{ workspaceResourceId: workspaceId, name: "la" }] } } });
    expect(dcr.status).toBe(201);
    expect(dcr.headers["azure-asyncoperation"]).toBeUndefined();
    expect((dcr.body.properties as Record<string, unknown>).provisioningState).toBe("Succeeded");
    const association = await arm("PUT", `${vmId("vm1")}/providers/Microsoft.Insights/dataCollectionRuleAssociations/assoc`, { properties: { dataCollectionRuleId: dcrId } });
    expect(association.status).toBe(201);
    expect(association.headers["azure-asyncoperation"]).toBeUndefined();
    const role = await arm("PUT", `${SUB_ID}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-0000000000a1`, {
      properties: { roleDefinitionId: `${SUB_ID}/providers/Microsoft.Authorization/roleDefinitions/r1`, principalId: "p1" },
    });
    expect(role.status).toBe(201);
    expect(role.headers["azure-asyncoperation"]).toBeUndefined();
  });

  it("is set through the control API and refuses bad options without changing anything", async () => {
    const post = (body: unknown): Promise<Answer> =>
      new Promise((resolve, reject) => {
        const payload = Buffer.from(JSON.stringify(body));
        const req = request(new URL("/_emulator/lro", azure.endpoint), { method: "POST", ca, headers: { "content-type": "application/json", "content-length": payload.length } }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown> }));
        });
        req.on("error", reject);
        req.end(payload);
      });
    expect((await post({ model: "minutes" })).status).toBe(400);
    expect((await post({ durationScale: -1 })).status).toBe(400);
    // Still the durations model: a poll right after the PUT answers InProgress.
    const put = await arm("PUT", extensionId("vm1"), AMA_BODY);
    expect((await arm("GET", String(put.headers["azure-asyncoperation"]))).body.status).toBe("InProgress");

    expect((await post({ model: "polls", polls: 1, retryAfterSeconds: 0 })).status).toBe(200);
    const quick = await arm("PUT", extensionId("vm2"), AMA_BODY);
    const url = String(quick.headers["azure-asyncoperation"]);
    expect(quick.headers["retry-after"]).toBeUndefined();
    expect((await arm("GET", url)).body.status).toBe("InProgress");
    expect((await arm("GET", url)).body.status).toBe("Succeeded");
  });
});

describe("Retry-After under a time scale and the default model", () => {
  it("sends ARM's Retry-After divided by the time scale, rounded up to whole seconds", () => {
    const header = (retryAfterSeconds: number, timeScale: number): number => new OperationTracker({ retryAfterSeconds, timeScale }).retryAfterHeader();
    expect(header(15, 1)).toBe(15);
    expect(header(15, 15)).toBe(1);
    expect(header(30, 15)).toBe(2);
    expect(header(10, 15)).toBe(1);
    expect(header(0, 15)).toBe(0);
    expect(new OperationTracker({ retryAfterSeconds: 10, timeScale: 15 }).options.retryAfterSeconds).toBe(10);
  });

  it("keeps the one-poll model by default: the first poll InProgress, the second Succeeded, whatever the time", async () => {
    expect(new OperationTracker().options).toMatchObject({ model: "polls", polls: 1, retryAfterSeconds: 0, finishUnpolledAfterMs: 100 });
    const plain = await startLocalAzure({ throttle: NO_THROTTLE, resources: estate() });
    try {
      const previous = azure;
      azure = plain;
      try {
        const put = await arm("PUT", extensionId("vm1"), AMA_BODY);
        const url = String(put.headers["azure-asyncoperation"]);
        expect(put.headers["retry-after"]).toBeUndefined();
        expect((await arm("GET", url)).body.status).toBe("InProgress");
        expect((await arm("GET", url)).body.status).toBe("Succeeded");
      } finally {
        azure = previous;
      }
    } finally {
      await plain.close();
    }
  });
});
