/**
 * Security: the write guard refuses forged plan items (another subscription, opted-out machines, groups
 * and subscriptions, ids that are not ARM ids) with OutOfScope and not one request to the target;
 * the ARM token and the storage key never reach a log line or the CLI's output; the HTTP endpoints
 * require a function key.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import functions from "@azure/functions";
import { createGateway, type ArmWriter } from "../../src/azure/gateway.js";
import { applyPlan } from "../../src/apply/applyPlan.js";
import { confirmationsFor, reconcile } from "../../src/engine.js";
import { createLogger } from "../../src/log.js";
import { idKey } from "../../src/azure/ids.js";
import type { Plan, PlanItem } from "../../src/plan/plan.js";
import { demoEstate, machineWith } from "../../local-azure/src/estate.js";
import { startEngineHarness, type EngineHarness } from "../support/engineHarness.js";

let h: EngineHarness;
const estate = demoEstate();
const production = estate.subscriptions.find((subscription) => subscription.displayName === "Contoso Production")!;
const data = estate.subscriptions.find((subscription) => subscription.displayName === "Contoso Data")!;
const sandbox = estate.subscriptions.find((subscription) => subscription.optedOut)!;

beforeAll(async () => {
  h = await startEngineHarness();
});
afterAll(() => h.close());

/** Runs the engine and keeps the writer it built (bound to the run's own guard) for forged writes. */
async function capturedWriter(request: Parameters<typeof reconcile>[0], env: Record<string, string>): Promise<ArmWriter> {
  const settings = h.settings(env);
  const gateway = createGateway(settings);
  let captured: ArmWriter | undefined;
  const writer = gateway.writer.bind(gateway);
  gateway.writer = (guard) => (captured = writer(guard));
  await reconcile(request, { settings, gateway, logger: createLogger({ level: "silent" }) });
  if (!captured) throw new Error("the run planned no write, so it built no writer");
  return captured;
}

function forgedItem(action: PlanItem["action"], method: PlanItem["method"], targetId: string, body?: Record<string, unknown>): PlanItem {
  return {
    key: `${action} ${idKey(targetId)}`,
    action,
    method,
    targetId,
    apiVersion: "2024-07-01",
    subscriptionId: targetId.split("/")[2] ?? "",
    ...(body ? { body } : {}),
    observed: "absent",
    reason: "forged: the plan says so",
    dependsOn: [],
    after: [],
  };
}

const extension = (machineId: string) =>
  forgedItem("installExtension", "PUT", `${machineId}/extensions/AzureMonitorWindowsAgent`, {
    location: "eastus",
    properties: { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorWindowsAgent", typeHandlerVersion: "1.0", autoUpgradeMinorVersion: true },
  });

async function applyForged(writer: ArmWriter, items: PlanItem[]) {
  h.azure.resetRequests();
  const plan: Plan = { version: 1, createdAt: new Date().toISOString(), dryRun: false, items, assessments: [], findings: [] };
  return applyPlan(plan, writer, { runId: "forged", logger: createLogger({ level: "silent" }), confirmations: confirmationsFor(createGateway(h.settings()), h.settings()) });
}

const requestsTo = (targetId: string) => h.azure.requests.filter((entry) => idKey(entry.path) === idKey(targetId) || idKey(entry.path).startsWith(`${idKey(targetId)}/`));

describe("the write guard, whatever the plan says", () => {
  const cases: [string, () => PlanItem][] = [
    ["an extension on a machine in a subscription outside the scope", () => extension(machineWith(estate, "arc-windows-connected").id)],
    ["an identity PATCH on a machine outside the scope", () => forgedItem("updateMachineIdentity", "PATCH", machineWith(estate, "sql-vm-windows").id, { identity: { type: "SystemAssigned" } })],
    ["a DELETE of a machine's agent outside the scope", () => forgedItem("removeExtension", "DELETE", `${machineWith(estate, "arc-windows-connected").id}/extensions/AzureMonitorWindowsAgent`)],
    ["a workspace in a subscription outside the scope", () => forgedItem("createWorkspace", "PUT", `${data.id}/resourceGroups/DefaultResourceGroup-SUK/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-${data.subscriptionId}-SUK`, { location: "uksouth" })],
    ["an extension on a machine tagged opt-out", () => extension(machineWith(estate, "opt-out-machine").id)],
    ["an association on a machine tagged opt-out", () => forgedItem("associateDataCollectionRule", "PUT", `${machineWith(estate, "opt-out-machine").id}/providers/Microsoft.Insights/dataCollectionRuleAssociations/ama-remediator`, { properties: { dataCollectionRuleId: "x" } })],
    ["an extension on a machine in a resource group tagged opt-out", () => extension(machineWith(estate, "opt-out-resource-group").id)],
    ["an extension on a machine in a subscription tagged opt-out", () => extension(machineWith(estate, "opt-out-subscription").id)],
    ["a resource group in a subscription tagged opt-out", () => forgedItem("createResourceGroup", "PUT", `${sandbox.id}/resourceGroups/DefaultResourceGroup-EUS`, { location: "eastus" })],
  ];

  let sweepWriter: ArmWriter;
  beforeAll(async () => {
    h.load(estate);
    // The scope: Production and the opted-out Sandbox; Data stays outside.
    sweepWriter = await capturedWriter({}, { REMEDIATION_SUBSCRIPTIONS: `${production.subscriptionId},${sandbox.subscriptionId}` });
  });

  it.each(cases)("after a sweep: %s → failed OutOfScope, no request to it", async (_name, item) => {
    const forged = item();
    const results = await applyForged(sweepWriter, [forged]);
    expect(results.get(forged.key)).toMatchObject({ outcome: "failed", error: { code: "OutOfScope", message: expect.stringMatching(/^refusing to write/) } });
    expect(requestsTo(forged.targetId)).toEqual([]);
  });

  it.each<[string, string]>([
    ["a '..' id climbing into another subscription", `/subscriptions/${production.subscriptionId}/resourceGroups/../../${data.subscriptionId}/resourceGroups/rg-data/providers/Microsoft.Compute/virtualMachines/vm/extensions/x`],
    ["a tenant-level id", "/providers/Microsoft.Management/managementGroups/root/providers/Microsoft.Authorization/policyAssignments/x"],
  ])("after a sweep: %s → failed, no request at all", async (_name, targetId) => {
    const forged = forgedItem("assignPolicy", "PUT", targetId, {});
    const results = await applyForged(sweepWriter, [forged]);
    expect(results.get(forged.key)?.outcome).toBe("failed");
    expect(h.azure.requests).toEqual([]);
  });

  it("after a sweep: an id that is not an ARM id is refused with OutOfScope", async () => {
    const forged = forgedItem("assignPolicy", "PUT", "/providers/Microsoft.Management/managementGroups/root/providers/Microsoft.Authorization/policyAssignments/x", {});
    const results = await applyForged(sweepWriter, [forged]);
    expect(results.get(forged.key)?.error?.code).toBe("OutOfScope");
  });

  it("the forged items fail one by one; a genuine write beside them still goes through", async () => {
    const genuine = extension(machineWith(estate, "system-identity", "windows").id);
    const forged = extension(machineWith(estate, "opt-out-machine").id);
    const results = await applyForged(sweepWriter, [forged, genuine]);
    expect(results.get(forged.key)?.outcome).toBe("failed");
    expect(results.get(genuine.key)?.outcome).toBe("succeeded");
  });

  it.each<[string, () => PlanItem]>([
    ["an opted-out machine the run did not name", () => extension(machineWith(estate, "opt-out-machine").id)],
    ["a machine in an opted-out group the run did not name", () => extension(machineWith(estate, "opt-out-resource-group").id)],
  ])("after a targeted run: %s → refused", async (_name, item) => {
    h.load(estate);
    const named = machineWith(estate, "no-identity", "windows");
    const writer = await capturedWriter({ resourceIds: [named.id] }, {});
    const forged = item();
    const results = await applyForged(writer, [forged]);
    expect(requestsTo(forged.targetId)).toEqual([]);
    expect(results.get(forged.key)?.error?.code).toBe("OutOfScope");
  });
});

describe("HTTP endpoints require a function key", () => {
  it("every app.http registration has authLevel function", async () => {
    const http = vi.spyOn(functions.app, "http");
    await import("../../src/functions/runsApi.js");
    await import("../../src/functions/metricsApi.js");
    await import("../../src/functions/healthApi.js");
    await import("../../src/functions/onResourceWrite.js");
    await import("../../src/functions/sweepTimer.js");
    await import("../../src/functions/workItems.js");
    const registrations = http.mock.calls.map(([name, options]) => [name, options.authLevel]);
    http.mockRestore();
    expect(registrations.map(([name]) => name).sort()).toEqual(["health", "metrics", "runReport", "runs"]);
    for (const [name, authLevel] of registrations) expect(authLevel, String(name)).toBe("function");
  });
});

describe("the CLI's output", () => {
  it("never carries the ARM token, at LOG_LEVEL trace, through a run with failures and bad input", async () => {
    const { tsNodeArgs } = await import("./support.js");
    h.load(estate);
    h.azure.setFaults({ forbidden: [{ scope: machineWith(estate, "no-identity", "windows").id }] });
    const args = await tsNodeArgs();
    const run = (argv: string[], env: Record<string, string> = {}) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, [...args, "src/cli/bin.ts", ...argv], { env: { ...process.env, ...h.env({ LOG_LEVEL: "trace", ...env }) }, stdio: ["ignore", "pipe", "pipe"] });
        const chunks: Buffer[] = [];
        child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
        child.stderr.on("data", (chunk: Buffer) => chunks.push(chunk));
        child.on("exit", (code) => resolve({ code, output: Buffer.concat(chunks).toString("utf8") }));
      });
    const outputs = await Promise.all([run(["sweep", "--json"]), run(["sweep", "--subscription", "nope"]), run(["sweep"], { ARM_TOKEN: `${h.azure.token}x` })]);
    expect(outputs.map((output) => output.code)).toEqual([1, 2, 1]);
    expect(outputs[0]?.output).toMatch(/"level":10|"level":20|"level":30/); // the logs really were captured
    for (const { output } of outputs) {
      expect(output).not.toContain(h.azure.token);
      expect(output).not.toMatch(/Bearer [A-Za-z0-9-_.]+/);
    }
  }, 60_000);
});
