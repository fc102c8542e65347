/**
 * Faults: a sweep of a seeded test estate while ARM throttles 20% of requests (429 + Retry-After),
 * fails 3% with 500/503 and drops connections, converges (after
 * the extra sweeps the timer would run) on exactly the state a clean run reaches. A resource that keeps
 * failing ends `failed` with ARM's code and message, after a bounded number of requests.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { machineWith, testEstate } from "../../local-azure/src/estate.js";
import type { Faults } from "../../local-azure/src/faults.js";
import { startEngineHarness, type EngineHarness } from "../support/engineHarness.js";
import { duplicateCreates, finalState } from "./support.js";

let h: EngineHarness;
const estate = testEstate(7);
let clean: Record<string, string>;

beforeAll(async () => {
  h = await startEngineHarness();
  h.load(estate);
  const run = await h.run();
  expect(run.report.summary.failed).toBe(0);
  clean = finalState(h.azure);
}, 60_000);
afterAll(() => h.close());

/** Sweeps under the faults until a sweep reports no failure (at most `maxSweeps`), as the timer would. */
async function sweepUntilClean(faults: Faults, maxSweeps = 5): Promise<{ sweeps: number; failedPerSweep: number[]; failures: string[] }> {
  h.load(estate);
  h.azure.setFaults(faults);
  const failedPerSweep: number[] = [];
  let failures: string[] = [];
  for (let sweep = 1; sweep <= maxSweeps; sweep++) {
    const run = await h.run();
    failedPerSweep.push(run.report.summary.failed);
    failures = run.report.resources
      .filter((resource) => resource.status === "failed")
      .flatMap((resource) => resource.actions.filter((action) => action.outcome === "failed").map((action) => `${action.action} ${action.targetId}: ${action.error?.code} ${action.error?.message}`));
    if (run.report.summary.failed === 0) return { sweeps: sweep, failedPerSweep, failures };
  }
  return { sweeps: maxSweeps, failedPerSweep, failures };
}

/**
 * The emulator's state equals the clean run's, except resources left Creating/Updating by an operation
 * the emulator orphaned (EMULATOR: an operation a client stopped polling — a dropped response, a poll
 * that failed past its retries — finishes only at a later request, so one from the last sweep may remain). Those are listed on the test's console, never silently accepted.
 */
function expectConverged(): void {
  const state = finalState(h.azure);
  const differences = Object.keys({ ...clean, ...state }).filter((key) => state[key] !== clean[key]);
  for (const key of differences) expect(`${key}: ${state[key]}`, differences.map((entry) => `${entry}: ${state[entry]}`).join("; ")).toMatch(/: (Creating|Updating)$/);
  if (differences.length > 0) console.warn(`orphaned by the emulator (not converged): ${differences.join("; ")}`);
  expect(differences.length).toBeLessThanOrEqual(2);
}

describe("under throttling and server errors", () => {
  it.each([11])("seed %i: converges on the clean run's state, with no duplicate agent or association", async (seed) => {
    // Failed operations have their own tests below.
    const outcome = await sweepUntilClean({ seed, throttleRate: 0.2, serverErrorRate: 0.03 });
    const injected = h.azure.requests.filter((entry) => entry.status === 429 || entry.status >= 500).length;
    expect(injected, "the faults were really injected").toBeGreaterThan(20);
    expect(outcome.failedPerSweep.at(-1), JSON.stringify(outcome)).toBe(0);
    h.azure.setFaults({});
    expectConverged();
    expect(duplicateCreates(h.azure)).toEqual([]);
  }, 60_000);
});

describe("with dropped connections", () => {
  // EMULATOR: a response dropped after the emulator started a long-running operation leaves that operation
  // unpolled (the client never saw its URL); the emulator finishes it at a later request, as ARM would, but
  // one abandoned in the last sweep may still be Creating at the final check. See docs/reliability.md.
  it("seed 5: converges on the clean run's state, except resources whose operation the emulator orphaned", async () => {
    const outcome = await sweepUntilClean({ seed: 5, throttleRate: 0.2, serverErrorRate: 0.03, dropConnectionRate: 0.02 });
    const dropped = h.azure.requests.filter((entry) => entry.status === 0).length;
    expect(dropped, "connections were really dropped").toBeGreaterThan(0);
    expect(outcome.failedPerSweep.at(-1), JSON.stringify(outcome)).toBe(0);
    h.azure.setFaults({});
    expectConverged();
    expect(duplicateCreates(h.azure)).toEqual([]);
  }, 90_000);
});

describe("failed long-running operations", () => {
  it("2% failed: every machine's agent is reinstalled by the following sweeps", async () => {
    const outcome = await sweepUntilClean({ seed: 11, lroFailureRate: 0.02 });
    expect(outcome.failedPerSweep.at(-1), JSON.stringify(outcome)).toBe(0);
    h.azure.setFaults({});
    const state = finalState(h.azure);
    for (const [key, value] of Object.entries(clean).filter(([entry]) => /^(identity|extension|association) /.test(entry))) expect(state[key], key).toBe(value);
    expect(duplicateCreates(h.azure)).toEqual([]);
  }, 60_000);


  it("every one failed once: clean sweeps afterwards repair everything: the clean run's state, nothing left Failed", async () => {
    h.load(estate);
    h.azure.setFaults({ lroFailureRate: 1 });
    await h.run();
    h.azure.setFaults({});
    await h.run();
    await h.run();
    const state = finalState(h.azure);
    const differences = Object.keys({ ...clean, ...state }).filter((key) => state[key] !== clean[key]).map((key) => `${key}: ${state[key]}`);
    expect(differences).toEqual([]);
  }, 60_000);
});

describe("a resource that keeps failing", () => {
  it("ends failed with ARM's code and message after a bounded number of requests; the others converge", async () => {
    const denied = machineWith(estate, "no-identity", "windows");
    h.load(estate);
    h.azure.setFaults({ seed: 3, serverErrorRate: 0.03, forbidden: [{ scope: denied.id }] });
    const first = await h.run();
    const second = await h.run();

    for (const run of [first, second]) {
      const resource = run.report.resources.find((entry) => entry.id === denied.id);
      expect(resource?.status).toBe("failed");
      expect(resource?.actions[0]).toMatchObject({ outcome: "failed", error: { code: "AuthorizationFailed", message: expect.stringContaining("does not have authorization") } });
    }
    // 403 is terminal: each write was sent once per sweep (plus the SDK's retries of injected 5xx on it).
    const writesToDenied = h.azure.requests.filter((entry) => entry.path.toLowerCase().startsWith(denied.id.toLowerCase()) && entry.method !== "GET");
    const refusals = new Map<string, number>();
    for (const entry of writesToDenied.filter((request) => request.status === 403)) refusals.set(`${entry.method} ${entry.path}`, (refusals.get(`${entry.method} ${entry.path}`) ?? 0) + 1);
    expect(refusals.size).toBeGreaterThan(0);
    for (const [write, count] of refusals) expect(count, write).toBe(2); // once per sweep: never retried
    expect(writesToDenied.length).toBeLessThanOrEqual(refusals.size * 2 * 6);

    h.azure.setFaults({});
    const state = finalState(h.azure);
    const others = Object.entries(clean).filter(([key]) => !key.includes(denied.id.toLowerCase()));
    for (const [key, value] of others) expect(state[key], key).toBe(value);
  }, 60_000);

  it("the report counts retries per resource: every throttled or failed try of a write is accounted for", async () => {
    h.load(estate);
    h.azure.setFaults({ seed: 13, throttleRate: 0.2, serverErrorRate: 0.03 });
    h.azure.resetRequests();
    const run = await h.run();
    h.azure.setFaults({});
    const actions = run.report.resources.flatMap((resource) => resource.actions);
    const counted = actions.reduce((sum, action) => sum + (action.retries ?? 0), 0);
    // Every write, delete and poll the emulator turned away belongs to some write; a write's final GET may
    // be turned away too, while discovery's queries never belong to one.
    const turnedAway = (kinds: readonly string[]) => h.azure.requests.filter((entry) => kinds.includes(entry.kind) && (entry.status === 429 || entry.status >= 500)).length;
    expect(turnedAway(["write", "delete", "poll"]), "the faults were really injected").toBeGreaterThan(0);
    expect(actions.some((action) => (action.retries ?? 0) > 0)).toBe(true);
    expect(counted).toBeGreaterThanOrEqual(turnedAway(["write", "delete", "poll"]));
    expect(counted).toBeLessThanOrEqual(turnedAway(["write", "delete", "poll", "read"]));
  }, 60_000);
});
