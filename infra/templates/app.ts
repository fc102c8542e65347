import { ALERT_PARAMETER_NAMES, alertParameters, alertResources, alertVariables } from "./alerts.js";
import { API_VERSIONS, BUILT_IN_ROLES, SCHEMAS, stringParameter, template, type JsonObject } from "./arm.js";
import { workbookContent, workbookResource } from "./workbook.js";

/**
 * Resource-group scope: everything that hosts the service. A Function App on Flex Consumption (Linux,
 * Node 22) running as a user-assigned identity, its storage account without shared keys, Application
 * Insights on a Log Analytics workspace with Entra-only ingestion, a second identity for Event Grid
 * dead-lettering, and the alert rules and workbook on the service's metrics (alerts.ts, workbook.ts).
 * Deployed as infra/app.json and nested in infra/main.json.
 */

/** Name of the Event Grid triggered function (src/functions registers it under this name). */
export const EVENT_GRID_FUNCTION_NAME = "onResourceWrite";

/**
 * Arguments of the Function App's Node.js worker (app setting languageWorkers__node__arguments); bench/run.ts
 * starts its service processes with them, so the bench measures what is deployed. V8 lets the old generation grow
 * to up to 4x what survived the last full GC, and the 100k-machine sweep peaked at ~320 MiB RSS; at 1.5x it peaks
 * at ~240 MiB for ~15% more CPU and the same wall time. A growing factor caps nothing: a larger tenant only
 * collects more often.
 */
export const NODE_WORKER_ARGUMENTS: readonly string[] = ["--heap-growing-percent=50"];

export const APP_PARAMETER_NAMES = [
  "appName",
  "location",
  "remediationSubscriptions",
  "remediationProfiles",
  "workspaceId",
  "dataCollectionRuleId",
  "optOutTag",
  "createdResourceTags",
  "removeLegacyMma",
  "scopeToSupportedImages",
  "sqlMode",
  "dryRun",
  "sweepSchedule",
  "fullReconcileHours",
  "eventBatchSeconds",
  "extensionReinstallAttemptsPerDay",
  "planMaxAgeHours",
  "maximumInstanceCount",
  ...ALERT_PARAMETER_NAMES,
] as const;

/** SWEEP_SCHEDULE's default, as src/config/settings.ts has it; the missed-sweep alert's default follows from it. */
const DEFAULT_SWEEP_SCHEDULE = "0 */15 * * * *";

/** Parameter declarations shared by app.json and main.json (main.json forwards them unchanged). */
export function appParameters(): Record<(typeof APP_PARAMETER_NAMES)[number], JsonObject> {
  return {
    appName: {
      type: "string",
      minLength: 2,
      maxLength: 32,
      metadata: { description: "Function App name (globally unique host name); other resource names derive from it." },
    },
    location: stringParameter("Region of the hosting resources."),
    remediationSubscriptions: stringParameter("REMEDIATION_SUBSCRIPTIONS: comma-separated subscription ids; empty = every subscription the identity can list.", ""),
    remediationProfiles: {
      type: "string",
      defaultValue: "machines,sql",
      allowedValues: ["machines,sql", "machines", "sql"],
      metadata: { description: "REMEDIATION_PROFILES: which remediation profiles run." },
    },
    workspaceId: stringParameter("LOG_ANALYTICS_WORKSPACE_ID: custom Log Analytics workspace resource id (optional; never created).", ""),
    dataCollectionRuleId: stringParameter("DATA_COLLECTION_RULE_ID: custom data collection rule resource id (optional).", ""),
    optOutTag: stringParameter("OPT_OUT_TAG: tag name whose value 'skip' on a machine, resource group or subscription means never write.", "ama-remediation"),
    createdResourceTags: {
      type: "object",
      defaultValue: {},
      metadata: { description: 'CREATED_RESOURCE_TAGS: tags added to every resource the service creates, e.g. {"costCenter":"security-ops"} (at most 49, Azure\'s name and value limits).' },
    },
    removeLegacyMma: {
      type: "bool",
      defaultValue: false,
      metadata: { description: "REMOVE_LEGACY_MMA: remove MMA/OMS once AMA shows Succeeded." },
    },
    scopeToSupportedImages: {
      type: "bool",
      defaultValue: false,
      metadata: { description: "SCOPE_TO_SUPPORTED_IMAGES: true matches the built-in AMA policies exactly (only VMs from the marketplace images they list); false (default) takes every machine whose OS the Azure Monitor Agent supports, gallery and custom images included." },
    },
    sqlMode: {
      type: "string",
      defaultValue: "auto",
      allowedValues: ["ama", "extension-only", "auto"],
      metadata: { description: "SQL_MODE: 'auto' (per subscription, the architecture of the Defender for SQL initiative assigned to it; else the AMA initiative), or force 'ama' (Defender for SQL AMA initiative) or 'extension-only' (post-2025 architecture)." },
    },
    dryRun: {
      type: "bool",
      defaultValue: false,
      metadata: { description: "DRY_RUN: plan and report only, never write. Consider true for a first deployment." },
    },
    sweepSchedule: stringParameter("SWEEP_SCHEDULE: NCRONTAB (6 fields) of the timer sweep. Changing it changes missedSweepAlertMinutes too.", DEFAULT_SWEEP_SCHEDULE),
    fullReconcileHours: {
      type: "int",
      defaultValue: 24,
      minValue: 1,
      metadata: { description: "FULL_RECONCILE_HOURS: a full reconcile at most this often." },
    },
    eventBatchSeconds: {
      type: "int",
      defaultValue: 10,
      minValue: 0,
      maxValue: 900,
      metadata: { description: "EVENT_BATCH_SECONDS: events for one subscription are collected this long and reconciled together." },
    },
    extensionReinstallAttemptsPerDay: {
      type: "int",
      defaultValue: 3,
      minValue: 0,
      maxValue: 100,
      metadata: { description: "EXTENSION_REINSTALL_ATTEMPTS_PER_DAY: reinstalls of a machine's Failed agent extension events may trigger per UTC day." },
    },
    planMaxAgeHours: {
      type: "int",
      defaultValue: 72,
      minValue: 1,
      metadata: { description: "PLAN_MAX_AGE_HOURS: a saved plan older than this is refused whole (POST /api/runs {planId})." },
    },
    maximumInstanceCount: {
      type: "int",
      defaultValue: 40,
      metadata: { description: "Flex Consumption maximum instance count." },
    },
    ...alertParameters(DEFAULT_SWEEP_SCHEDULE),
  };
}

const ids = {
  appIdentity: "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('appIdentityName'))]",
  eventGridIdentity: "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('eventGridIdentityName'))]",
  storage: "[resourceId('Microsoft.Storage/storageAccounts', variables('storageAccountName'))]",
  blobService: "[resourceId('Microsoft.Storage/storageAccounts/blobServices', variables('storageAccountName'), 'default')]",
  deadLetterContainer:
    "[resourceId('Microsoft.Storage/storageAccounts/blobServices/containers', variables('storageAccountName'), 'default', variables('deadLetterContainerName'))]",
  deploymentContainer:
    "[resourceId('Microsoft.Storage/storageAccounts/blobServices/containers', variables('storageAccountName'), 'default', variables('deploymentContainerName'))]",
  workspace: "[resourceId('Microsoft.OperationalInsights/workspaces', variables('workspaceName'))]",
  insights: "[resourceId('Microsoft.Insights/components', variables('insightsName'))]",
  plan: "[resourceId('Microsoft.Web/serverfarms', variables('planName'))]",
  site: "[resourceId('Microsoft.Web/sites', parameters('appName'))]",
} as const;

const appClientId = `reference(${ids.appIdentity.slice(1, -1)}, '${API_VERSIONS.userAssignedIdentities}').clientId`;
const appPrincipalId = `reference(${ids.appIdentity.slice(1, -1)}, '${API_VERSIONS.userAssignedIdentities}').principalId`;
const eventGridPrincipalId = `reference(${ids.eventGridIdentity.slice(1, -1)}, '${API_VERSIONS.userAssignedIdentities}').principalId`;

/** A role assignment of `role` to an identity, scoped to one resource of this template. */
function roleAssignment(options: { scope: string; scopeId: string; role: string; principalId: string; identityId: string }): JsonObject {
  return {
    type: "Microsoft.Authorization/roleAssignments",
    apiVersion: API_VERSIONS.roleAssignments,
    scope: options.scope,
    name: `[guid(${options.scopeId.slice(1, -1)}, ${options.identityId.slice(1, -1)}, '${options.role}')]`,
    dependsOn: [options.scopeId, options.identityId],
    properties: {
      roleDefinitionId: `[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '${options.role}')]`,
      principalId: `[${options.principalId}]`,
      principalType: "ServicePrincipal",
    },
  };
}

function setting(name: string, value: string): JsonObject {
  return { name, value };
}

export function appTemplate(): JsonObject {
  const storageScope = "[format('Microsoft.Storage/storageAccounts/{0}', variables('storageAccountName'))]";
  const forApp = { principalId: appPrincipalId, identityId: ids.appIdentity };
  return template(SCHEMAS.resourceGroup, {
    parameters: appParameters(),
    variables: {
      appIdentityName: "[format('id-{0}', parameters('appName'))]",
      eventGridIdentityName: "[format('id-{0}-eventgrid', parameters('appName'))]",
      storageAccountName: "[format('st{0}', uniqueString(resourceGroup().id, parameters('appName')))]",
      workspaceName: "[format('log-{0}', parameters('appName'))]",
      insightsName: "[format('appi-{0}', parameters('appName'))]",
      planName: "[format('plan-{0}', parameters('appName'))]",
      deploymentContainerName: "app-package",
      deadLetterContainerName: "eventgrid-deadletter",
      ...alertVariables(),
      workbookContent: workbookContent(ids.workspace),
    },
    resources: [
      {
        type: "Microsoft.ManagedIdentity/userAssignedIdentities",
        apiVersion: API_VERSIONS.userAssignedIdentities,
        name: "[variables('appIdentityName')]",
        location: "[parameters('location')]",
      },
      {
        type: "Microsoft.ManagedIdentity/userAssignedIdentities",
        apiVersion: API_VERSIONS.userAssignedIdentities,
        name: "[variables('eventGridIdentityName')]",
        location: "[parameters('location')]",
      },
      {
        type: "Microsoft.Storage/storageAccounts",
        apiVersion: API_VERSIONS.storage,
        name: "[variables('storageAccountName')]",
        location: "[parameters('location')]",
        sku: { name: "Standard_LRS" },
        kind: "StorageV2",
        properties: {
          accessTier: "Hot",
          allowSharedKeyAccess: false,
          allowBlobPublicAccess: false,
          defaultToOAuthAuthentication: true,
          minimumTlsVersion: "TLS1_2",
          supportsHttpsTrafficOnly: true,
        },
      },
      {
        type: "Microsoft.Storage/storageAccounts/blobServices",
        apiVersion: API_VERSIONS.storage,
        name: "[format('{0}/default', variables('storageAccountName'))]",
        dependsOn: [ids.storage],
      },
      {
        type: "Microsoft.Storage/storageAccounts/blobServices/containers",
        apiVersion: API_VERSIONS.storage,
        name: "[format('{0}/default/{1}', variables('storageAccountName'), variables('deploymentContainerName'))]",
        dependsOn: [ids.blobService],
        properties: { publicAccess: "None" },
      },
      {
        type: "Microsoft.Storage/storageAccounts/blobServices/containers",
        apiVersion: API_VERSIONS.storage,
        name: "[format('{0}/default/{1}', variables('storageAccountName'), variables('deadLetterContainerName'))]",
        dependsOn: [ids.blobService],
        properties: { publicAccess: "None" },
      },
      roleAssignment({ scope: storageScope, scopeId: ids.storage, role: BUILT_IN_ROLES.storageBlobDataOwner, ...forApp }),
      roleAssignment({ scope: storageScope, scopeId: ids.storage, role: BUILT_IN_ROLES.storageQueueDataContributor, ...forApp }),
      roleAssignment({ scope: storageScope, scopeId: ids.storage, role: BUILT_IN_ROLES.storageTableDataContributor, ...forApp }),
      roleAssignment({
        scope: "[format('Microsoft.Storage/storageAccounts/{0}/blobServices/default/containers/{1}', variables('storageAccountName'), variables('deadLetterContainerName'))]",
        scopeId: ids.deadLetterContainer,
        role: BUILT_IN_ROLES.storageBlobDataContributor,
        principalId: eventGridPrincipalId,
        identityId: ids.eventGridIdentity,
      }),
      {
        type: "Microsoft.OperationalInsights/workspaces",
        apiVersion: API_VERSIONS.workspaces,
        name: "[variables('workspaceName')]",
        location: "[parameters('location')]",
        properties: { sku: { name: "PerGB2018" }, retentionInDays: 30 },
      },
      {
        type: "Microsoft.Insights/components",
        apiVersion: API_VERSIONS.components,
        name: "[variables('insightsName')]",
        location: "[parameters('location')]",
        kind: "web",
        dependsOn: [ids.workspace],
        properties: {
          Application_Type: "web",
          WorkspaceResourceId: ids.workspace,
          DisableLocalAuth: true,
        },
      },
      roleAssignment({
        scope: "[format('Microsoft.Insights/components/{0}', variables('insightsName'))]",
        scopeId: ids.insights,
        role: BUILT_IN_ROLES.monitoringMetricsPublisher,
        ...forApp,
      }),
      ...alertResources(ids.workspace),
      workbookResource(ids.workspace),
      {
        type: "Microsoft.Web/serverfarms",
        apiVersion: API_VERSIONS.web,
        name: "[variables('planName')]",
        location: "[parameters('location')]",
        kind: "functionapp",
        sku: { tier: "FlexConsumption", name: "FC1" },
        properties: { reserved: true },
      },
      {
        type: "Microsoft.Web/sites",
        apiVersion: API_VERSIONS.web,
        name: "[parameters('appName')]",
        location: "[parameters('location')]",
        kind: "functionapp,linux",
        identity: { type: "UserAssigned", userAssignedIdentities: { [ids.appIdentity]: {} } },
        dependsOn: [ids.plan, ids.insights, ids.appIdentity, ids.deploymentContainer],
        properties: {
          serverFarmId: ids.plan,
          httpsOnly: true,
          // no ftpsState and the like: Flex Consumption rejects them (test/infra/flexConsumption.test.ts lists them)
          siteConfig: {
            minTlsVersion: "1.2",
            appSettings: [
              setting("AzureWebJobsStorage__accountName", "[variables('storageAccountName')]"),
              setting("AzureWebJobsStorage__credential", "managedidentity"),
              setting("AzureWebJobsStorage__clientId", `[${appClientId}]`),
              setting("AZURE_CLIENT_ID", `[${appClientId}]`),
              setting("APPLICATIONINSIGHTS_CONNECTION_STRING", `[reference(${ids.insights.slice(1, -1)}, '${API_VERSIONS.components}').ConnectionString]`),
              setting("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", `[format('ClientId={0};Authorization=AAD', ${appClientId})]`),
              setting("REMEDIATION_SUBSCRIPTIONS", "[parameters('remediationSubscriptions')]"),
              setting("REMEDIATION_PROFILES", "[parameters('remediationProfiles')]"),
              setting("LOG_ANALYTICS_WORKSPACE_ID", "[parameters('workspaceId')]"),
              setting("DATA_COLLECTION_RULE_ID", "[parameters('dataCollectionRuleId')]"),
              setting("OPT_OUT_TAG", "[parameters('optOutTag')]"),
              setting("CREATED_RESOURCE_TAGS", "[string(parameters('createdResourceTags'))]"),
              setting("REMOVE_LEGACY_MMA", "[if(parameters('removeLegacyMma'), 'true', 'false')]"),
              setting("SCOPE_TO_SUPPORTED_IMAGES", "[if(parameters('scopeToSupportedImages'), 'true', 'false')]"),
              setting("SQL_MODE", "[parameters('sqlMode')]"),
              setting("DRY_RUN", "[if(parameters('dryRun'), 'true', 'false')]"),
              setting("SWEEP_SCHEDULE", "[parameters('sweepSchedule')]"),
              setting("FULL_RECONCILE_HOURS", "[string(parameters('fullReconcileHours'))]"),
              setting("EVENT_BATCH_SECONDS", "[string(parameters('eventBatchSeconds'))]"),
              setting("EXTENSION_REINSTALL_ATTEMPTS_PER_DAY", "[string(parameters('extensionReinstallAttemptsPerDay'))]"),
              setting("PLAN_MAX_AGE_HOURS", "[string(parameters('planMaxAgeHours'))]"),
              setting("languageWorkers__node__arguments", NODE_WORKER_ARGUMENTS.join(" ")),
            ],
          },
          functionAppConfig: {
            deployment: {
              storage: {
                type: "blobContainer",
                value: `[format('{0}{1}', reference(${ids.storage.slice(1, -1)}, '${API_VERSIONS.storage}').primaryEndpoints.blob, variables('deploymentContainerName'))]`,
                authentication: { type: "UserAssignedIdentity", userAssignedIdentityResourceId: ids.appIdentity },
              },
            },
            runtime: { name: "node", version: "22" },
            scaleAndConcurrency: { instanceMemoryMB: 2048, maximumInstanceCount: "[parameters('maximumInstanceCount')]" },
          },
        },
      },
    ],
    outputs: {
      functionAppName: { type: "string", value: "[parameters('appName')]" },
      functionAppId: { type: "string", value: ids.site },
      eventGridFunctionResourceId: {
        type: "string",
        value: `[format('{0}/functions/${EVENT_GRID_FUNCTION_NAME}', ${ids.site.slice(1, -1)})]`,
      },
      principalId: { type: "string", value: `[${appPrincipalId}]` },
      clientId: { type: "string", value: `[${appClientId}]` },
      eventGridIdentityId: { type: "string", value: ids.eventGridIdentity },
      eventGridIdentityName: { type: "string", value: "[variables('eventGridIdentityName')]" },
      deadLetterStorageAccountId: { type: "string", value: ids.storage },
      deadLetterContainerName: { type: "string", value: "[variables('deadLetterContainerName')]" },
    },
  });
}
