import { APP_PARAMETER_NAMES, appParameters, appTemplate } from "./app.js";
import {
  API_VERSIONS,
  BUILT_IN_ROLES,
  SCHEMAS,
  escapeExpressions,
  forwardParameters,
  nestedDeployment,
  resourceGroupWithDeployment,
  stringParameter,
  template,
  type Json,
  type JsonObject,
} from "./arm.js";
import { EVENT_GRID_NAMES, eventGridSubscriptionTemplate } from "./eventGridSubscription.js";
import { EVENT_GRID_WIRING_ROLE_ACTIONS, REMEDIATOR_ROLE_ACTIONS } from "./roleActions.js";

/**
 * Management-group scope: the one template a tenant deployment runs (`az deployment mg create`).
 *  1. the custom role "AMA Remediator" (exactly the service's actions) at the management group, assigned
 *     to the Function App's identity there, so it covers every subscription below, including future ones;
 *  2. the hosting subscription: resource group + app.json;
 *  3. a deployIfNotExists policy, assigned at the management group, that deploys
 *     eventgrid-subscription.json into every subscription lacking it (new subscriptions included), and the
 *     roles its identity needs to do so.
 */

/** App outputs that main.json passes on from the hosting deployment. */
const APP_OUTPUTS = [
  "functionAppName",
  "functionAppId",
  "eventGridFunctionResourceId",
  "principalId",
  "clientId",
  "eventGridIdentityId",
  "eventGridIdentityName",
  "deadLetterStorageAccountId",
  "deadLetterContainerName",
] as const;
type AppOutput = (typeof APP_OUTPUTS)[number];

const appDeploymentName = "ama-remediator-app";

/** Subscription scope: the hosting resource group and the app inside it. */
function hostingTemplate(): JsonObject {
  const appDeploymentId = `resourceId(parameters('resourceGroupName'), 'Microsoft.Resources/deployments', '${appDeploymentName}')`;
  const outputs: JsonObject = {};
  for (const name of APP_OUTPUTS) {
    outputs[name] = { type: "string", value: `[reference(${appDeploymentId}, '${API_VERSIONS.deployments}').outputs.${name}.value]` };
  }
  return template(SCHEMAS.subscription, {
    parameters: { ...appParameters(), resourceGroupName: { type: "string" } },
    resources: [
      ...resourceGroupWithDeployment({ name: appDeploymentName, parameters: forwardParameters(APP_PARAMETER_NAMES), template: appTemplate() }),
    ],
    outputs,
  });
}

/** Resource-group scope, in the hosting group: what the policy identity needs on the hosting resources. */
function hostingAccessTemplate(): JsonObject {
  const grant = (scope: string, scopeId: string, role: string): JsonObject => ({
    type: "Microsoft.Authorization/roleAssignments",
    apiVersion: API_VERSIONS.roleAssignments,
    scope,
    name: `[guid(${scopeId}, parameters('policyPrincipalId'), '${role}')]`,
    properties: {
      roleDefinitionId: `[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '${role}')]`,
      principalId: "[parameters('policyPrincipalId')]",
      principalType: "ServicePrincipal",
    },
  });
  return template(SCHEMAS.resourceGroup, {
    parameters: {
      policyPrincipalId: { type: "string" },
      eventGridIdentityName: { type: "string" },
      functionAppName: { type: "string" },
    },
    resources: [
      // attach the dead-letter identity to each system topic (userAssignedIdentities/assign/action)
      grant(
        "[format('Microsoft.ManagedIdentity/userAssignedIdentities/{0}', parameters('eventGridIdentityName'))]",
        "resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', parameters('eventGridIdentityName'))",
        BUILT_IN_ROLES.managedIdentityOperator,
      ),
      // Event Grid checks the creator's access to an AzureFunction destination before accepting it
      grant(
        "[format('Microsoft.Web/sites/{0}', parameters('functionAppName'))]",
        "resourceId('Microsoft.Web/sites', parameters('functionAppName'))",
        BUILT_IN_ROLES.websiteContributor,
      ),
    ],
  });
}

const hostingDeploymentId =
  "subscriptionResourceId(parameters('hostingSubscriptionId'), 'Microsoft.Resources/deployments', variables('hostingDeploymentName'))";
const hostingOutput = (name: AppOutput): string => `[reference(${hostingDeploymentId}, '${API_VERSIONS.deployments}').outputs.${name}.value]`;
const roleDefinitionId = (variable: string): string =>
  `extensionResourceId(managementGroup().id, 'Microsoft.Authorization/roleDefinitions', variables('${variable}'))`;
const policyDefinitionId = "extensionResourceId(managementGroup().id, 'Microsoft.Authorization/policyDefinitions', variables('policyDefinitionName'))";
const policyAssignmentId = "extensionResourceId(managementGroup().id, 'Microsoft.Authorization/policyAssignments', variables('policyAssignmentName'))";
const policyPrincipalId = `reference(${policyAssignmentId}, '${API_VERSIONS.policyAssignments}', 'full').identity.principalId`;

/** Parameters of the wiring policy; the assignment fills them from the hosting deployment's outputs. */
const POLICY_PARAMETERS = [
  "location",
  "resourceGroupName",
  "functionResourceId",
  "eventGridIdentityId",
  "deadLetterStorageAccountId",
  "deadLetterContainerName",
] as const;

function policyDefinitionParameters(): JsonObject {
  const parameters: JsonObject = {
    effect: {
      type: "String",
      allowedValues: ["DeployIfNotExists", "AuditIfNotExists", "Disabled"],
      defaultValue: "DeployIfNotExists",
      metadata: { displayName: "Effect" },
    },
  };
  for (const name of POLICY_PARAMETERS) parameters[name] = { type: "String", metadata: { displayName: name } };
  return parameters;
}

/**
 * The policy rule with every expression escaped for main.json (Azure Policy and the remediation
 * deployment evaluate them later), except roleDefinitionIds, which main.json resolves itself.
 */
function policyRule(): JsonObject {
  const deploymentParameters: Record<string, Json> = {
    ...forwardParameters(POLICY_PARAMETERS),
    systemTopicName: EVENT_GRID_NAMES.systemTopic,
    eventSubscriptionName: EVENT_GRID_NAMES.eventSubscription,
  };
  const rule = escapeExpressions({
    if: { field: "type", equals: "Microsoft.Resources/subscriptions" },
    then: {
      effect: "[parameters('effect')]",
      details: {
        type: "Microsoft.EventGrid/systemTopics/eventSubscriptions",
        name: `${EVENT_GRID_NAMES.systemTopic}/${EVENT_GRID_NAMES.eventSubscription}`,
        resourceGroupName: "[parameters('resourceGroupName')]",
        existenceScope: "ResourceGroup",
        deploymentScope: "Subscription",
        deployment: {
          location: "[parameters('location')]",
          properties: {
            mode: "Incremental",
            parameters: Object.fromEntries(Object.entries(deploymentParameters).map(([name, value]) => [name, { value }])),
            template: eventGridSubscriptionTemplate(),
          },
        },
      },
    },
  }) as JsonObject;
  const details = (rule.then as JsonObject).details as JsonObject;
  details.roleDefinitionIds = [
    `[tenantResourceId('Microsoft.Authorization/roleDefinitions', '${BUILT_IN_ROLES.eventGridContributor}')]`,
    `[${roleDefinitionId("wiringRoleId")}]`,
  ];
  return rule;
}

function customRole(options: { idVariable: string; roleName: string; description: string; actions: readonly string[] }): JsonObject {
  return {
    type: "Microsoft.Authorization/roleDefinitions",
    apiVersion: API_VERSIONS.roleDefinitions,
    name: `[variables('${options.idVariable}')]`,
    properties: {
      roleName: options.roleName,
      description: options.description,
      type: "CustomRole",
      permissions: [{ actions: [...options.actions], notActions: [], dataActions: [], notDataActions: [] }],
      assignableScopes: ["[managementGroup().id]"],
    },
  };
}

function policyRoleAssignment(role: string, roleId: string, dependsOn: string[]): JsonObject {
  return {
    type: "Microsoft.Authorization/roleAssignments",
    apiVersion: API_VERSIONS.roleAssignments,
    name: `[guid(managementGroup().id, variables('policyAssignmentName'), ${role})]`,
    dependsOn: [`[${policyAssignmentId}]`, ...dependsOn],
    properties: {
      roleDefinitionId: roleId,
      principalId: `[${policyPrincipalId}]`,
      principalType: "ServicePrincipal",
    },
  };
}

export function mainTemplate(): JsonObject {
  return template(SCHEMAS.managementGroup, {
    parameters: {
      ...appParameters(),
      hostingSubscriptionId: stringParameter("Subscription that hosts the Function App."),
      resourceGroupName: stringParameter("Resource group for the hosting resources.", "rg-ama-remediator"),
      eventGridResourceGroupName: stringParameter("Resource group created in every managed subscription for its Event Grid system topic.", EVENT_GRID_NAMES.resourceGroup),
      policyEffect: {
        type: "string",
        defaultValue: "DeployIfNotExists",
        allowedValues: ["DeployIfNotExists", "AuditIfNotExists", "Disabled"],
        metadata: { description: "Effect of the Event Grid wiring policy assignment." },
      },
    },
    variables: {
      remediatorRoleId: "[guid(managementGroup().id, 'ama-remediator')]",
      wiringRoleId: "[guid(managementGroup().id, 'ama-remediator-eventgrid-wiring')]",
      policyDefinitionName: "ama-remediator-eventgrid-wiring",
      policyAssignmentName: "ama-remediator-eg",
      hostingDeploymentName: "ama-remediator-hosting",
      accessDeploymentName: "ama-remediator-hosting-access",
    },
    resources: [
      customRole({
        idVariable: "remediatorRoleId",
        roleName: "[format('AMA Remediator ({0})', managementGroup().name)]",
        description: "ama-remediator: makes machines compliant with Defender for Cloud's Azure Monitor Agent set-up. Exactly the operations the service performs.",
        actions: REMEDIATOR_ROLE_ACTIONS,
      }),
      customRole({
        idVariable: "wiringRoleId",
        roleName: "[format('AMA Remediator Event Grid wiring ({0})', managementGroup().name)]",
        description: "ama-remediator: lets the Event Grid wiring policy create the resource group of each subscription's system topic.",
        actions: EVENT_GRID_WIRING_ROLE_ACTIONS,
      }),
      nestedDeployment({
        name: "[variables('hostingDeploymentName')]",
        target: { subscriptionId: "[parameters('hostingSubscriptionId')]", location: "[parameters('location')]" },
        parameters: { ...forwardParameters([...APP_PARAMETER_NAMES, "resourceGroupName"]) },
        template: hostingTemplate(),
      }),
      {
        type: "Microsoft.Authorization/roleAssignments",
        apiVersion: API_VERSIONS.roleAssignments,
        name: "[guid(managementGroup().id, variables('remediatorRoleId'), parameters('hostingSubscriptionId'), parameters('resourceGroupName'), parameters('appName'))]",
        dependsOn: [`[${roleDefinitionId("remediatorRoleId")}]`, `[${hostingDeploymentId}]`],
        properties: {
          roleDefinitionId: `[${roleDefinitionId("remediatorRoleId")}]`,
          principalId: hostingOutput("principalId"),
          principalType: "ServicePrincipal",
        },
      },
      {
        type: "Microsoft.Authorization/policyDefinitions",
        apiVersion: API_VERSIONS.policyDefinitions,
        name: "[variables('policyDefinitionName')]",
        dependsOn: [`[${roleDefinitionId("wiringRoleId")}]`],
        properties: {
          policyType: "Custom",
          mode: "All",
          displayName: "ama-remediator: wire every subscription's resource events to the remediator",
          description:
            "Deploys a Microsoft.Resources.Subscriptions Event Grid system topic and an event subscription that delivers machine writes and agent removals to the ama-remediator Function App.",
          metadata: { category: "Monitoring" },
          parameters: policyDefinitionParameters(),
          policyRule: policyRule(),
        },
      },
      {
        type: "Microsoft.Authorization/policyAssignments",
        apiVersion: API_VERSIONS.policyAssignments,
        name: "[variables('policyAssignmentName')]",
        location: "[parameters('location')]",
        identity: { type: "SystemAssigned" },
        dependsOn: [`[${policyDefinitionId}]`, `[${hostingDeploymentId}]`],
        properties: {
          displayName: "ama-remediator: Event Grid wiring",
          policyDefinitionId: `[${policyDefinitionId}]`,
          enforcementMode: "Default",
          parameters: {
            effect: { value: "[parameters('policyEffect')]" },
            location: { value: "[parameters('location')]" },
            resourceGroupName: { value: "[parameters('eventGridResourceGroupName')]" },
            functionResourceId: { value: hostingOutput("eventGridFunctionResourceId") },
            eventGridIdentityId: { value: hostingOutput("eventGridIdentityId") },
            deadLetterStorageAccountId: { value: hostingOutput("deadLetterStorageAccountId") },
            deadLetterContainerName: { value: hostingOutput("deadLetterContainerName") },
          },
        },
      },
      policyRoleAssignment(
        `'${BUILT_IN_ROLES.eventGridContributor}'`,
        `[tenantResourceId('Microsoft.Authorization/roleDefinitions', '${BUILT_IN_ROLES.eventGridContributor}')]`,
        [],
      ),
      policyRoleAssignment("variables('wiringRoleId')", `[${roleDefinitionId("wiringRoleId")}]`, [`[${roleDefinitionId("wiringRoleId")}]`]),
      nestedDeployment({
        name: "[variables('accessDeploymentName')]",
        target: { subscriptionId: "[parameters('hostingSubscriptionId')]", resourceGroup: "[parameters('resourceGroupName')]" },
        dependsOn: [`[${policyAssignmentId}]`, `[${hostingDeploymentId}]`],
        parameters: {
          policyPrincipalId: `[${policyPrincipalId}]`,
          eventGridIdentityName: hostingOutput("eventGridIdentityName"),
          functionAppName: hostingOutput("functionAppName"),
        },
        template: hostingAccessTemplate(),
      }),
    ],
    outputs: {
      functionAppName: { type: "string", value: hostingOutput("functionAppName") },
      functionAppId: { type: "string", value: hostingOutput("functionAppId") },
      resourceGroupName: { type: "string", value: "[parameters('resourceGroupName')]" },
      principalId: { type: "string", value: hostingOutput("principalId") },
      eventGridFunctionResourceId: { type: "string", value: hostingOutput("eventGridFunctionResourceId") },
      roleDefinitionId: { type: "string", value: `[${roleDefinitionId("remediatorRoleId")}]` },
      policyAssignmentId: { type: "string", value: `[${policyAssignmentId}]` },
    },
  });
}
