/**
 * The one source of truth for which Azure Resource Manager events the service acts on, and why.
 * The Event Grid trigger applies it in code and infra/ renders it into the event subscription's
 * filter, so what Event Grid delivers and what the handler accepts cannot drift apart.
 * docs/azure-domain.md §8.1 explains each rule.
 */
import type { DriftCause } from "../report/timing.js";

export const WRITE_SUCCESS = "Microsoft.Resources.ResourceWriteSuccess";
export const WRITE_FAILURE = "Microsoft.Resources.ResourceWriteFailure";
export const DELETE_SUCCESS = "Microsoft.Resources.ResourceDeleteSuccess";
const ACTION_SUCCESS = "Microsoft.Resources.ResourceActionSuccess";

/** Event types the service subscribes to (Microsoft.Resources subscription system topic). */
export const HANDLED_EVENT_TYPES = [WRITE_SUCCESS, WRITE_FAILURE, DELETE_SUCCESS, ACTION_SUCCESS] as const;
export type HandledEventType = (typeof HANDLED_EVENT_TYPES)[number];

/**
 * What an event's `data.resourceUri` says must be reconciled:
 *   machine         the machine it is, or the machine its extension or association hangs off
 *   pricing         its subscription, when the plan is one the service acts on
 *   sharedResource  its subscription (or every subscription for a configured one), when it is a resource the service or Defender creates
 *   tagScope        the machine, resource group or subscription the tags belong to
 *   resourceGroup   the resource group (its machines)
 */
export type EventTarget = "machine" | "pricing" | "sharedResource" | "tagScope" | "resourceGroup";

export interface EventRule {
  /** The ARM operation (`data.operationName`). */
  readonly operation: string;
  readonly eventTypes: readonly HandledEventType[];
  readonly target: EventTarget;
  readonly cause: DriftCause;
}

/**
 * Every (event type, operation) pair the handler acts on. Event Grid's filter can only say "one of these
 * types AND one of these operations", so it delivers the cross product; the handler ignores the rest.
 */
export const EVENT_RULES: readonly EventRule[] = [
  { operation: "Microsoft.Compute/virtualMachines/write", eventTypes: [WRITE_SUCCESS], target: "machine", cause: "machineCreated" },
  { operation: "Microsoft.SqlVirtualMachine/sqlVirtualMachines/write", eventTypes: [WRITE_SUCCESS], target: "machine", cause: "machineCreated" },
  // Re-onboarding (azcmagent connect) and SQL discovery both rewrite the Arc machine resource.
  { operation: "Microsoft.HybridCompute/machines/write", eventTypes: [WRITE_SUCCESS], target: "machine", cause: "arcMachineChanged" },
  // A stopped or deallocated VM's guest actions were skipped; they can run now.
  { operation: "Microsoft.Compute/virtualMachines/start/action", eventTypes: [ACTION_SUCCESS], target: "machine", cause: "machineStarted" },
  { operation: "Microsoft.Compute/virtualMachines/restart/action", eventTypes: [ACTION_SUCCESS], target: "machine", cause: "machineStarted" },
  { operation: "Microsoft.Compute/virtualMachines/extensions/delete", eventTypes: [DELETE_SUCCESS], target: "machine", cause: "agentOrAssociationRemoved" },
  { operation: "Microsoft.HybridCompute/machines/extensions/delete", eventTypes: [DELETE_SUCCESS], target: "machine", cause: "agentOrAssociationRemoved" },
  { operation: "Microsoft.Insights/dataCollectionRuleAssociations/delete", eventTypes: [DELETE_SUCCESS], target: "machine", cause: "agentOrAssociationRemoved" },
  // An extension whose provisioning failed ends in ResourceWriteFailure (reinstalled, a bounded number of times a
  // day); one written successfully may still have been changed out of line (auto-upgrade off, another version).
  { operation: "Microsoft.Compute/virtualMachines/extensions/write", eventTypes: [WRITE_FAILURE], target: "machine", cause: "extensionFailed" },
  { operation: "Microsoft.HybridCompute/machines/extensions/write", eventTypes: [WRITE_FAILURE], target: "machine", cause: "extensionFailed" },
  { operation: "Microsoft.Compute/virtualMachines/extensions/write", eventTypes: [WRITE_SUCCESS], target: "machine", cause: "extensionChanged" },
  { operation: "Microsoft.HybridCompute/machines/extensions/write", eventTypes: [WRITE_SUCCESS], target: "machine", cause: "extensionChanged" },
  { operation: "Microsoft.Security/pricings/write", eventTypes: [WRITE_SUCCESS], target: "pricing", cause: "planEnabled" },
  { operation: "Microsoft.OperationalInsights/workspaces/delete", eventTypes: [DELETE_SUCCESS], target: "sharedResource", cause: "sharedResourceDeleted" },
  { operation: "Microsoft.OperationsManagement/solutions/delete", eventTypes: [DELETE_SUCCESS], target: "sharedResource", cause: "sharedResourceDeleted" },
  { operation: "Microsoft.Insights/dataCollectionRules/delete", eventTypes: [DELETE_SUCCESS], target: "sharedResource", cause: "sharedResourceDeleted" },
  { operation: "Microsoft.ManagedIdentity/userAssignedIdentities/delete", eventTypes: [DELETE_SUCCESS], target: "sharedResource", cause: "sharedResourceDeleted" },
  { operation: "Microsoft.Authorization/policyAssignments/delete", eventTypes: [DELETE_SUCCESS], target: "sharedResource", cause: "sharedResourceDeleted" },
  { operation: "Microsoft.Authorization/roleAssignments/delete", eventTypes: [DELETE_SUCCESS], target: "sharedResource", cause: "sharedResourceDeleted" },
  { operation: "Microsoft.Resources/subscriptions/resourceGroups/delete", eventTypes: [DELETE_SUCCESS], target: "sharedResource", cause: "sharedResourceDeleted" },
  // The opt-out tag can leave a scope through the Tags API or a write of the resource group itself.
  { operation: "Microsoft.Resources/tags/write", eventTypes: [WRITE_SUCCESS], target: "tagScope", cause: "optOutRemoved" },
  { operation: "Microsoft.Resources/tags/delete", eventTypes: [DELETE_SUCCESS], target: "tagScope", cause: "optOutRemoved" },
  { operation: "Microsoft.Resources/subscriptions/resourceGroups/write", eventTypes: [WRITE_SUCCESS], target: "resourceGroup", cause: "optOutRemoved" },
];

/** ARM operations (the event's `data.operationName`) the filter lets through. */
export const HANDLED_OPERATIONS: readonly string[] = [...new Set(EVENT_RULES.map((rule) => rule.operation))];

/** Event Grid's limits per event subscription (docs/azure-domain.md §8.4): values across all advanced filters, characters per value. */
export const EVENT_GRID_LIMITS = { advancedFilterValues: 25, advancedFilters: 25, valueLength: 512 } as const;

/** The rule for an event, or undefined when the service does not act on it. Event Grid compares strings case-insensitively; so do we. */
export function ruleFor(eventType: string, operationName: string): EventRule | undefined {
  const [type, operation] = [eventType.toLowerCase(), operationName.toLowerCase()];
  return EVENT_RULES.find((rule) => rule.operation.toLowerCase() === operation && rule.eventTypes.some((handled) => handled.toLowerCase() === type));
}
