import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { TestClock, useAzurite } from "./stateFixture.js";

const azurite = useAzurite();
const SUB = "8F1C2B5E-3D4A-4C7B-9E21-5A6B7C8D9E0F";

describe("Checkpoints", () => {
  it("records sweep times and never moves them backwards", async () => {
    const { checkpoints } = await azurite.store();
    expect(await checkpoints.get(SUB)).toBeUndefined();
    const t1 = new Date("2026-11-24T09:00:00Z");
    const t2 = new Date("2026-11-24T09:15:00Z");
    await checkpoints.record(SUB, { lastSweepAt: t2, lastFullReconcileAt: t1 });
    await checkpoints.record(SUB.toLowerCase(), { lastSweepAt: t1 }); // a late, overlapping sweep
    expect(await checkpoints.get(SUB)).toEqual({ subscriptionId: SUB.toLowerCase(), lastSweepAt: t2, lastFullReconcileAt: t1 });
    await expect(checkpoints.get("not-a-guid")).rejects.toBeInstanceOf(InputError);
  });

  it("keeps the lease exclusive between two owners until it expires, then lets the other take over", async () => {
    const clock = new TestClock();
    const { checkpoints } = await azurite.store({ now: clock.now });
    const sub = "11111111-2222-3333-4444-555555555555";
    const first = await checkpoints.acquire(sub, 60_000, "instance-a");
    expect(first?.owner).toBe("instance-a");
    expect(await checkpoints.acquire(sub, 60_000, "instance-b")).toBeUndefined();
    clock.advance(59_000);
    expect(await checkpoints.acquire(sub, 60_000, "instance-b")).toBeUndefined();
    clock.advance(2_000); // a's lease has run out (a crashed)
    const taken = await checkpoints.acquire(sub, 60_000, "instance-b");
    expect(taken?.owner).toBe("instance-b");
    expect(await checkpoints.release(first!)).toBe(false); // a lost it
    expect(await checkpoints.release(taken!)).toBe(true);
    expect(await checkpoints.acquire(sub, 60_000, "instance-a")).toBeDefined();
  });

  it("gives a contested lease to exactly one of many instances", async () => {
    const { checkpoints } = await azurite.store();
    const sub = "22222222-2222-3333-4444-555555555555";
    const leases = await Promise.all(Array.from({ length: 10 }, (_, index) => checkpoints.acquire(sub, 60_000, `instance-${index}`)));
    expect(leases.filter(Boolean)).toHaveLength(1);
  });

  it("survives a restart: a new store over the same storage sees the held lease", async () => {
    const sub = "33333333-2222-3333-4444-555555555555";
    const before = await azurite.store();
    expect(await before.checkpoints.acquire(sub, 60_000, "old-host")).toBeDefined();
    const after = await azurite.store();
    expect(await after.checkpoints.acquire(sub, 60_000, "new-host")).toBeUndefined();
    expect(await after.checkpoints.acquire(sub, 60_000, "old-host")).toBeDefined(); // the same owner may re-take it
  });
});
