import { describe, expect, it } from "vitest";
import type { ItemResult } from "../../src/apply/applyPlan.js";
import { buildReport, type Report } from "../../src/report/buildReport.js";
import { formatTable } from "../../src/report/formatTable.js";
import type { Plan } from "../../src/plan/plan.js";
import { ownedRuleId } from "../../src/defender/names.js";
import { SUB, ama, association, planOf, settingsWith, snapshot, sqlVm, subscription, vm } from "../support/snapshotBuilder.js";

const STARTED = new Date("2026-11-25T10:00:00.000Z");
const FINISHED = new Date("2026-11-25T10:00:05.000Z");
const eusGroup = `/subscriptions/${SUB}/resourceGroups/DefaultResourceGroup-EUS`;

const compliant = (() => {
  const machine = vm("vm-ok");
  return { ...machine, extensions: [ama(machine)], associations: [association(machine, "x", ownedRuleId(SUB, "eastus"))] };
})();
const needsAgent = vm("vm-new", { identity: { systemAssigned: false } });
const optedOut = vm("vm-optout", { tags: { "ama-remediation": "skip" } });
const deallocated = { ...vm("vm-off", { power: "deallocated" }), associations: [association(vm("vm-off"), "x", ownedRuleId(SUB, "eastus"))] };

/** Everything around the machines already exists, so shared items stay out of the way unless a test wants them. */
function planned(machines = [compliant, needsAgent, optedOut, deallocated], legacy: "On" | "Off" = "Off"): Plan {
  const sub = subscription({
    legacyAutoProvisioning: legacy,
    existing: [eusGroup, `${eusGroup}/providers/Microsoft.OperationsManagement/solutions/SecurityCenterFree(DefaultWorkspace-${SUB}-EUS)`, ownedRuleId(SUB, "eastus")],
    workspaces: [{ id: `${eusGroup}/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-${SUB}-EUS`, location: "eastus" }],
  });
  return planOf(snapshot(machines, { subscriptions: [sub] }), settingsWith());
}

function result(key: string, outcome: ItemResult["outcome"], error?: { code: string; message: string }): ItemResult {
  return { key, outcome, startedAt: STARTED.toISOString(), durationMs: 12, ...(error ? { error } : {}) };
}

const statusOf = (report: Report, name: string) => report.resources.find((resource) => resource.id.endsWith(`/${name}`));

describe("buildReport", () => {
  it("a dry run: planned, compliant and skipped machines, with reasons, and totals that add up", () => {
    const report = buildReport("run-1", { ...planned(), dryRun: true }, undefined, STARTED, FINISHED);
    expect(report).toMatchObject({ runId: "run-1", dryRun: true, startedAt: STARTED.toISOString(), finishedAt: FINISHED.toISOString() });
    expect(statusOf(report, "vm-ok")).toMatchObject({ status: "compliant", actions: [], notes: [] });
    expect(statusOf(report, "vm-new")).toMatchObject({
      kind: "virtualMachine",
      status: "planned",
      actions: [
        { action: "updateMachineIdentity", method: "PATCH", outcome: "planned", reason: "no system-assigned identity" },
        { action: "installExtension", method: "PUT", outcome: "planned" },
        { action: "associateDataCollectionRule", method: "PUT", outcome: "planned" },
      ],
    });
    expect(statusOf(report, "vm-optout")).toMatchObject({ status: "skipped", notes: ["machine tagged ama-remediation: skip"] });
    expect(statusOf(report, "vm-off")).toMatchObject({ status: "skipped", notes: [expect.stringMatching(/VM is deallocated/)] });
    expect(report.summary).toEqual({ compliant: 1, remediated: 0, planned: 1, failed: 0, skipped: 2 });
  });

  it("after apply: succeeded items make the machine remediated", () => {
    const plan = planned([needsAgent]);
    const results = new Map(plan.items.map((item) => [item.key, result(item.key, "succeeded")]));
    const report = buildReport("run-2", plan, results, STARTED, FINISHED);
    expect(statusOf(report, "vm-new")?.status).toBe("remediated");
    expect(statusOf(report, "vm-new")?.actions.every((action) => action.outcome === "succeeded")).toBe(true);
  });

  it("a failed item fails its machine with ARM's code; an item skipped for it is reported too", () => {
    const plan = planned([needsAgent]);
    const [identity, ...rest] = plan.items;
    const results = new Map<string, ItemResult>([
      [identity!.key, result(identity!.key, "failed", { code: "AuthorizationFailed", message: "does not have authorization to perform action 'Microsoft.Compute/virtualMachines/write'" })],
      ...rest.map((item): [string, ItemResult] => [item.key, result(item.key, "skipped", { code: "DependencyFailed", message: `depends on ${identity!.key}, which failed` })]),
    ]);
    const report = buildReport("run-3", plan, results, STARTED, FINISHED);
    expect(statusOf(report, "vm-new")).toMatchObject({
      status: "failed",
      actions: [{ outcome: "failed", error: { code: "AuthorizationFailed" } }, { outcome: "skipped", error: { code: "DependencyFailed" } }, { outcome: "skipped" }],
    });
    expect(report.summary.failed).toBe(1);
  });

  it("a machine with writes done and writes that need the guest: remediated, with the reason for the rest", () => {
    const plan = planned([vm("vm-off2", { power: "stopped", identity: { systemAssigned: false } })]);
    const report = buildReport("run-4", plan, new Map(plan.items.map((item) => [item.key, result(item.key, "succeeded")])), STARTED, FINISHED);
    expect(statusOf(report, "vm-off2")).toMatchObject({ status: "remediated", notes: [expect.stringMatching(/VM is stopped/)] });
  });

  it("shared resources are reported on their own, with the subscription's findings", () => {
    const plan = planOf(snapshot([vm("vm-1")], { subscriptions: [subscription({ legacyAutoProvisioning: "On" })] }), settingsWith());
    const report = buildReport("run-5", plan, undefined, STARTED, FINISHED);
    const shared = report.resources.filter((resource) => resource.kind === "shared");
    expect(shared.map((resource) => resource.actions[0]?.action)).toEqual(["createResourceGroup", "createWorkspace", "installSolution", "createDataCollectionRule"]);
    expect(shared.every((resource) => resource.status === "planned" && resource.subscriptionId === SUB)).toBe(true);
    expect(report.subscriptions).toEqual([{ subscriptionId: SUB, notes: [expect.stringMatching(/autoprovisioning is On/)] }]);
  });
});

describe("formatTable", () => {
  it("one row per resource, failures with their code, findings, and the totals", () => {
    const plan = planned(undefined, "On");
    const failedKey = plan.items[0]!.key;
    const results = new Map(plan.items.map((item) => [item.key, item.key === failedKey ? result(item.key, "failed", { code: "Conflict", message: "busy" }) : result(item.key, "succeeded")]));
    const table = formatTable(buildReport("run-6", plan, results, STARTED, FINISHED));
    const lines = table.split("\n");
    expect(lines[0]).toMatch(/^STATUS\s+KIND\s+RESOURCE\s+ACTIONS \/ NOTES$/);
    expect(lines.find((line) => line.includes("rg-workload/vm-new"))).toMatch(/^failed\s+vm\s+rg-workload\/vm-new\s+updateMachineIdentity \(failed: Conflict busy\)/);
    expect(lines.find((line) => line.includes("vm-optout"))).toMatch(/^skipped\s+vm\s+.*machine tagged ama-remediation: skip$/);
    expect(table).toContain(`subscription ${SUB}: legacy Log Analytics agent (MMA) autoprovisioning is On`);
    expect(lines.at(-1)).toBe("1 compliant, 0 remediated, 0 planned, 1 failed, 2 skipped");
  });

  it("names subscription-scoped resources (policy and role assignments) so each row can be told apart", () => {
    const plan = planOf(snapshot([sqlVm("sqlvm-1")], { subscriptions: [subscription({ sqlServersOnMachinesPlan: { tier: "Standard" } })] }), settingsWith());
    const rows = formatTable(buildReport("run-8", { ...plan, dryRun: true }, undefined, STARTED, FINISHED)).split("\n").filter((line) => /assignPolicy|assignRole/.test(line));
    expect(rows).toHaveLength(6);
    const resourceCells = rows.map((line) => line.split(/\s{2,}/)[2]);
    expect(new Set(resourceCells).size).toBe(6);
    expect(resourceCells.some((cell) => cell?.includes("Defender for SQL on SQL VMs and Arc-enabled SQL Servers"))).toBe(true);
  });

  it("says so on a dry run", () => {
    const table = formatTable(buildReport("run-7", { ...planned(), dryRun: true }, undefined, STARTED, FINISHED));
    expect(table.split("\n").at(-1)).toBe("Dry run (nothing changed): 1 compliant, 0 remediated, 1 planned, 0 failed, 2 skipped");
  });
});
