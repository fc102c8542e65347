import { API_VERSIONS, type Json, type JsonObject } from "./arm.js";
import { ALERT_QUERIES, type AlertQuery } from "./monitoringQueries.js";
import { ALERT_LOOKBACK_LIMIT_MINUTES, missedSweepAlertMinutes } from "./sweepSchedule.js";

/**
 * The alert rules on the service's metrics and log records and the action group they notify (resource-group
 * scope, part of app.json). Log search alert rules (Microsoft.Insights/scheduledQueryRules) run their query
 * against the Log Analytics workspace behind Application Insights, where both are (monitoringQueries.ts).
 */

export const ALERT_PARAMETER_NAMES = ["alertEmail", "remediationFailureThreshold", "timeToCompliantThresholdSeconds", "missedSweepAlertMinutes"] as const;

/** A log search alert looks back at most two days: the window of the rules that need the longest view. */
const LONGEST_WINDOW = `P${ALERT_LOOKBACK_LIMIT_MINUTES / (24 * 60)}D`;

/** Parameter declarations; the missed-sweep threshold defaults to what the default sweep schedule implies. */
export function alertParameters(defaultSweepSchedule: string): Record<(typeof ALERT_PARAMETER_NAMES)[number], JsonObject> {
  return {
    alertEmail: {
      type: "string",
      minLength: 3,
      metadata: { description: "E-mail address the alerts are sent to (the action group's receiver, in the common alert schema)." },
    },
    remediationFailureThreshold: {
      type: "int",
      defaultValue: 5,
      minValue: 0,
      metadata: { description: "Alert when more writes than this fail within an hour." },
    },
    timeToCompliantThresholdSeconds: {
      type: "int",
      defaultValue: 3600,
      minValue: 1,
      metadata: { description: "Alert when the 95th percentile of time from drift to verified compliant, over the machines made compliant in the last hour, is above this many seconds." },
    },
    missedSweepAlertMinutes: {
      type: "int",
      defaultValue: missedSweepAlertMinutes(defaultSweepSchedule),
      minValue: 1,
      maxValue: ALERT_LOOKBACK_LIMIT_MINUTES,
      metadata: { description: "Alert when no timer sweep has started for this many minutes: twice the longest gap between sweepSchedule's firings. npm run deploy computes it from sweepSchedule; deploying the template by other means, set both together." },
    },
  };
}

interface AlertRule {
  readonly name: string;
  readonly displayName: string;
  readonly description: string;
  /** 0 (critical) to 4 (verbose). */
  readonly severity: number;
  readonly query: AlertQuery;
  readonly timeAggregation: "Total" | "Maximum";
  readonly operator: "GreaterThan" | "GreaterThanOrEqual";
  readonly threshold: Json;
  /** How far back each evaluation looks (a granularity Azure Monitor accepts: docs/infra-checks.md). */
  readonly windowSize: string;
}

const RULES: readonly AlertRule[] = [
  {
    name: "remediation-failures",
    displayName: "ama-remediator: failed writes",
    description: "More remediation writes failed in the last hour than remediationFailureThreshold. The workbook lists them by ARM error code.",
    severity: 2,
    query: ALERT_QUERIES.remediationFailures,
    timeAggregation: "Total",
    operator: "GreaterThan",
    threshold: "[parameters('remediationFailureThreshold')]",
    windowSize: "PT1H",
  },
  {
    name: "poison-queue",
    displayName: "ama-remediator: poison queue not empty",
    description: "The latest timer sweep found work items in the poison queue: events or runs that failed every delivery. Each message holds its reason.",
    severity: 2,
    query: ALERT_QUERIES.poisonMessages,
    timeAggregation: "Maximum",
    operator: "GreaterThan",
    threshold: 0,
    windowSize: LONGEST_WINDOW,
  },
  {
    name: "time-to-compliant",
    displayName: "ama-remediator: slow time-to-compliant (p95)",
    description: "Over the machines made compliant in the last hour, the 95th percentile of time from drift to verified compliant is above timeToCompliantThresholdSeconds. The workbook lists the slowest machines.",
    severity: 3,
    query: ALERT_QUERIES.timeToCompliantP95,
    timeAggregation: "Maximum",
    operator: "GreaterThan",
    threshold: "[parameters('timeToCompliantThresholdSeconds')]",
    windowSize: "PT1H",
  },
  {
    name: "sweep-missed",
    displayName: "ama-remediator: timer sweep not running",
    description: "No timer sweep has started for twice its schedule (missedSweepAlertMinutes): missed events are no longer caught up.",
    severity: 1,
    query: ALERT_QUERIES.minutesSinceLastSweep,
    timeAggregation: "Maximum",
    operator: "GreaterThanOrEqual",
    threshold: "[parameters('missedSweepAlertMinutes')]",
    windowSize: LONGEST_WINDOW,
  },
];

/** Variables the alert resources name each other by. */
export function alertVariables(): JsonObject {
  return { actionGroupName: "[format('ag-{0}', parameters('appName'))]" };
}

/** The action group and the rules, scoped to the workspace `workspaceId` (an expression of the hosting template). */
export function alertResources(workspaceId: string): JsonObject[] {
  const actionGroupId = "[resourceId('Microsoft.Insights/actionGroups', variables('actionGroupName'))]";
  return [
    {
      type: "Microsoft.Insights/actionGroups",
      apiVersion: API_VERSIONS.actionGroups,
      name: "[variables('actionGroupName')]",
      location: "Global", // action groups are global resources
      properties: {
        groupShortName: "ama-remed", // at most 12 characters; names the group in notifications
        enabled: true,
        emailReceivers: [{ name: "operators", emailAddress: "[parameters('alertEmail')]", useCommonAlertSchema: true }],
      },
    },
    ...RULES.map(
      (rule): JsonObject => ({
        type: "Microsoft.Insights/scheduledQueryRules",
        apiVersion: API_VERSIONS.scheduledQueryRules,
        name: `[format('{0}-${rule.name}', parameters('appName'))]`,
        location: "[parameters('location')]",
        kind: "LogAlert",
        dependsOn: [workspaceId, actionGroupId],
        properties: {
          displayName: rule.displayName,
          description: rule.description,
          severity: rule.severity,
          enabled: true,
          scopes: [workspaceId],
          evaluationFrequency: "PT15M",
          windowSize: rule.windowSize,
          criteria: {
            allOf: [
              {
                query: rule.query.query,
                timeAggregation: rule.timeAggregation,
                metricMeasureColumn: rule.query.measure,
                operator: rule.operator,
                threshold: rule.threshold,
                failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
              },
            ],
          },
          autoMitigate: true,
          // A new workspace has no AppMetrics or AppTraces rows until the app first reports, and Azure's check of
          // a query would refuse the rule then; test/infra checks every query with Microsoft's KQL parser instead.
          skipQueryValidation: true,
          actions: { actionGroups: [actionGroupId] },
        },
      }),
    ),
  ];
}
