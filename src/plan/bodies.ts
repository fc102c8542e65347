/**
 * Request bodies, shaped exactly as Defender's built-in policy templates send them
 * (domain doc sections 1.3, 2.5, 5) so both converge on identical resources.
 */
import type { ExtensionSpec, WorkspaceSpec } from "../evaluate/evaluate.js";
import { SQL_CREATED_BY_TAG } from "../defender/names.js";

const SQL_STREAMS = [
  "Microsoft-DefenderForSqlAlerts",
  "Microsoft-DefenderForSqlLogins",
  "Microsoft-DefenderForSqlTelemetry",
  "Microsoft-DefenderForSqlScanEvents",
  "Microsoft-DefenderForSqlScanResults",
  "Microsoft-SqlAtpStatus-DefenderForSql",
];

export function resourceGroupBody(location: string, tags?: Record<string, string>): Record<string, unknown> {
  return { location, ...(tags ? { tags } : {}) };
}

export function workspaceBody(spec: WorkspaceSpec): Record<string, unknown> {
  const flavour = spec.createIn?.flavour;
  return {
    location: spec.createIn?.location ?? spec.location,
    ...(flavour === "sql" ? { tags: { ...SQL_CREATED_BY_TAG } } : {}),
    properties: { sku: { name: "PerGB2018" }, retentionInDays: 30 },
  };
}

export function solutionBody(workspaceId: string, workspaceLocation: string, gallery: string): Record<string, unknown> {
  const workspaceName = workspaceId.split("/").pop() as string;
  return {
    location: workspaceLocation,
    properties: { workspaceResourceId: workspaceId },
    plan: { name: `${gallery}(${workspaceName})`, publisher: "Microsoft", product: `OMSGallery/${gallery}`, promotionCode: "" },
  };
}

/** The service's own rule: Windows security events and Linux auth syslog into the workspace. */
export function ownedRuleBody(location: string, workspaceId: string): Record<string, unknown> {
  return {
    location,
    tags: { createdBy: "ama-remediator" },
    properties: {
      description: "Security events (Windows) and auth syslog (Linux) for Microsoft Defender for Cloud. Managed by ama-remediator.",
      dataSources: {
        windowsEventLogs: [{ name: "windowsSecurityEvents", streams: ["Microsoft-SecurityEvent"], xPathQueries: ["Security!*"] }],
        syslog: [{ name: "linuxAuthSyslog", streams: ["Microsoft-Syslog"], facilityNames: ["auth", "authpriv"], logLevels: ["*"] }],
      },
      destinations: { logAnalytics: [{ name: "defenderWorkspace", workspaceResourceId: workspaceId }] },
      dataFlows: [{ streams: ["Microsoft-SecurityEvent", "Microsoft-Syslog"], destinations: ["defenderWorkspace"] }],
    },
  };
}

export function sqlRuleBody(location: string, workspaceId: string): Record<string, unknown> {
  return {
    location,
    tags: { ...SQL_CREATED_BY_TAG },
    properties: {
      description: "Data collection rule for Microsoft Defender for SQL. Deleting this rule will break the detection of security vulnerabilities.",
      dataSources: {
        extensions: [
          {
            extensionName: "MicrosoftDefenderForSQL",
            name: "MicrosoftDefenderForSQL",
            streams: SQL_STREAMS,
            extensionSettings: { enableCollectionOfSqlQueriesForSecurityResearch: false },
          },
        ],
      },
      destinations: { logAnalytics: [{ workspaceResourceId: workspaceId, name: "LogAnalyticsDest" }] },
      dataFlows: [{ streams: SQL_STREAMS, destinations: ["LogAnalyticsDest"] }],
    },
  };
}

export function associationBody(ruleId: string, description: string): Record<string, unknown> {
  return { properties: { description, dataCollectionRuleId: ruleId } };
}

export function extensionBody(location: string, extension: ExtensionSpec): Record<string, unknown> {
  return {
    location,
    ...(extension.tags ? { tags: extension.tags } : {}),
    properties: {
      publisher: extension.publisher,
      type: extension.type,
      ...(extension.typeHandlerVersion ? { typeHandlerVersion: extension.typeHandlerVersion } : {}),
      autoUpgradeMinorVersion: true,
      enableAutomaticUpgrade: true,
      ...(extension.settings ? { settings: extension.settings } : {}),
    },
  };
}

export function userAssignedIdentityBody(location: string): Record<string, unknown> {
  return { location, tags: { ...SQL_CREATED_BY_TAG } };
}
