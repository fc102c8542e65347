/**
 * Timer trigger: the sweep that catches whatever events missed, the clean-up of dedupe claims and of
 * timings past the longest metrics window, and the poison queue's length for its gauge. The
 * schedule is the SWEEP_SCHEDULE app setting; the Functions host runs timers as a singleton, and
 * per-subscription leases keep an overlapping sweep from writing twice.
 */
import "../telemetry/startup.js";
import { app, type InvocationContext, type Timer } from "@azure/functions";
import { sharedService } from "../service/service.js";
import { startSweep } from "../service/sweep.js";
import { purgeExpiredClaims } from "../service/events.js";
import { flushTelemetry } from "../telemetry/flush.js";
import { describeError } from "../errors.js";
import { observePoisonMessages } from "../telemetry/instruments.js";

export async function sweepTimer(timer: Timer, _context: InvocationContext): Promise<void> {
  const service = await sharedService();
  try {
    // First: a retried invocation (purge failed) must not have queued a sweep already.
    await purgeExpiredClaims(service);
    // Metrics housekeeping never stands in the sweep's way.
    await Promise.all([service.state.timings.purgeExpired(), service.state.workQueue.approximateLength()])
      .then(([timings, queues]) => {
        observePoisonMessages(queues.poison);
        service.logger.info({ runId: null, resourceId: null, timings, poisonMessages: queues.poison }, "expired timings purged, poison queue read");
      })
      .catch((error: unknown) => service.logger.warn({ runId: null, resourceId: null, error: describeError(error) }, "timings purge or poison queue read failed; the sweep goes on"));
    const run = await startSweep(service);
    service.logger.info({ runId: run.runId, resourceId: "(scope)", pastDue: timer.isPastDue }, "timer sweep queued");
  } finally {
    // The instance may stop before the next periodic export: the sweep count and the gauge's reading go now.
    await flushTelemetry(service.logger);
  }
}

app.timer("sweepTimer", {
  schedule: "%SWEEP_SCHEDULE%",
  runOnStartup: false,
  useMonitor: true,
  retry: { strategy: "exponentialBackoff", maxRetryCount: 3, minimumInterval: 10_000, maximumInterval: 300_000 },
  handler: sweepTimer,
});
