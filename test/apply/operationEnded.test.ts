/**
 * ARM's event that a write's operation ended settles the write it names, and only that one: by the write's
 * correlation id, on the machine written. An event that arrives before the write is waited on (the operation
 * ended while the journal was being written) still counts once it is.
 */
import { describe, expect, it } from "vitest";
import { Confirmations, OPERATION_UNCONFIRMED, type ConfirmationSource, type PendingWrite } from "../../src/apply/confirmations.js";
import type { ResourceGraphRow } from "../../src/azure/gateway.js";

const MACHINE = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1";
const AGENT = `${MACHINE}/extensions/AzureMonitorWindowsAgent`;

/** Azure as seen by the confirmations: Resource Graph never shows the agent yet, and operations are still running. */
function azureStillRunning(): ConfirmationSource & { queries: number; checks: number } {
  const source = {
    queries: 0,
    checks: 0,
    async *queryResourceGraph(): AsyncIterable<ResourceGraphRow[]> {
      source.queries++;
      yield [];
    },
    async checkOperation() {
      source.checks++;
      return { status: "running" as const, requests: 1, retried: 0 };
    },
  };
  return source;
}

function agentInstall(correlationId: string): PendingWrite {
  return { targetId: AGENT, subscriptionId: "00000000-0000-4000-8000-000000000001", method: "PUT", operation: { resumeToken: "{}", correlationId }, startedAtMs: Date.now(), endState: { exists: true } };
}

const timing = { intervalMs: 20, checkOperationAfterMs: 60_000, timeoutMs: 300 };

describe("ARM's event for a write's operation", () => {
  it("settles the write it names at once: no read, no Resource Graph query", async () => {
    const source = azureStillRunning();
    const confirmations = new Confirmations(source, timing);
    const waiting = confirmations.confirm(agentInstall("C0FFEE00-0000-4000-8000-000000000001"));
    confirmations.hear({ correlationId: "c0ffee00-0000-4000-8000-000000000001", machineId: MACHINE.toUpperCase(), succeeded: true });
    await expect(waiting).resolves.toEqual({ reads: 0, retried: 0 });
    expect([source.queries, source.checks]).toEqual([0, 0]);
  });

  it("heard before the write is waited on, settles it as soon as it is", async () => {
    const source = azureStillRunning();
    const confirmations = new Confirmations(source, timing);
    confirmations.hear({ correlationId: "c0ffee00-0000-4000-8000-000000000002", machineId: MACHINE, succeeded: true });
    await expect(confirmations.confirm(agentInstall("c0ffee00-0000-4000-8000-000000000002"))).resolves.toEqual({ reads: 0, retried: 0 });
    expect(source.queries).toBe(0);
  });

  it("about another machine, or another write, settles nothing: the write waits for Resource Graph and, unseen, is given up as unconfirmed", async () => {
    const source = azureStillRunning();
    const confirmations = new Confirmations(source, timing);
    const waiting = confirmations.confirm(agentInstall("c0ffee00-0000-4000-8000-000000000003"));
    confirmations.hear({ correlationId: "c0ffee00-0000-4000-8000-000000000003", machineId: MACHINE.replace("vm-1", "vm-2"), succeeded: true });
    confirmations.hear({ correlationId: "c0ffee00-0000-4000-8000-000000000004", machineId: MACHINE, succeeded: true });
    await expect(waiting).rejects.toMatchObject({ code: OPERATION_UNCONFIRMED });
    expect(source.queries).toBeGreaterThan(0);
  });

  it("saying it failed has the operation looked at at once, for ARM's error", async () => {
    const source = azureStillRunning();
    const confirmations = new Confirmations(source, timing);
    const waiting = confirmations.confirm(agentInstall("c0ffee00-0000-4000-8000-000000000005"));
    confirmations.hear({ correlationId: "c0ffee00-0000-4000-8000-000000000005", machineId: MACHINE, succeeded: false });
    await expect(waiting).rejects.toMatchObject({ code: OPERATION_UNCONFIRMED });
    // Looked at directly although Resource Graph's rounds alone would not ask before checkOperationAfterMs.
    expect(source.checks).toBeGreaterThan(0);
  });
});
