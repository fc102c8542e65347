/**
 * The burst benchmark's floor for remediators that cannot know install durations in advance (bench/bounds.ts):
 * the last agent PUTs leave at the write bucket's pace, and the drawn durations fall into those slots in an order
 * nobody could choose.
 */
import { describe, expect, it } from "vitest";
import { blindDurationsSeconds } from "../../bench/bounds.js";

/** Uniform draws over [low, high], evenly spaced: a seeded-free stand-in for the emulator's install durations. */
const spread = (n: number, low: number, high: number): number[] => Array.from({ length: n }, (_, i) => low + ((high - low) * i) / Math.max(1, n - 1));

describe("floor with install durations unknown in advance", () => {
  it("is the last agent PUT's slot plus the install when every install takes as long", () => {
    // 1,000 machines: 2,000 chain writes through 160 + 10/s; the last agent PUT leaves at 184 s.
    expect(blindDurationsSeconds(Array(1000).fill(100), 1)).toBeCloseTo(284, 6);
  });

  it("with durations of 60-240 s in one subscription, lands near the last slot plus the longest install: far above the write quota's 284 s", () => {
    const floor = blindDurationsSeconds(spread(1000, 60, 240), 42);
    expect(floor).toBeGreaterThan(400);
    expect(floor).toBeLessThanOrEqual(184 + 240);
  });

  it("for 100 machines of a subscription (all within the bucket), is about the longest install: the chain floor binds", () => {
    const floor = blindDurationsSeconds(spread(100, 60, 240), 42);
    expect(floor).toBeGreaterThan(230);
    expect(floor).toBeLessThanOrEqual(4 + 240);
  });

  it("repeats exactly for a seed", () => {
    expect(blindDurationsSeconds(spread(300, 60, 240), 7)).toBe(blindDurationsSeconds(spread(300, 60, 240), 7));
  });
});
