/**
 * Request bodies, shaped exactly as Defender's built-in policy templates send them
 * (docs/azure-domain.md §1.2-1.4, §2.2, §3.3) so both converge on identical resources. Every resource the
 * service creates also carries the configured CREATED_RESOURCE_TAGS (`createdTags`).
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

type Tags = Readonly<Record<string, string>>;

/** The service's own tag on the rules it owns. */
const OWNED_RULE_TAG = { createdBy: "ama-remediator" } as const;

/**
 * The configured tags plus the ones the service itself must set. On the same name (compared as Azure
 * does, case-insensitively) the service's tag wins: `createdBy: MicrosoftDefenderForSQL` is how Defender
 * for SQL and its initiative recognise their resources, so replacing it would orphan them.
 */
function withCreatedTags(createdTags: Tags, own: Tags = {}): Record<string, string> {
  const ownNames = new Set(Object.keys(own).map((name) => name.toLowerCase()));
  return { ...Object.fromEntries(Object.entries(createdTags).filter(([name]) => !ownNames.has(name.toLowerCase()))), ...own };
}

/** `tags` only when there are some: an empty object would say nothing and differ from Defender's bodies. */
function tagsField(createdTags: Tags, own?: Tags): { tags?: Record<string, string> } {
  const tags = withCreatedTags(createdTags, own);
  return Object.keys(tags).length > 0 ? { tags } : {};
}

export function resourceGroupBody(location: string, createdTags: Tags, own?: Tags): Record<string, unknown> {
  return { location, ...tagsField(createdTags, own) };
}

export function workspaceBody(spec: WorkspaceSpec, createdTags: Tags): Record<string, unknown> {
  const flavour = spec.createIn?.flavour;
  return {
    location: spec.createIn?.location ?? spec.location,
    ...tagsField(createdTags, flavour === "sql" ? SQL_CREATED_BY_TAG : undefined),
    properties: { sku: { name: "PerGB2018" }, retentionInDays: 30 },
  };
}

export function solutionBody(workspaceId: string, workspaceLocation: string, gallery: string, createdTags: Tags): Record<string, unknown> {
  const workspaceName = workspaceId.split("/").pop() as string;
  return {
    location: workspaceLocation,
    ...tagsField(createdTags),
    properties: { workspaceResourceId: workspaceId },
    plan: { name: `${gallery}(${workspaceName})`, publisher: "Microsoft", product: `OMSGallery/${gallery}`, promotionCode: "" },
  };
}

/** The service's own rule: Windows security events and Linux auth syslog into the workspace. */
export function ownedRuleBody(location: string, workspaceId: string, createdTags: Tags): Record<string, unknown> {
  return {
    location,
    tags: withCreatedTags(createdTags, OWNED_RULE_TAG),
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

export function sqlRuleBody(location: string, workspaceId: string, createdTags: Tags): Record<string, unknown> {
  return {
    location,
    tags: withCreatedTags(createdTags, SQL_CREATED_BY_TAG),
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

/**
 * `createdTags` only for an extension the service installs new: a PUT replaces an existing one's tags,
 * and the service never changes the tags of what it did not create.
 */
export function extensionBody(location: string, extension: ExtensionSpec, createdTags: Tags = {}): Record<string, unknown> {
  return {
    location,
    ...tagsField(createdTags, extension.tags),
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

export function userAssignedIdentityBody(location: string, createdTags: Tags): Record<string, unknown> {
  return { location, tags: withCreatedTags(createdTags, SQL_CREATED_BY_TAG) };
}
