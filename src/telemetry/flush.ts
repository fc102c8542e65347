/**
 * Sends what the meter and logger hold now. The distro exports metrics every 60 seconds and log records in
 * batches; on Flex Consumption an idle instance may be stopped before either comes round, and what it held
 * is lost. So each trigger that records something flushes as it finishes.
 */
import { metrics } from "@opentelemetry/api";
import { logs } from "@opentelemetry/api-logs";
import { describeError } from "../errors.js";
import type { Logger } from "../log.js";

/** The SDK's providers have forceFlush; the API's no-op and proxy providers do not. */
interface Flushable {
  forceFlush(): Promise<void>;
}

function isFlushable(provider: object): provider is Flushable {
  return typeof (provider as Partial<Flushable>).forceFlush === "function";
}

/** What a warning names: the run and resource the invocation worked on, when it had one. */
export interface FlushContext {
  readonly runId: string | null;
  readonly resourceId: string | null;
}

/**
 * Flushes the global meter and logger providers, where they can be. Never throws: telemetry that cannot be
 * sent is a warning, not a failed invocation (the host would retry work that succeeded).
 */
export async function flushTelemetry(logger: Logger, context: FlushContext = { runId: null, resourceId: null }): Promise<void> {
  const providers = { meter: metrics.getMeterProvider(), logger: logs.getLoggerProvider() };
  await Promise.all(
    Object.entries(providers).map(async ([kind, provider]) => {
      if (!isFlushable(provider)) return;
      try {
        await provider.forceFlush();
      } catch (error) {
        logger.warn({ ...context, provider: kind, error: describeError(error) }, "telemetry not flushed: what it held may be lost if the instance stops");
      }
    }),
  );
}
