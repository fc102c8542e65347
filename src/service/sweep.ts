/**
 * The timer sweep: per subscription, a full reconcile once per FULL_RECONCILE_HOURS, otherwise only
 * the machines created since the last sweep (whatever Event Grid missed). Checkpoints live in Table
 * Storage, so restarts and overlapping timers pick up where the last sweep ended.
 */
import { resolveSubscriptions } from "../engine.js";
import type { RunSummary } from "../state/runStore.js";
import { startRun } from "./runs.js";
import type { Service } from "./service.js";

/** Look this far behind the last sweep: ARM's timeCreated and Resource Graph's index lag a little. */
const NEW_SINCE_OVERLAP_MS = 15 * 60 * 1000;

export async function startSweep(service: Service, now = new Date()): Promise<RunSummary> {
  const fullEveryMs = service.settings.fullReconcileHours * 60 * 60 * 1000;
  const subscriptions = await resolveSubscriptions(undefined, service.settings, service.gateway);
  // Subscriptions due the same kind of sweep from the same time go together, a Resource Graph batch per item.
  const groups = new Map<string, { mode: "full" | "new-since"; since?: string; subscriptionIds: string[] }>();
  for (const subscriptionId of subscriptions) {
    const checkpoint = await service.state.checkpoints.get(subscriptionId);
    const lastFull = checkpoint?.lastFullReconcileAt?.getTime();
    const lastSweep = checkpoint?.lastSweepAt?.getTime();
    const full = lastFull === undefined || lastSweep === undefined || now.getTime() - lastFull >= fullEveryMs;
    const since = full ? undefined : new Date(lastSweep - NEW_SINCE_OVERLAP_MS).toISOString();
    const key = since ?? "full";
    const group = groups.get(key) ?? { mode: full ? "full" : "new-since", ...(since ? { since } : {}), subscriptionIds: [] };
    group.subscriptionIds.push(subscriptionId);
    groups.set(key, group);
  }
  return startRun(service, { trigger: "timer" }, { kind: "sweeps", sweeps: [...groups.values()] });
}
