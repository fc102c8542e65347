import { describe, expect, it } from "vitest";
import { Semaphore } from "../src/concurrency.js";

describe("Semaphore", () => {
  it("lets at most `limit` in, and the waiting go in by priority, then in arrival order", async () => {
    const semaphore = new Semaphore(1);
    const order: string[] = [];
    let release!: () => void;
    const holder = semaphore.use(() => new Promise<void>((resolve) => (release = resolve)));
    const waiting = [
      semaphore.use(async () => void order.push("association"), 3),
      semaphore.use(async () => void order.push("agent a"), 2),
      semaphore.use(async () => void order.push("identity"), 1),
      semaphore.use(async () => void order.push("agent b"), 2),
    ];
    await Promise.resolve();
    expect(order).toEqual([]);
    release();
    await Promise.all([holder, ...waiting]);
    expect(order).toEqual(["identity", "agent a", "agent b", "association"]);
  });
});
