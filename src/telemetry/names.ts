/**
 * The names of everything the service emits to Azure Monitor, in one place: the OpenTelemetry metrics
 * (Application Insights' `customMetrics` table, or `AppMetrics` in a workspace-based component) and the
 * attributes on them. infra/'s alert rules and workbook build their queries from these constants, and
 * tests check each query against them.
 */
export const METER_NAME = "ama-remediator";

export const METRICS = {
  /** Histogram, seconds: drift began -> verified compliant, per machine acted on. Attributes: cause, subscriptionId. */
  timeToCompliant: "ama_remediator.time_to_compliant",
  /** Counter: machines reported, per status (compliant, remediated, planned, failed, skipped). Attributes: status, subscriptionId. */
  machines: "ama_remediator.machines",
  /** Counter: writes that failed. Attributes: armErrorCode, action, subscriptionId. */
  remediationFailures: "ama_remediator.remediation_failures",
  /** Counter: timer sweeps that ran. Attributes: mode (full, incremental). */
  sweeps: "ama_remediator.sweeps",
  /** Gauge: messages in the work-item poison queue, read by each timer sweep. */
  poisonMessages: "ama_remediator.poison_messages",
} as const;

export const ATTRIBUTES = {
  cause: "cause",
  subscriptionId: "subscriptionId",
  status: "status",
  armErrorCode: "armErrorCode",
  action: "action",
  mode: "mode",
} as const;
