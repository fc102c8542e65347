/**
 * The one source of truth for which Azure Resource Manager events the service acts on.
 * The Event Grid trigger applies it in code and infra/ renders it into the event subscription's
 * advanced filters, so what Event Grid delivers and what the handler accepts cannot drift apart.
 */

/** Event types the service subscribes to (Microsoft.Resources subscription system topic). */
export const HANDLED_EVENT_TYPES = ["Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceDeleteSuccess"] as const;

/**
 * ARM operations (the event's `data.operationName`) that can leave a machine out of compliance:
 * a machine written (created or its identity changed), a SQL VM registered, or an agent extension
 * or data collection rule association removed.
 */
export const HANDLED_OPERATIONS = [
  "Microsoft.Compute/virtualMachines/write",
  "Microsoft.HybridCompute/machines/write",
  "Microsoft.SqlVirtualMachine/sqlVirtualMachines/write",
  "Microsoft.Compute/virtualMachines/extensions/delete",
  "Microsoft.HybridCompute/machines/extensions/delete",
  "Microsoft.Insights/dataCollectionRuleAssociations/delete",
] as const;

export type HandledEventType = (typeof HANDLED_EVENT_TYPES)[number];
export type HandledOperation = (typeof HANDLED_OPERATIONS)[number];

const handledOperations = new Set(HANDLED_OPERATIONS.map((operation) => operation.toLowerCase()));
const handledEventTypes = new Set(HANDLED_EVENT_TYPES.map((type) => type.toLowerCase()));

/** Event Grid compares strings case-insensitively; so do we. */
export function isHandled(eventType: string, operationName: string): boolean {
  return handledEventTypes.has(eventType.toLowerCase()) && handledOperations.has(operationName.toLowerCase());
}
