/**
 * New machines under Azure's real operation durations (an AMA install takes minutes, an identity PATCH
 * tens of seconds) and Resource Graph's freshness lag: apply confirms long-running writes in bulk through
 * Resource Graph, so the ARM reads a new machine costs do not grow with how long its operations run, and
 * a machine is reported remediated only once its writes are confirmed done.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGateway } from "../../src/azure/gateway.js";
import { reconcile } from "../../src/engine.js";
import { SharedReadCache } from "../../src/discover/sharedReadCache.js";
import { createLogger } from "../../src/log.js";
import { demoEstate, machineWith } from "../../local-azure/src/estate.js";
import { startEngineHarness, extensionsOf, type EngineHarness } from "../support/engineHarness.js";
import { newVirtualMachine } from "../service/harness.js";

/** ARM seconds per wall second: a 60-240 s install takes 0.1-0.4 s here. */
const TIME_SCALE = 600;
const NEW_MACHINES = 6;

let h: EngineHarness;
const estate = demoEstate();

beforeAll(async () => {
  h = await startEngineHarness();
});
afterAll(() => h.close());

/** ARM reads (GETs and operation polls; Resource Graph has its own quota) per new machine, under operations `durationScale` times as long. */
async function newMachinesUnder(durationScale: number, batch: string) {
  h.load(estate);
  h.azure.setThrottle({ timeScale: TIME_SCALE, resourceGraph: { queries: 200, windowSeconds: 5 } });
  h.azure.setResourceGraph({ lag: { p95Seconds: 30, seed: 7 } });
  const settings = h.settings({ ARM_POLL_INTERVAL_MS: String(5_000 / TIME_SCALE) });
  const dependencies = { settings, gateway: createGateway(settings), logger: createLogger({ level: "silent" }), sharedReads: new SharedReadCache() };
  const template = machineWith(estate, "no-identity", "windows");
  // The subscription's shared resources exist and are cached (the first run created some, and forgot what it
  // had read): what is left is each machine's own cost.
  await reconcile({ resourceIds: [template.id] }, dependencies);
  await reconcile({ resourceIds: [template.id], dryRun: true }, dependencies);
  h.azure.setLro({ model: "durations", durationScale, timeScale: TIME_SCALE, seed: 3 });
  const created = Array.from({ length: NEW_MACHINES }, (_, n) => newVirtualMachine(h.azure, template, `vm-${batch}-${n}`));
  h.azure.resetRequests();
  const started = Date.now();
  const { report } = await reconcile({ resourceIds: created }, dependencies);
  const wallMs = Date.now() - started;
  const reads = h.azure.requests.filter((entry) => entry.method === "GET").length;
  const agentStates = created.flatMap((id) => extensionsOf(h.azure, id).map((extension) => extension.state));
  h.azure.setLro({ model: "polls" });
  h.azure.setResourceGraph({ lag: false });
  h.azure.setThrottle({ timeScale: 1, resourceGraph: { queries: 200, windowSeconds: 5 } });
  return { report, agentStates, readsPerMachine: reads / NEW_MACHINES, wallMs };
}

describe("new machines under real operation durations", () => {
  it("cost 3 ARM reads each (the machine, its agents, its associations), the same whether operations take minutes or four times as long", async () => {
    const short = await newMachinesUnder(1, "short");
    const long = await newMachinesUnder(4, "long");

    for (const outcome of [short, long]) {
      expect(outcome.report.summary.remediated).toBe(NEW_MACHINES);
      // The identity PATCH carries the VM's etag as If-Match: no read of the machine before the write.
      expect(outcome.readsPerMachine).toBe(3);
      expect(outcome.agentStates).toEqual(Array(NEW_MACHINES).fill("Succeeded"));
    }
    expect(long.readsPerMachine).toBe(short.readsPerMachine);
    // The longer operations were waited for, not cut short.
    expect(long.wallMs).toBeGreaterThan(short.wallMs);
  }, 60_000);
});
