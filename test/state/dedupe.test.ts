import { describe, expect, it } from "vitest";
import { TestClock, useAzurite } from "./stateFixture.js";

const azurite = useAzurite();

describe("Dedupe", () => {
  it("claims once within the ttl, and again after it expires", async () => {
    const clock = new TestClock();
    const { dedupe } = await azurite.store({ now: clock.now });
    expect(await dedupe.claim("6a1e0c7e-2f5b-4d7e-8a61-1f0b9f3c2d11", 60_000)).toBe(true);
    expect(await dedupe.claim("6a1e0c7e-2f5b-4d7e-8a61-1f0b9f3c2d11", 60_000)).toBe(false);
    clock.advance(60_001);
    expect(await dedupe.claim("6a1e0c7e-2f5b-4d7e-8a61-1f0b9f3c2d11", 60_000)).toBe(true);
    expect(await dedupe.claim("6a1e0c7e-2f5b-4d7e-8a61-1f0b9f3c2d11", 60_000)).toBe(false);
  });

  it("lets exactly one of many concurrent claimers win, also for an expired key", async () => {
    const clock = new TestClock();
    const { dedupe } = await azurite.store({ now: clock.now });
    const fresh = await Promise.all(Array.from({ length: 10 }, () => dedupe.claim("race", 1_000)));
    expect(fresh.filter(Boolean)).toHaveLength(1);
    clock.advance(2_000);
    const reclaimed = await Promise.all(Array.from({ length: 10 }, () => dedupe.claim("race", 1_000)));
    expect(reclaimed.filter(Boolean)).toHaveLength(1);
  });

  it("accepts keys with characters Table keys forbid, and releases a claim", async () => {
    const { dedupe } = await azurite.store();
    const key = "a/b\\c#d?e\u0001" + "x".repeat(2_000);
    expect(await dedupe.claim(key, 60_000)).toBe(true);
    expect(await dedupe.claim(key, 60_000)).toBe(false);
    await dedupe.release(key);
    expect(await dedupe.claim(key, 60_000)).toBe(true);
    await expect(dedupe.claim("", 1_000)).rejects.toThrow(/non-empty/);
    await expect(dedupe.claim("k", 0)).rejects.toThrow(/ttlMs/);
  });

  it("purges expired claims only", async () => {
    const clock = new TestClock();
    const { dedupe } = await azurite.store({ now: clock.now });
    await dedupe.claim("purge-short", 1_000);
    await dedupe.claim("purge-long", 3_600_000);
    clock.advance(5_000);
    expect(await dedupe.purgeExpired()).toBeGreaterThanOrEqual(1);
    expect(await dedupe.claim("purge-long", 1_000)).toBe(false);
  });
});
