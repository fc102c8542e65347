/**
 * Timer trigger: the sweep that catches whatever events missed, and the dedupe table's clean-up. The
 * schedule is the SWEEP_SCHEDULE app setting; the Functions host runs timers as a singleton, and
 * per-subscription leases keep an overlapping sweep from writing twice.
 */
import { app, type InvocationContext, type Timer } from "@azure/functions";
import { sharedService } from "../service/service.js";
import { startSweep } from "../service/sweep.js";
import { purgeExpiredClaims } from "../service/events.js";

export async function sweepTimer(timer: Timer, _context: InvocationContext): Promise<void> {
  const service = await sharedService();
  // First: a retried invocation (purge failed) must not have queued a sweep already.
  await purgeExpiredClaims(service);
  const run = await startSweep(service);
  service.logger.info({ runId: run.runId, resourceId: "(scope)", pastDue: timer.isPastDue }, "timer sweep queued");
}

app.timer("sweepTimer", {
  schedule: "%SWEEP_SCHEDULE%",
  runOnStartup: false,
  useMonitor: true,
  retry: { strategy: "exponentialBackoff", maxRetryCount: 3, minimumInterval: 10_000, maximumInterval: 300_000 },
  handler: sweepTimer,
});
