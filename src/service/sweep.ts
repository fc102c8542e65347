/**
 * The timer sweep: per subscription, a full reconcile once per FULL_RECONCILE_HOURS, otherwise only
 * the machines created since the last sweep (whatever Event Grid missed). Checkpoints live in Table
 * Storage, so restarts and overlapping timers pick up where the last sweep ended.
 */
import { resolveSubscriptions } from "../engine.js";
import type { RunSummary } from "../state/runStore.js";
import { subscriptionWorkItem, type WorkItem } from "../state/workQueue.js";
import { startRun } from "./runs.js";
import type { Service } from "./service.js";

/** Look this far behind the last sweep: ARM's timeCreated and Resource Graph's index lag a little. */
const NEW_SINCE_OVERLAP_MS = 15 * 60 * 1000;

export async function startSweep(service: Service, now = new Date()): Promise<RunSummary> {
  const fullEveryMs = service.settings.fullReconcileHours * 60 * 60 * 1000;
  return startRun(service, { trigger: "timer" }, async (runId, dryRun) => {
    const subscriptions = await resolveSubscriptions(undefined, service.settings, service.gateway);
    const items: WorkItem[] = [];
    for (const subscriptionId of subscriptions) {
      const checkpoint = await service.state.checkpoints.get(subscriptionId);
      const lastFull = checkpoint?.lastFullReconcileAt?.getTime();
      const lastSweep = checkpoint?.lastSweepAt?.getTime();
      const full = lastFull === undefined || lastSweep === undefined || now.getTime() - lastFull >= fullEveryMs;
      items.push(
        full
          ? subscriptionWorkItem({ runId, subscriptionId, dryRun, mode: "full" })
          : subscriptionWorkItem({ runId, subscriptionId, dryRun, mode: "new-since", since: new Date(lastSweep - NEW_SINCE_OVERLAP_MS).toISOString() }),
      );
    }
    return items;
  });
}
