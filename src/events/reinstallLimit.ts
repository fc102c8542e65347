/**
 * The bound on reinstalling a Failed agent extension from events. A reinstall that fails raises another
 * ResourceWriteFailure, so the event path alone would retry an extension that cannot install for ever.
 * Pure: today's counts come in as data (src/state/reinstallAttempts.ts keeps them).
 */
import { idKey, parseResourceId } from "../azure/ids.js";
import type { Plan } from "../plan/plan.js";
import type { ReportResource } from "../report/buildReport.js";
import type { DriftCause } from "../report/timing.js";

export interface NamedMachine {
  readonly resourceId: string;
  readonly cause?: DriftCause;
}

/**
 * The machines (by idKey, with today's count) held back: named only because an extension write failed or
 * left it Failed, and already reinstalled `limit` times today. Named for any other cause, a machine is
 * reconciled whatever its count: that drift is new.
 */
export function heldBackByReinstallLimit(named: readonly NamedMachine[], attemptsToday: ReadonlyMap<string, number>, limit: number): Map<string, number> {
  const held = new Map<string, number>();
  for (const machine of named) {
    const attempts = attemptsToday.get(idKey(machine.resourceId)) ?? 0;
    if (machine.cause === "extensionFailed" && attempts >= limit) held.set(idKey(machine.resourceId), attempts);
  }
  return held;
}

/** The machines whose Failed agent extension the plan reinstalls (each counts one attempt). */
export function plannedReinstalls(plan: Plan): string[] {
  return plan.assessments.filter((assessment) => assessment.needs.some((need) => need.kind === "extension" && need.why === "failed")).map((assessment) => assessment.machine.id);
}

/** How a held-back machine shows in the run's report. */
export function heldBackReport(machineId: string, attempts: number, limit: number): ReportResource {
  const parsed = parseResourceId(machineId);
  return {
    id: machineId,
    kind: parsed.resourceType.toLowerCase() === "microsoft.hybridcompute/machines" ? "arcMachine" : "virtualMachine",
    subscriptionId: parsed.subscriptionId,
    status: "skipped",
    actions: [],
    notes: [
      `an agent extension write failed and events already reinstalled it ${attempts} time(s) today (EXTENSION_REINSTALL_ATTEMPTS_PER_DAY=${limit}): not reinstalled again before tomorrow's sweep; its error needs a look`,
    ],
  };
}
