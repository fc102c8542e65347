import { describe, expect, it } from "vitest";
import { TestClock, useAzurite } from "./stateFixture.js";

const azurite = useAzurite();
const SUB = "8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f";
const VM = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1`;

describe("PendingMachines", () => {
  it("keeps what each event named with its cause; named twice, the earliest eventTime and its cause win", async () => {
    const { pending } = await azurite.store();
    const subscription = `/subscriptions/${SUB}`;
    await pending.add(SUB, { resourceId: VM, scope: "machine", cause: "extensionFailed", since: new Date("2026-11-30T08:00:05Z"), eventId: "e2" });
    await pending.add(SUB, { resourceId: VM.toUpperCase().replace("/SUBSCRIPTIONS/", "/subscriptions/"), scope: "machine", cause: "machineCreated", since: new Date("2026-11-30T08:00:00Z"), eventId: "e1" });
    await pending.add(SUB, { resourceId: VM, scope: "machine", cause: "optOutRemoved", since: new Date("2026-11-30T08:00:09Z"), eventId: "e3" });
    await pending.add(SUB, { resourceId: subscription, scope: "subscription", cause: "planEnabled", since: new Date("2026-11-30T08:01:00Z"), eventId: "e4" });

    const listed = await pending.list(SUB, 10);
    expect(listed.map(({ scope, cause, since }) => ({ scope, cause, since }))).toEqual(
      expect.arrayContaining([
        { scope: "machine", cause: "machineCreated", since: "2026-11-30T08:00:00.000Z" },
        { scope: "subscription", cause: "planEnabled", since: "2026-11-30T08:01:00.000Z" },
      ]),
    );
    expect(listed).toHaveLength(2);
    await pending.remove(SUB, listed);
    expect(await pending.list(SUB, 10)).toEqual([]);
  });

  it("a machine named again while a flush runs stays for the next flush, even when its earlier eventTime is kept", async () => {
    const clock = new TestClock();
    const { pending } = await azurite.store({ now: clock.now });
    await pending.add(SUB, { resourceId: `${VM}-2`, scope: "machine", cause: "machineStarted", since: new Date("2026-11-30T08:00:00Z"), eventId: "a" });
    const taken = await pending.list(SUB, 10);
    clock.advance(1_000);
    await pending.add(SUB, { resourceId: `${VM}-2`, scope: "machine", cause: "extensionFailed", since: new Date("2026-11-30T08:00:30Z"), eventId: "b" });
    await pending.remove(SUB, taken);
    expect((await pending.list(SUB, 10)).map(({ cause, since }) => ({ cause, since }))).toEqual([{ cause: "machineStarted", since: "2026-11-30T08:00:00.000Z" }]);
  });

  it("refuses an invalid eventTime before writing anything", async () => {
    const { pending } = await azurite.store();
    const other = "0b7f5e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
    await expect(pending.add(other, { resourceId: VM, scope: "machine", cause: "machineCreated", since: new Date("nope"), eventId: "x" })).rejects.toThrow(/since is not a valid date/);
    expect(await pending.list(other, 10)).toEqual([]);
  });
});

describe("ReinstallAttempts", () => {
  it("counts reinstalls per machine and UTC day, and purges past days", async () => {
    const clock = new TestClock(Date.parse("2026-11-30T23:59:00Z"));
    const { reinstalls } = await azurite.store({ now: clock.now });
    expect(await reinstalls.record(VM)).toBe(1);
    expect(await reinstalls.record(VM.toUpperCase().replace("/SUBSCRIPTIONS/", "/subscriptions/"))).toBe(2);
    expect(await reinstalls.today([VM, `${VM}-never`])).toEqual(new Map([[VM.toLowerCase(), 2]]));

    clock.advance(2 * 60_000); // past midnight UTC: a new day starts at zero
    expect(await reinstalls.today([VM])).toEqual(new Map());
    expect(await reinstalls.record(VM)).toBe(1);
    expect(await reinstalls.purgeBefore()).toBeGreaterThanOrEqual(1);
    expect(await reinstalls.today([VM])).toEqual(new Map([[VM.toLowerCase(), 1]]));
  });

  it("counts every one of concurrent reinstalls", async () => {
    const { reinstalls } = await azurite.store();
    const machine = `${VM}-concurrent`;
    await Promise.all(Array.from({ length: 8 }, () => reinstalls.record(machine)));
    expect(await reinstalls.today([machine])).toEqual(new Map([[machine.toLowerCase(), 8]]));
  });
});
