/**
 * Time-to-compliant on a report's machines: from the drift the run knew (an event, an earlier sighting)
 * or its own start, to when its last write succeeded; nothing claimed for what was not verified.
 */
import { describe, expect, it } from "vitest";
import type { ItemResult } from "../../src/apply/applyPlan.js";
import { buildReport, driftSeenFor } from "../../src/report/buildReport.js";
import type { DriftSeen } from "../../src/report/timing.js";
import { idKey } from "../../src/azure/ids.js";
import { ownedRuleId } from "../../src/defender/names.js";
import type { Plan } from "../../src/plan/plan.js";
import { RG, SUB, ama, association, planOf, settingsWith, snapshot, subscription, vm } from "../support/snapshotBuilder.js";

const STARTED = new Date("2026-11-25T10:00:00.000Z");
const FINISHED = new Date("2026-11-25T10:05:00.000Z");
const eusGroup = `/subscriptions/${SUB}/resourceGroups/DefaultResourceGroup-EUS`;

const compliant = (() => {
  const machine = vm("vm-ok");
  return { ...machine, extensions: [ama(machine)], associations: [association(machine, "x", ownedRuleId(SUB, "eastus"))] };
})();
const drifted = vm("vm-new", { identity: { systemAssigned: false } });

function planned(machines = [compliant, drifted]): Plan {
  const sub = subscription({
    existing: [eusGroup, `${eusGroup}/providers/Microsoft.OperationsManagement/solutions/SecurityCenterFree(DefaultWorkspace-${SUB}-EUS)`, ownedRuleId(SUB, "eastus")],
    workspaces: [{ id: `${eusGroup}/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-${SUB}-EUS`, location: "eastus" }],
  });
  return planOf(snapshot(machines, { subscriptions: [sub] }), settingsWith());
}

/** Every item succeeded, the n-th finishing `finishedAfterMs[n]` after the run started. */
function succeeded(plan: Plan, finishedAfterMs: readonly number[]): Map<string, ItemResult> {
  return new Map(
    plan.items.map((item, index) => [item.key, { key: item.key, outcome: "succeeded", startedAt: STARTED.toISOString(), durationMs: finishedAfterMs[index] ?? 1_000 }]),
  );
}

const timingOf = (plan: Plan, results: ReadonlyMap<string, ItemResult> | undefined, drift?: ReadonlyMap<string, DriftSeen>) => {
  const report = buildReport("run-t", plan, results, STARTED, FINISHED, drift);
  return (name: string) => report.resources.find((resource) => resource.id.endsWith(`/${name}`))?.timing;
};

describe("timing on a report's machines", () => {
  it("an event's drift: from its eventTime to the completion of the machine's last write", () => {
    const plan = planned();
    const drift = new Map([[idKey(drifted.id), { cause: "machineCreated", since: "2026-11-25T09:59:00.000Z" } as const]]);
    const timing = timingOf(plan, succeeded(plan, [2_000, 45_000, 7_000]), drift)("vm-new");
    expect(timing).toEqual({
      cause: "machineCreated",
      driftBeganAt: "2026-11-25T09:59:00.000Z",
      startedAt: STARTED.toISOString(),
      verifiedAt: "2026-11-25T10:00:45.000Z",
      secondsToCompliant: 105,
    });
  });

  it("no drift known: a sweep saw it first, when the run started", () => {
    const plan = planned();
    expect(timingOf(plan, succeeded(plan, [1_500]))("vm-new")).toMatchObject({ cause: "sweep", driftBeganAt: STARTED.toISOString(), secondsToCompliant: expect.any(Number) });
  });

  it("a machine already compliant was not acted on: no timing", () => {
    const plan = planned();
    expect(timingOf(plan, succeeded(plan, []))("vm-ok")).toBeUndefined();
  });

  it("a dry run and a failed write start the clock but verify nothing", () => {
    const plan = planned();
    expect(timingOf({ ...plan, dryRun: true }, undefined)("vm-new")).toEqual({ cause: "sweep", driftBeganAt: STARTED.toISOString(), startedAt: STARTED.toISOString() });
    const [first, ...rest] = plan.items;
    const failed = new Map<string, ItemResult>([
      [first!.key, { key: first!.key, outcome: "failed", startedAt: STARTED.toISOString(), durationMs: 10, error: { code: "AuthorizationFailed", message: "no" } }],
      ...[...succeeded({ ...plan, items: rest }, [])],
    ]);
    const timing = timingOf(plan, failed)("vm-new");
    expect(timing).toMatchObject({ cause: "sweep" });
    expect(timing).not.toHaveProperty("verifiedAt");
    expect(timing).not.toHaveProperty("secondsToCompliant");
  });

  it("an event about the machine's resource group or subscription counts for the machine; its own entry wins", () => {
    const groupEvent: DriftSeen = { cause: "optOutRemoved", since: "2026-11-25T09:00:00.000Z" };
    const planEvent: DriftSeen = { cause: "planEnabled", since: "2026-11-25T08:00:00.000Z" };
    const ownEvent: DriftSeen = { cause: "machineStarted", since: "2026-11-25T09:30:00.000Z" };
    const group = `/subscriptions/${SUB}/resourceGroups/${RG}`;
    expect(driftSeenFor(new Map([[idKey(group), groupEvent]]), drifted.id, STARTED)).toEqual(groupEvent);
    expect(driftSeenFor(new Map([[idKey(`/subscriptions/${SUB}`), planEvent]]), drifted.id, STARTED)).toEqual(planEvent);
    expect(driftSeenFor(new Map([[idKey(`/subscriptions/${SUB}`), planEvent], [idKey(drifted.id), ownEvent]]), drifted.id, STARTED)).toEqual(ownEvent);
  });

  it("an unreadable time is not trusted, and an event stamped after the fix never reads as negative", () => {
    expect(driftSeenFor(new Map([[idKey(drifted.id), { cause: "machineCreated", since: "yesterday" }]]), drifted.id, STARTED)).toEqual({ cause: "sweep", since: STARTED.toISOString() });
    const plan = planned();
    const future = new Map([[idKey(drifted.id), { cause: "machineCreated", since: "2026-11-25T11:00:00.000Z" } as const]]);
    expect(timingOf(plan, succeeded(plan, [1_000]), future)("vm-new")?.secondsToCompliant).toBe(0);
  });
});
