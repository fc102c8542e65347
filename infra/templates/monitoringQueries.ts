import { EMPTY_SUMMARY, type ResourceStatus } from "../../src/report/buildReport.js";
import { ATTRIBUTES, LOG_ATTRIBUTES, LOG_RECORDS, METRICS } from "../../src/telemetry/names.js";
import { ALERT_LOOKBACK_LIMIT_MINUTES } from "./sweepSchedule.js";

/**
 * The KQL of the alert rules and the workbook, built from the names the service emits (src/telemetry/names.ts).
 *
 * Where the metrics land: the Azure Monitor exporter turns each OpenTelemetry data point into one
 * Application Insights metric (azure-sdk-for-js, sdk/monitor/monitor-opentelemetry-exporter/src/utils/metricUtils.ts):
 * name = the instrument's name, properties = the data point's attributes; a counter or gauge sends its value
 * with count 1, a histogram its sum, count, min and max (bucket counts are dropped). Counters and histograms
 * are exported as deltas per export interval (export/metric.ts, selectAggregationTemporality), so a row holds
 * what happened in that interval.
 *
 * Where the log records land: the same exporter turns a log record without exception or event attributes into
 * one Application Insights trace (src/utils/logUtils.ts, logToEnvelope): message = the body as a string,
 * properties = the attributes, each as a string (serializeAttribute), severity from the severity number (9-12,
 * INFO: Information). So a number comes back with todouble(), and each record is a row a percentile can be
 * taken over, which the histogram's rows cannot give.
 *
 * The Application Insights component is workspace-based (app.ts), so the rows are in the workspace's AppMetrics
 * and AppTraces tables; every query here runs against the workspace and reads only the columns of
 * {@link APP_METRICS} and {@link APP_TRACES}.
 */

/** A table the queries read: its name, the column naming what a row is (`names`), the columns read and their types. */
export interface TableColumns {
  readonly table: string;
  readonly nameColumn: string;
  readonly columns: Readonly<Record<string, "datetime" | "string" | "real" | "int" | "dynamic">>;
}

/** The AppMetrics columns the queries read, with their types (learn.microsoft.com/azure/azure-monitor/reference/tables/appmetrics). */
export const APP_METRICS = {
  table: "AppMetrics",
  nameColumn: "Name",
  columns: {
    /** When the exporter sent the data point. */
    TimeGenerated: "datetime",
    /** The instrument's name: a METRICS value. */
    Name: "string",
    /** Counter: the increase over the interval; gauge: the reading; histogram: the sum of the measurements. */
    Sum: "real",
    /** Measurements in the row (the exporter's count: 1 for counters and gauges). */
    ItemCount: "int",
    /** Histogram: the largest measurement of the interval. */
    Max: "real",
    /** The data point's attributes: ATTRIBUTES keys. */
    Properties: "dynamic",
  },
} as const satisfies TableColumns;

/** The AppTraces columns the queries read, with their types (learn.microsoft.com/azure/azure-monitor/reference/tables/apptraces). */
export const APP_TRACES = {
  table: "AppTraces",
  nameColumn: "Message",
  columns: {
    /** "Date and time when trace was recorded": the record's timestamp (for machineCompliant, when the machine was verified). */
    TimeGenerated: "datetime",
    /** The record's body: a LOG_RECORDS value. */
    Message: "string",
    /** 0 Verbose to 4 Critical; the service's records are Information (1). */
    SeverityLevel: "int",
    /** The record's attributes, as strings: LOG_ATTRIBUTES keys. */
    Properties: "dynamic",
  },
} as const satisfies TableColumns;

export const TABLES: readonly TableColumns[] = [APP_METRICS, APP_TRACES];

export type ColumnType = TableColumns["columns"][string];

/** A KQL string literal (double-quoted, JSON escapes). */
function literal(text: string): string {
  return JSON.stringify(text);
}

/** The rows of one of the service's metrics. */
function rowsOf(metric: string): string {
  return `${APP_METRICS.table}\n| where ${APP_METRICS.nameColumn} == ${literal(metric)}`;
}

/** The rows of one of the service's log records. */
function recordsOf(body: string): string {
  return `${APP_TRACES.table}\n| where ${APP_TRACES.nameColumn} == ${literal(body)}`;
}

/** One attribute of a row, as a string column. */
function attribute(name: string): string {
  return `tostring(Properties[${literal(name)}])`;
}

/** One attribute of a row, as a number: a log record's attributes arrive as strings. */
function numberAttribute(name: string): string {
  return `todouble(Properties[${literal(name)}])`;
}

/** A machine verified compliant per row, with the seconds it took. */
const machinesCompliant = `${recordsOf(LOG_RECORDS.machineCompliant)}\n| extend Seconds = ${numberAttribute(LOG_ATTRIBUTES.secondsToCompliant)}`;

const STATUSES = Object.keys(EMPTY_SUMMARY) as ResourceStatus[];
const columnOf = (status: ResourceStatus): string => `${status[0]!.toUpperCase()}${status.slice(1)}`;

/** One query per alert rule; each returns one row whose measure column the rule compares with its threshold. */
export const ALERT_QUERIES = {
  /** Failed writes in the rule's window (the counter's increases summed). */
  remediationFailures: { query: `${rowsOf(METRICS.remediationFailures)}\n| summarize FailedWrites = sum(Sum)`, measure: "FailedWrites" },
  /** The poison queue's length at the latest reading (the gauge reports the last timer sweep's count). */
  poisonMessages: { query: `${rowsOf(METRICS.poisonMessages)}\n| summarize arg_max(TimeGenerated, Sum)\n| project PoisonMessages = Sum`, measure: "PoisonMessages" },
  /**
   * The 95th percentile of time-to-compliant over the machines verified compliant in the window: one log
   * record each (the histogram's rows hold no buckets to take it from). KQL's percentile() is a T-Digest
   * estimate whose rank is off by at most 1% (learn.microsoft.com/kusto/query/percentiles-aggfunction,
   * "Estimation error in percentiles"). No machines: one row whose measure is null, which does not fire.
   */
  timeToCompliantP95: {
    query: `${recordsOf(LOG_RECORDS.machineCompliant)}\n| summarize P95Seconds = percentile(${numberAttribute(LOG_ATTRIBUTES.secondsToCompliant)}, 95)`,
    measure: "P95Seconds",
  },
  /** Minutes since the last timer sweep started; with none in the rule's two-day window, the whole window. */
  minutesSinceLastSweep: {
    query:
      `${rowsOf(METRICS.sweeps)}\n| summarize LastSweep = max(TimeGenerated)\n` +
      `| project MinutesSinceLastSweep = (now() - coalesce(LastSweep, ago(${ALERT_LOOKBACK_LIMIT_MINUTES}m))) / 1m`,
    measure: "MinutesSinceLastSweep",
  },
} as const;

export type AlertQuery = (typeof ALERT_QUERIES)[keyof typeof ALERT_QUERIES];

/** The workbook's queries; each runs over the time range the workbook's picker sets. */
export const WORKBOOK_QUERIES = {
  /** Machine outcomes per subscription: how often each status was reported, and the share compliant or made compliant. */
  complianceBySubscription:
    `${rowsOf(METRICS.machines)}\n| extend SubscriptionId = ${attribute(ATTRIBUTES.subscriptionId)}, Status = ${attribute(ATTRIBUTES.status)}\n` +
    `| summarize ${STATUSES.map((status) => `${columnOf(status)} = sumif(Sum, Status == ${literal(status)})`).join(", ")}, Reported = sum(Sum) by SubscriptionId\n` +
    `| extend CompliantPercent = round(100.0 * (Compliant + Remediated) / Reported, 1)\n| order by CompliantPercent asc`,
  failuresByErrorCode:
    `${rowsOf(METRICS.remediationFailures)}\n` +
    `| extend ArmErrorCode = ${attribute(ATTRIBUTES.armErrorCode)}, Action = ${attribute(ATTRIBUTES.action)}, SubscriptionId = ${attribute(ATTRIBUTES.subscriptionId)}\n` +
    `| summarize FailedWrites = sum(Sum), Subscriptions = dcount(SubscriptionId) by ArmErrorCode, Action\n| order by FailedWrites desc`,
  failuresOverTime:
    `${rowsOf(METRICS.remediationFailures)}\n| extend ArmErrorCode = ${attribute(ATTRIBUTES.armErrorCode)}\n` +
    `| summarize FailedWrites = sum(Sum) by bin(TimeGenerated, 1h), ArmErrorCode`,
  /** Percentiles per hour over the machines verified compliant (their log records). */
  timeToCompliantOverTime:
    `${machinesCompliant}\n` +
    `| summarize P50Seconds = percentile(Seconds, 50), P95Seconds = percentile(Seconds, 95), SlowestSeconds = max(Seconds) by bin(TimeGenerated, 1h)`,
  /** The machines behind a slow percentile: which, when, why and in which run. */
  slowestMachines:
    `${machinesCompliant}\n` +
    `| extend ResourceId = ${attribute(LOG_ATTRIBUTES.resourceId)}, SubscriptionId = ${attribute(LOG_ATTRIBUTES.subscriptionId)}, Cause = ${attribute(LOG_ATTRIBUTES.cause)}, RunId = ${attribute(LOG_ATTRIBUTES.runId)}\n` +
    `| top 20 by Seconds desc\n| project VerifiedAt = TimeGenerated, Seconds, ResourceId, SubscriptionId, Cause, RunId`,
  /** Mean and slowest per cause, from the histogram (sum, count and max per export). */
  timeToCompliantByCause:
    `${rowsOf(METRICS.timeToCompliant)}\n| extend Cause = ${attribute(ATTRIBUTES.cause)}\n` +
    `| summarize Machines = sum(ItemCount), MeanSeconds = round(sum(Sum) / sum(ItemCount), 0), SlowestSeconds = max(Max) by Cause\n| order by MeanSeconds desc`,
  sweepsOverTime:
    `${rowsOf(METRICS.sweeps)}\n| extend Mode = ${attribute(ATTRIBUTES.mode)}\n| summarize Sweeps = sum(Sum) by bin(TimeGenerated, 1h), Mode`,
  poisonMessagesOverTime: `${rowsOf(METRICS.poisonMessages)}\n| summarize PoisonMessages = max(Sum) by bin(TimeGenerated, 1h)`,
} as const;
