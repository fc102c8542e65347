/**
 * The names of everything the service emits to Azure Monitor, in one place: the OpenTelemetry metrics
 * (Application Insights' `customMetrics` table, or `AppMetrics` in a workspace-based component) and the
 * attributes on them, and the OpenTelemetry log records (`traces`, or `AppTraces`) and theirs.
 * infra/'s alert rules and workbook build their queries from these constants, and tests check each query
 * against them.
 */
export const METER_NAME = "ama-remediator";
/** The logger the log records come from (one instrumentation scope with the meter). */
export const LOGGER_NAME = METER_NAME;

export const METRICS = {
  /** Histogram, seconds: drift began -> verified compliant, per machine acted on. Attributes: cause, subscriptionId. */
  timeToCompliant: "ama_remediator.time_to_compliant",
  /** Counter: machines reported, per status (compliant, remediated, planned, failed, skipped). Attributes: status, subscriptionId. */
  machines: "ama_remediator.machines",
  /** Counter: writes that failed. Attributes: armErrorCode, action, subscriptionId. */
  remediationFailures: "ama_remediator.remediation_failures",
  /** Counter: timer sweeps queued (each timer run queues one). Attributes: mode (full, incremental). */
  sweeps: "ama_remediator.sweeps",
  /** Gauge: messages in the work-item poison queue, read by each timer sweep. */
  poisonMessages: "ama_remediator.poison_messages",
} as const;

/** The metrics' attributes: low-cardinality values only (every combination is a time series). */
export const ATTRIBUTES = {
  cause: "cause",
  subscriptionId: "subscriptionId",
  status: "status",
  armErrorCode: "armErrorCode",
  action: "action",
  mode: "mode",
} as const;

/**
 * The log records' bodies. A record reaches Application Insights as a trace whose message is its body and
 * whose properties are its attributes (as strings), so a query can take any percentile of a value the
 * histograms above only send as sum, count, min and max.
 */
export const LOG_RECORDS = {
  /**
   * One per machine verified compliant, timestamped when it was verified. Attributes: secondsToCompliant,
   * cause, subscriptionId, resourceId (the machine), runId.
   */
  machineCompliant: "ama_remediator.machine_compliant",
} as const;

/** The log records' attributes: a record names one machine and run, so ids are fine here, unlike on a metric. */
export const LOG_ATTRIBUTES = {
  secondsToCompliant: "secondsToCompliant",
  cause: ATTRIBUTES.cause,
  subscriptionId: ATTRIBUTES.subscriptionId,
  resourceId: "resourceId",
  runId: "runId",
} as const;
