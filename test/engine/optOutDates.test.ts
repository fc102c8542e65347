/**
 * The opt-out tag with an end date, end to end on the emulator: a machine whose `skip-until` date has
 * passed is remediated and the report says why; one still inside its date, or with a date that cannot
 * be read (treated as skip), is not written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoEstate, machineWith, type Estate, type EstateMachine } from "../../local-azure/src/estate.js";
import { hasAmaSucceeded, startEngineHarness, type EngineHarness } from "../support/engineHarness.js";

let h: EngineHarness;
beforeAll(async () => {
  h = await startEngineHarness();
});
afterAll(() => h.close());

const DAY_MS = 24 * 60 * 60 * 1000;
/** A UTC date `days` from now, far enough from midnight that the run's clock cannot cross it. */
const dateIn = (days: number) => new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);

/** The estate with the opt-out tag set on some machines. */
function tagged(estate: Estate, values: ReadonlyMap<EstateMachine, string>): Estate {
  const byId = new Map([...values].map(([machine, value]) => [machine.id, value]));
  return {
    ...estate,
    resources: estate.resources.map((resource) => {
      const value = byId.get(resource.id);
      return value === undefined ? resource : { ...resource, tags: { ...resource.tags, "ama-remediation": value } };
    }),
  };
}

describe("skip-until on machines", () => {
  const estate = demoEstate();
  const ended = machineWith(estate, "no-identity", "windows");
  const later = machineWith(estate, "no-identity", "linux");
  const unreadable = machineWith(estate, "system-identity");
  const expiredOn = dateIn(-30);

  it("the one whose date passed is remediated and says why; the later and the unreadable ones are not written", async () => {
    h.load(tagged(estate, new Map([
      [ended, `skip-until=${expiredOn}`],
      [later, `Skip-Until=${dateIn(365)}`],
      [unreadable, "skip-until=31/12/2099"],
    ])));
    const run = await h.run();
    const entry = (machine: EstateMachine) => run.report.resources.find((resource) => resource.id === machine.id);

    expect(entry(ended)).toMatchObject({ status: "remediated", notes: [`opt-out tag on machine expired on ${expiredOn}: in scope again`] });
    expect(hasAmaSucceeded(h.azure, ended.id)).toBe(true);

    expect(entry(later)).toMatchObject({ status: "skipped", notes: [`machine tagged ama-remediation: skip-until=${dateIn(365)} (opted out through that day, UTC)`] });
    expect(entry(unreadable)).toMatchObject({ status: "skipped", notes: ['machine tagged ama-remediation: "skip-until=31/12/2099" is not skip-until=YYYY-MM-DD with a real date: treated as skip'] });
    expect(h.requestsUnder(later.id, unreadable.id).filter((request) => request.method !== "GET")).toEqual([]);
  });
});
