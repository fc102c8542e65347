/**
 * The exact names Defender for Cloud's built-in policies give the resources they create, so the
 * service and the policies converge on the same resources instead of creating duplicates.
 * Sources: docs/azure-domain.md §1.1, §3.2 and §4.
 */
import regionCodes from "./region-codes.json" with { type: "json" };
import { resourceGroupId } from "../azure/ids.js";

const defaultPipelineCodes: Readonly<Record<string, string>> = regionCodes.defenderDefaultPipeline;
const defenderForSqlCodes: Readonly<Record<string, string>> = regionCodes.defenderForSql;

/** Region short code for Defender's default workspace (map A). Unmapped regions use the region name. */
export function defaultPipelineCode(region: string): string {
  const key = normaliseRegion(region);
  return defaultPipelineCodes[key] ?? key;
}

/** Region short code for Defender for SQL resource groups (map B, which falls back to the region name). */
export function defenderForSqlCode(region: string): string {
  const key = normaliseRegion(region);
  return defenderForSqlCodes[key] ?? key;
}

/** "West Europe" and "westeurope" name the same region. */
export function normaliseRegion(region: string): string {
  return region.replace(/\s+/g, "").toLowerCase();
}

export const defaultResourceGroupName = (code: string): string => `DefaultResourceGroup-${code}`;

/** Defender's default workspace for a subscription and region: `DefaultWorkspace-<sub>-<code>`. */
export function defaultWorkspaceId(subscriptionId: string, region: string): string {
  const code = defaultPipelineCode(region);
  return `${resourceGroupId(subscriptionId, defaultResourceGroupName(code))}/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-${subscriptionId}-${code}`;
}

/**
 * The data collection rule the service owns when none is configured: one per subscription and
 * region, beside Defender's default workspace. Documented in the README.
 */
export function ownedRuleId(subscriptionId: string, region: string): string {
  const code = defaultPipelineCode(region);
  return `${resourceGroupId(subscriptionId, defaultResourceGroupName(code))}/providers/Microsoft.Insights/dataCollectionRules/ama-remediator-${normaliseRegion(region)}-dcr`;
}

/** The service's own association name (one per machine; an association to the same rule under any name counts). */
export const OWNED_ASSOCIATION_NAME = "ama-remediator";

/** Workspace solutions are named `<Gallery>(<workspaceName>)` and live in the workspace's resource group. */
export function solutionId(workspaceId: string, gallery: string): string {
  const parts = workspaceId.split("/");
  const workspaceName = parts[parts.length - 1] as string;
  const resourceGroupId = parts.slice(0, 5).join("/");
  return `${resourceGroupId}/providers/Microsoft.OperationsManagement/solutions/${gallery}(${workspaceName})`;
}

// ---- Defender for SQL (initiative d7c3ea3a / de01d381, docs/azure-domain.md §3.2) ----

export const SQL_CREATED_BY_TAG = { createdBy: "MicrosoftDefenderForSQL" } as const;
export const BUILT_IN_IDENTITY_RESOURCE_GROUP = "Built-In-Identity-RG";
/** The initiative's `builtInIdentityResourceGroupLocation` default. */
export const BUILT_IN_IDENTITY_RESOURCE_GROUP_LOCATION = "eastus";
export const SQL_ASSOCIATION_NAME = "MicrosoftDefenderForSQL-RulesAssociation";

export function builtInIdentityId(subscriptionId: string, vmRegion: string): string {
  return `${resourceGroupId(subscriptionId, BUILT_IN_IDENTITY_RESOURCE_GROUP)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Built-In-Identity-${normaliseRegion(vmRegion)}`;
}

/** `D4SQL-<subscription without dashes>-<region>` in `DefaultResourceGroup-<code (map B)>`. */
export function sqlWorkspaceId(subscriptionId: string, region: string): string {
  const location = normaliseRegion(region);
  const resourceGroup = defaultResourceGroupName(defenderForSqlCode(location));
  return `${resourceGroupId(subscriptionId, resourceGroup)}/providers/Microsoft.OperationalInsights/workspaces/D4SQL-${subscriptionId.replace(/-/g, "")}-${location}`;
}

/** Default mode: `MicrosoftDefenderForSQL-<region>-dcr` beside the D4SQL workspace. */
export function sqlRuleId(subscriptionId: string, region: string): string {
  const location = normaliseRegion(region);
  const resourceGroup = defaultResourceGroupName(defenderForSqlCode(location));
  return `${resourceGroupId(subscriptionId, resourceGroup)}/providers/Microsoft.Insights/dataCollectionRules/MicrosoftDefenderForSQL-${location}-dcr`;
}

/** Custom-workspace mode: `D4SQL-<workspace customerId without dashes>-dcr` in the workspace region's default group. */
export function sqlCustomWorkspaceRuleId(subscriptionId: string, workspaceRegion: string, workspaceCustomerId: string): string {
  const resourceGroup = defaultResourceGroupName(defenderForSqlCode(workspaceRegion));
  return `${resourceGroupId(subscriptionId, resourceGroup)}/providers/Microsoft.Insights/dataCollectionRules/D4SQL-${workspaceCustomerId.replace(/-/g, "")}-dcr`;
}

/** Built-in initiatives (policySetDefinitions) for Defender for SQL servers on machines. */
export const SQL_INITIATIVES = {
  amaDefaultWorkspace: "/providers/Microsoft.Authorization/policySetDefinitions/d7c3ea3a-edf3-4bd5-bd64-d5b635b05393",
  amaCustomWorkspace: "/providers/Microsoft.Authorization/policySetDefinitions/de01d381-bae9-4670-8870-786f89f49e26",
  extensionOnly: "/providers/Microsoft.Authorization/policySetDefinitions/c1529623-9fc2-45bc-b84b-b14cd0b7484e",
} as const;

/** Names Microsoft's enable-at-scale script gives the assignment (63-character limit). */
export const SQL_ASSIGNMENT_NAMES = {
  amaDefaultWorkspace: "Defender for SQL on SQL VMs and Arc-enabled SQL Servers",
  amaCustomWorkspace: "Defender for SQL on SQL VMs and Arc-enabled SQL Servers- Custom",
  extensionOnly: "Defender for SQL extension on SQL VMs and Arc-enabled SQL",
} as const;

/** Roles the script grants the assignment's identity at subscription scope (docs/azure-domain.md §3.4). */
export const SQL_ASSIGNMENT_ROLES = {
  logAnalyticsContributor: "92aaf0da-9dab-42b6-94a3-d43ce8d16293",
  virtualMachineContributor: "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
  monitoringContributor: "749f88d5-cbae-40b8-bcfc-e573ddc772fa",
  connectedMachineResourceAdministrator: "cd570a14-e51a-42ad-bac8-bafd67325302",
  contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
} as const;

export function policyAssignmentId(subscriptionId: string, name: string): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/policyAssignments/${name}`;
}
