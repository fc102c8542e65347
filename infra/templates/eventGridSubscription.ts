import { EVENT_GRID_LIMITS, HANDLED_EVENT_TYPES, HANDLED_OPERATIONS } from "../../src/events/filter.js";
import { API_VERSIONS, SCHEMAS, forwardParameters, resourceGroupWithDeployment, stringParameter, template, type JsonObject } from "./arm.js";

/**
 * Subscription-scope template: the Event Grid wiring of one managed subscription. A resource group with
 * the subscription's system topic (Microsoft.Resources.Subscriptions) and one event subscription that
 * delivers only the events src/events/filter.ts handles to the Function App's Event Grid trigger.
 * Deployed as infra/eventgrid-subscription.json and, unchanged, by the deployIfNotExists policy of main.json.
 */

/** Fixed names, shared by the template defaults and the policy's existence check. */
export const EVENT_GRID_NAMES = {
  resourceGroup: "rg-ama-remediator-events",
  systemTopic: "ama-remediator-arm-events",
  eventSubscription: "ama-remediator",
} as const;

/** Event Grid retries; the timer sweep catches anything that is finally dropped or dead-lettered. */
export const DELIVERY = { maxDeliveryAttempts: 10, eventTimeToLiveInMinutes: 1440 } as const;

/**
 * The event subscription's filter, rendered from the handler's own lists: its event types, and one
 * `StringIn` on `data.operationName`. Event Grid refuses a subscription over its limits (25 values
 * across all advanced filters, 512 characters each); so does the build, naming the limit.
 */
export function eventGridFilter(operations: readonly string[] = HANDLED_OPERATIONS): JsonObject {
  if (operations.length > EVENT_GRID_LIMITS.advancedFilterValues) {
    throw new Error(`the Event Grid filter lists ${operations.length} operations; Event Grid allows ${EVENT_GRID_LIMITS.advancedFilterValues} advanced filter values per event subscription`);
  }
  const tooLong = operations.find((operation) => operation.length > EVENT_GRID_LIMITS.valueLength);
  if (tooLong) throw new Error(`Event Grid filter values are at most ${EVENT_GRID_LIMITS.valueLength} characters: ${tooLong.slice(0, 60)}…`);
  return {
    includedEventTypes: [...HANDLED_EVENT_TYPES],
    advancedFilters: [{ operatorType: "StringIn", key: "data.operationName", values: [...operations] }],
  };
}

const topicParameters = [
  "systemTopicName",
  "eventSubscriptionName",
  "functionResourceId",
  "eventGridIdentityId",
  "deadLetterStorageAccountId",
  "deadLetterContainerName",
] as const;

/** Resource-group scope: the system topic and its event subscription. */
function topicTemplate(): JsonObject {
  const topicId = "[resourceId('Microsoft.EventGrid/systemTopics', parameters('systemTopicName'))]";
  return template(SCHEMAS.resourceGroup, {
    parameters: {
      systemTopicName: { type: "string" },
      eventSubscriptionName: { type: "string" },
      functionResourceId: { type: "string" },
      eventGridIdentityId: { type: "string" },
      deadLetterStorageAccountId: { type: "string" },
      deadLetterContainerName: { type: "string" },
    },
    resources: [
      {
        type: "Microsoft.EventGrid/systemTopics",
        apiVersion: API_VERSIONS.eventGrid,
        name: "[parameters('systemTopicName')]",
        location: "global",
        identity: {
          type: "UserAssigned",
          userAssignedIdentities: { "[parameters('eventGridIdentityId')]": {} },
        },
        properties: {
          source: "[subscription().id]",
          topicType: "Microsoft.Resources.Subscriptions",
        },
      },
      {
        type: "Microsoft.EventGrid/systemTopics/eventSubscriptions",
        apiVersion: API_VERSIONS.eventGrid,
        name: "[format('{0}/{1}', parameters('systemTopicName'), parameters('eventSubscriptionName'))]",
        dependsOn: [topicId],
        properties: {
          eventDeliverySchema: "EventGridSchema",
          destination: {
            endpointType: "AzureFunction",
            properties: {
              resourceId: "[parameters('functionResourceId')]",
              maxEventsPerBatch: 1,
              preferredBatchSizeInKilobytes: 64,
            },
          },
          filter: eventGridFilter(),
          retryPolicy: { ...DELIVERY },
          deadLetterWithResourceIdentity: {
            identity: { type: "UserAssigned", userAssignedIdentity: "[parameters('eventGridIdentityId')]" },
            deadLetterDestination: {
              endpointType: "StorageBlob",
              properties: {
                resourceId: "[parameters('deadLetterStorageAccountId')]",
                blobContainerName: "[parameters('deadLetterContainerName')]",
              },
            },
          },
        },
      },
    ],
    outputs: {
      systemTopicId: { type: "string", value: topicId },
    },
  });
}

/** Subscription scope: the resource group, then the topic inside it. */
export function eventGridSubscriptionTemplate(): JsonObject {
  const deploymentName = "ama-remediator-eventgrid";
  return template(SCHEMAS.subscription, {
    parameters: {
      location: stringParameter("Region of the resource group that holds the system topic (the topic itself is global)."),
      resourceGroupName: stringParameter("Resource group for the system topic.", EVENT_GRID_NAMES.resourceGroup),
      systemTopicName: stringParameter(
        "Name of the subscription's Microsoft.Resources.Subscriptions system topic (Azure allows one per subscription).",
        EVENT_GRID_NAMES.systemTopic,
      ),
      eventSubscriptionName: stringParameter("Name of the event subscription.", EVENT_GRID_NAMES.eventSubscription),
      functionResourceId: stringParameter("Resource id of the Event Grid triggered function: {functionAppId}/functions/onResourceWrite."),
      eventGridIdentityId: stringParameter(
        "Resource id of the user-assigned identity Event Grid uses to dead-letter (needs Storage Blob Data Contributor on the container).",
      ),
      deadLetterStorageAccountId: stringParameter("Resource id of the storage account that receives dead-lettered events."),
      deadLetterContainerName: stringParameter("Blob container for dead-lettered events."),
    },
    resources: [
      ...resourceGroupWithDeployment({ name: deploymentName, parameters: forwardParameters(topicParameters), template: topicTemplate() }),
    ],
    outputs: {
      systemTopicId: {
        type: "string",
        value: `[reference(resourceId(parameters('resourceGroupName'), 'Microsoft.Resources/deployments', '${deploymentName}'), '${API_VERSIONS.deployments}').outputs.systemTopicId.value]`,
      },
    },
  });
}
