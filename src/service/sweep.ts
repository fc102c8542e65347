/**
 * The timer sweep: per subscription, a full reconcile once per FULL_RECONCILE_HOURS, otherwise an
 * incremental sweep of what Resource Graph's change history shows changed since the last sweep (whatever
 * Event Grid missed; src/discover/changeDiscovery.ts), which costs in proportion to the changes. Checkpoints
 * live in Table Storage, so restarts and overlapping timers pick up where the last sweep ended.
 */
import { resolveSubscriptions } from "../engine.js";
import { changeHistoryCovers } from "../discover/changeDiscovery.js";
import type { RunSummary } from "../state/runStore.js";
import { recordSweep } from "../telemetry/instruments.js";
import { startRun } from "./runs.js";
import type { Service } from "./service.js";

/**
 * Look this far behind the last sweep: "Change records should be available in less than five minutes"
 * (get-resource-changes.md), and a change seen twice costs one more read of its machine.
 */
export const CHANGES_OVERLAP_MS = 15 * 60 * 1000;

export async function startSweep(service: Service, now = new Date()): Promise<RunSummary> {
  const fullEveryMs = service.settings.fullReconcileHours * 60 * 60 * 1000;
  const subscriptions = await resolveSubscriptions(undefined, service.settings, service.gateway);
  // Subscriptions due the same kind of sweep from the same time go together, a Resource Graph batch per item.
  const groups = new Map<string, { mode: "full" | "incremental"; since?: string; subscriptionIds: string[] }>();
  for (const subscriptionId of subscriptions) {
    const checkpoint = await service.state.checkpoints.get(subscriptionId);
    const lastFull = checkpoint?.lastFullReconcileAt?.getTime();
    const lastSweep = checkpoint?.lastSweepAt?.getTime();
    // Change history older than Resource Graph keeps it cannot say what changed: sweep in full.
    const full = lastFull === undefined || lastSweep === undefined || now.getTime() - lastFull >= fullEveryMs || !changeHistoryCovers(new Date(lastSweep - CHANGES_OVERLAP_MS), now);
    const since = full ? undefined : new Date(lastSweep - CHANGES_OVERLAP_MS).toISOString();
    const key = since ?? "full";
    const group = groups.get(key) ?? { mode: full ? "full" : "incremental", ...(since ? { since } : {}), subscriptionIds: [] };
    group.subscriptionIds.push(subscriptionId);
    groups.set(key, group);
  }
  const sweeps = [...groups.values()];
  const run = await startRun(service, { trigger: "timer" }, { kind: "sweeps", sweeps });
  // One count per sweep queued: `full` when any subscription was due its full reconcile.
  recordSweep(sweeps.some((sweep) => sweep.mode === "full") ? "full" : "incremental");
  return run;
}
