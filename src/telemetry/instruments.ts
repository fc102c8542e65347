/**
 * The service's OpenTelemetry instruments and log records (names.ts) and what records into them. They come
 * from the global meter and logger providers as they are when first used after a change: the no-op ones
 * until the Azure Monitor distro starts (azureMonitor.ts), its real ones after. Attributes are ids,
 * statuses, causes, ARM error codes and seconds only: never a token, a secret or a message.
 */
import { metrics, type Attributes, type Counter, type Histogram, type MeterProvider } from "@opentelemetry/api";
import { logs, SeverityNumber, type LogRecord, type Logger, type LoggerProvider } from "@opentelemetry/api-logs";
import type { Report, ReportResource } from "../report/buildReport.js";
import type { Timing } from "../report/timing.js";
import { ATTRIBUTES, LOG_ATTRIBUTES, LOG_RECORDS, LOGGER_NAME, METER_NAME, METRICS } from "./names.js";

export type SweepMode = "full" | "incremental";

interface Instruments {
  readonly timeToCompliant: Histogram;
  readonly machines: Counter;
  readonly remediationFailures: Counter;
  readonly sweeps: Counter;
}

/** Time-to-compliant spans seconds (an event handled at once) to days (a machine that failed until fixed). */
const SECONDS_BUCKETS = [10, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 14_400, 28_800, 86_400, 172_800, 604_800];

const byProvider = new WeakMap<MeterProvider, Instruments>();
const loggers = new WeakMap<LoggerProvider, Logger>();
/** The poison queue's length as the last timer sweep read it; the gauge reports nothing until then. */
let poisonMessages: number | undefined;

function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  let found = byProvider.get(provider);
  if (!found) {
    const meter = provider.getMeter(METER_NAME);
    meter
      .createObservableGauge(METRICS.poisonMessages, { description: "Work items in the poison queue, as the last timer sweep read it" })
      .addCallback((result) => {
        if (poisonMessages !== undefined) result.observe(poisonMessages);
      });
    found = {
      timeToCompliant: meter.createHistogram(METRICS.timeToCompliant, {
        unit: "s",
        description: "Drift began to verified compliant, per machine remediated",
        advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
      }),
      machines: meter.createCounter(METRICS.machines, { description: "Machines reported, per status" }),
      remediationFailures: meter.createCounter(METRICS.remediationFailures, { description: "Writes that failed, per ARM error code" }),
      sweeps: meter.createCounter(METRICS.sweeps, { description: "Timer sweeps started" }),
    };
    byProvider.set(provider, found);
  }
  return found;
}

function logger(): Logger {
  const provider = logs.getLoggerProvider();
  let found = loggers.get(provider);
  if (!found) {
    found = provider.getLogger(LOGGER_NAME);
    loggers.set(provider, found);
  }
  return found;
}

type VerifiedTiming = Timing & { readonly secondsToCompliant: number };

/** A machine's timing when the run verified it compliant; nothing for a dry run, a failed write, a machine already compliant. */
function verifiedTiming(resource: ReportResource): VerifiedTiming | undefined {
  const timing = resource.timing;
  return resource.kind !== "shared" && timing?.secondsToCompliant !== undefined ? { ...timing, secondsToCompliant: timing.secondsToCompliant } : undefined;
}

/** The log record of a machine verified compliant, timestamped when it was verified. */
function machineCompliantRecord(runId: string, resource: ReportResource, timing: VerifiedTiming): LogRecord {
  return {
    ...(timing.verifiedAt ? { timestamp: new Date(timing.verifiedAt) } : {}),
    severityNumber: SeverityNumber.INFO,
    severityText: "INFO",
    body: LOG_RECORDS.machineCompliant,
    attributes: {
      [LOG_ATTRIBUTES.secondsToCompliant]: timing.secondsToCompliant,
      [LOG_ATTRIBUTES.cause]: timing.cause,
      [LOG_ATTRIBUTES.subscriptionId]: resource.subscriptionId,
      [LOG_ATTRIBUTES.resourceId]: resource.id,
      [LOG_ATTRIBUTES.runId]: runId,
    },
  };
}

/**
 * A reconcile's report: machines per status, time-to-compliant of each machine verified (the histogram,
 * and a log record per machine, whose percentiles the alert takes), every failed write.
 */
export function recordReport(report: Report): void {
  const { timeToCompliant, machines, remediationFailures } = instruments();
  for (const resource of report.resources) {
    const subscription: Attributes = { [ATTRIBUTES.subscriptionId]: resource.subscriptionId };
    if (resource.kind !== "shared") machines.add(1, { ...subscription, [ATTRIBUTES.status]: resource.status });
    const timing = verifiedTiming(resource);
    if (timing) {
      timeToCompliant.record(timing.secondsToCompliant, { ...subscription, [ATTRIBUTES.cause]: timing.cause });
      logger().emit(machineCompliantRecord(report.runId, resource, timing));
    }
    for (const action of resource.actions) {
      if (action.outcome !== "failed") continue;
      remediationFailures.add(1, { ...subscription, [ATTRIBUTES.armErrorCode]: action.error?.code ?? "Unknown", [ATTRIBUTES.action]: action.action });
    }
  }
}

/** One timer sweep started. */
export function recordSweep(mode: SweepMode): void {
  instruments().sweeps.add(1, { [ATTRIBUTES.mode]: mode });
}

/** The poison queue's length, read by the timer sweep; the gauge reports it at each collection. */
export function observePoisonMessages(count: number): void {
  instruments(); // the gauge exists once something has been recorded
  poisonMessages = count;
}
