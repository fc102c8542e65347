import { describe, expect, it } from "vitest";
import { bodyHash } from "../../src/state/auditLog.js";
import { TestClock, useAzurite } from "./stateFixture.js";

const azurite = useAzurite();
const VM = "/subscriptions/8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f/resourceGroups/rg-sql-prod/providers/Microsoft.Compute/virtualMachines/sqlvm-01";

describe("AuditLog", () => {
  it("records who/what/when/result per action and reads a run's actions in order", async () => {
    const clock = new TestClock();
    const { audit } = await azurite.store({ now: clock.now });
    const body = { identity: { type: "SystemAssigned" } };
    await audit.record({
      runId: "audit-run",
      actor: { trigger: "eventGrid", principal: "11111111-2222-3333-4444-555555555555" },
      action: "updateMachineIdentity",
      targetId: VM,
      bodySha256: bodyHash(body),
      result: "succeeded",
      correlationId: "c0a8f3d2-9b7e-4d16-a2c4-5e6f7a8b9c0d",
    });
    clock.advance(1_000);
    await audit.record({
      runId: "audit-run",
      actor: { trigger: "eventGrid" },
      action: "installExtension",
      targetId: `${VM}/extensions/AzureMonitorWindowsAgent`,
      result: "failed",
      error: { code: "Conflict", message: "Another operation on this or dependent resource is in progress", statusCode: 409 },
    });
    const entries = await audit.listForRun("audit-run");
    expect(entries.map((entry) => entry.action)).toEqual(["updateMachineIdentity", "installExtension"]);
    expect(entries[0]).toEqual({
      runId: "audit-run",
      at: new Date("2026-11-24T09:00:00.000Z"),
      actor: { trigger: "eventGrid", principal: "11111111-2222-3333-4444-555555555555" },
      action: "updateMachineIdentity",
      targetId: VM,
      bodySha256: bodyHash(body),
      result: "succeeded",
      correlationId: "c0a8f3d2-9b7e-4d16-a2c4-5e6f7a8b9c0d",
    });
    expect(entries[1]?.error).toEqual({ code: "Conflict", message: "Another operation on this or dependent resource is in progress", statusCode: 409 });
  });

  it("a machine's write carries the machine's drift: its cause and when it began", async () => {
    const clock = new TestClock();
    const { audit } = await azurite.store({ now: clock.now });
    await audit.record({
      runId: "audit-drift",
      actor: { trigger: "eventGrid" },
      action: "installExtension",
      targetId: `${VM}/extensions/AzureMonitorWindowsAgent`,
      result: "succeeded",
      drift: { cause: "extensionFailed", since: "2026-11-24T08:55:00.000Z" },
    });
    clock.advance(1_000);
    await audit.record({ runId: "audit-drift", actor: { trigger: "timer" }, action: "createWorkspace", targetId: "/subscriptions/8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws", result: "succeeded" });
    const [machineWrite, sharedWrite] = await audit.listForRun("audit-drift");
    expect(machineWrite?.drift).toEqual({ cause: "extensionFailed", since: "2026-11-24T08:55:00.000Z" });
    expect(sharedWrite).not.toHaveProperty("drift");
  });

  it("hashes bodies canonically", () => {
    expect(bodyHash({ a: 1, b: { c: [1, 2], d: undefined } })).toBe(bodyHash({ b: { c: [1, 2] }, a: 1 }));
    expect(bodyHash({ a: 1 })).not.toBe(bodyHash({ a: 2 }));
    expect(bodyHash({ at: new Date("2026-01-01T00:00:00Z") })).toBe(bodyHash({ at: "2026-01-01T00:00:00.000Z" }));
  });
});
