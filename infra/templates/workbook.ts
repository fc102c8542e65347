import { API_VERSIONS, type JsonObject } from "./arm.js";
import { WORKBOOK_QUERIES } from "./monitoringQueries.js";

/**
 * The Azure Monitor workbook (resource-group scope, part of app.json): compliance by subscription, failures
 * by ARM error code, time-to-compliant over time and the slowest machines, and the sweeps and poison queue
 * behind the alerts. Its content is the workbook JSON (version Notebook/1.0, the format the portal's
 * Advanced Editor shows), rendered here as an object and serialised by ARM, so the workspace id can be
 * filled in at deployment.
 * Items: 1 = markdown text, 3 = a KQL query, 9 = parameters (type 4 = time range picker).
 */

const TIME_RANGE = "TimeRange";
const DAY_MS = 24 * 60 * 60 * 1000;

function text(name: string, markdown: string): JsonObject {
  return { type: 1, name, content: { json: markdown } };
}

/** A query item over the workspace, for the time range the picker sets. */
function query(name: string, title: string, kql: string, visualization: "table" | "timechart" | "barchart", width?: number): JsonObject {
  return {
    type: 3,
    name,
    content: {
      version: "KqlItem/1.0",
      query: kql,
      size: 0,
      title,
      timeContextFromParameter: TIME_RANGE,
      queryType: 0, // Logs
      resourceType: "microsoft.operationalinsights/workspaces",
      visualization,
    },
    ...(width === undefined ? {} : { customWidth: String(width) }),
  };
}

/** The workbook's content; `workspaceId` (an expression) is where its queries run when it is opened outside the workspace. */
export function workbookContent(workspaceId: string): JsonObject {
  return {
    version: "Notebook/1.0",
    items: [
      text("title", "# ama-remediator\nWhat the service reported, from the metrics and traces it sends to Application Insights (tables AppMetrics and AppTraces)."),
      {
        type: 9,
        name: "parameters",
        content: {
          version: "KqlParameterItem/1.0",
          parameters: [
            {
              id: "5b0f6b2e-3f5e-4b8e-9a61-2d1c0e7f4a10",
              version: "KqlParameterItem/1.0",
              name: TIME_RANGE,
              label: "Time range",
              type: 4,
              isRequired: true,
              value: { durationMs: 7 * DAY_MS },
              typeSettings: { selectableValues: [1, 7, 14, 30].map((days) => ({ durationMs: days * DAY_MS })), allowCustom: true },
            },
          ],
          style: "pills",
          queryType: 0,
          resourceType: "microsoft.operationalinsights/workspaces",
        },
      },
      text(
        "compliance-heading",
        "## Compliance by subscription\nHow often each outcome was reported for the subscription's machines in the time range (a full sweep reports every machine once). *CompliantPercent*: reports in which the machine was compliant or made compliant.",
      ),
      query("compliance-by-subscription", "Machine outcomes by subscription", WORKBOOK_QUERIES.complianceBySubscription, "table"),
      text("failures-heading", "## Failures by ARM error code\nWrites that failed, by the error code ARM returned and the kind of write."),
      query("failures-by-error-code", "Failed writes by ARM error code", WORKBOOK_QUERIES.failuresByErrorCode, "table", 50),
      query("failures-over-time", "Failed writes per hour", WORKBOOK_QUERIES.failuresOverTime, "timechart", 50),
      text(
        "time-to-compliant-heading",
        "## Time to compliant\nFrom the drift (the event's time, or when a sweep first saw it) to the machine verified compliant, in seconds. Per hour: the 50th and 95th percentiles (what the time-to-compliant alert watches) and the slowest, over one trace per machine made compliant (table AppTraces). By cause: mean and slowest, from the time-to-compliant histogram.",
      ),
      query("time-to-compliant-over-time", "Time to compliant per hour (seconds)", WORKBOOK_QUERIES.timeToCompliantOverTime, "timechart", 50),
      query("time-to-compliant-by-cause", "Time to compliant by cause (seconds)", WORKBOOK_QUERIES.timeToCompliantByCause, "table", 50),
      query("slowest-machines", "Slowest machines to become compliant", WORKBOOK_QUERIES.slowestMachines, "table"),
      text("service-heading", "## Timer sweeps and poison queue\nWhat the missed-sweep and poison-queue alerts watch."),
      query("sweeps-over-time", "Timer sweeps per hour", WORKBOOK_QUERIES.sweepsOverTime, "barchart", 50),
      query("poison-over-time", "Poison queue length", WORKBOOK_QUERIES.poisonMessagesOverTime, "timechart", 50),
    ],
    isLocked: false,
    fallbackResourceIds: [workspaceId],
  };
}

/** The workbook resource, shown among the workspace's workbooks; its content is the variable `workbookContent`. */
export function workbookResource(workspaceId: string): JsonObject {
  return {
    type: "Microsoft.Insights/workbooks",
    apiVersion: API_VERSIONS.workbooks,
    // A workbook's name must be a GUID: a stable one per resource group and app, so a redeployment updates it.
    name: "[guid(resourceGroup().id, parameters('appName'), 'ama-remediator-workbook')]",
    location: "[parameters('location')]",
    kind: "shared",
    dependsOn: [workspaceId],
    properties: {
      displayName: "[format('ama-remediator ({0})', parameters('appName'))]",
      category: "workbook",
      version: "Notebook/1.0",
      sourceId: workspaceId,
      serializedData: "[string(variables('workbookContent'))]",
    },
  };
}
