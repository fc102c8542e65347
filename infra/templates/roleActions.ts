/**
 * The Azure RBAC actions of the custom role assigned to the Function App's identity at the management
 * group: exactly the Resource Manager operations the service performs, no wildcards, sorted.
 * Rendered into infra/main.json; tests read the role from there (the deployed artifact), and the
 * role-vs-code test (test/infra/roleVsCode.test.ts) compares it with the operations the service is
 * seen to call, including the reads Resource Graph needs to return rows (roleAssignments/read: the
 * sweep reads the SQL initiative identity's role grants from `authorizationresources`).
 * Legacy MMA autoprovisioning is only read, never written.
 */
export const REMEDIATOR_ROLE_ACTIONS = [
  "Microsoft.Authorization/policyAssignments/read",
  "Microsoft.Authorization/policyAssignments/write",
  "Microsoft.Authorization/roleAssignments/read",
  "Microsoft.Authorization/roleAssignments/write",
  "Microsoft.Compute/virtualMachines/extensions/delete",
  "Microsoft.Compute/virtualMachines/extensions/read",
  "Microsoft.Compute/virtualMachines/extensions/write",
  "Microsoft.Compute/virtualMachines/read",
  "Microsoft.Compute/virtualMachines/write",
  "Microsoft.HybridCompute/machines/extensions/delete",
  "Microsoft.HybridCompute/machines/extensions/read",
  "Microsoft.HybridCompute/machines/extensions/write",
  "Microsoft.HybridCompute/machines/read",
  "Microsoft.Insights/dataCollectionRuleAssociations/read",
  "Microsoft.Insights/dataCollectionRuleAssociations/write",
  "Microsoft.Insights/dataCollectionRules/read",
  "Microsoft.Insights/dataCollectionRules/write",
  "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
  "Microsoft.ManagedIdentity/userAssignedIdentities/read",
  "Microsoft.ManagedIdentity/userAssignedIdentities/write",
  "Microsoft.OperationalInsights/workspaces/read",
  "Microsoft.OperationalInsights/workspaces/write",
  "Microsoft.OperationsManagement/solutions/read",
  "Microsoft.OperationsManagement/solutions/write",
  "Microsoft.ResourceGraph/resources/read",
  "Microsoft.Resources/subscriptions/read",
  "Microsoft.Resources/subscriptions/resourceGroups/read",
  "Microsoft.Resources/subscriptions/resourceGroups/write",
  "Microsoft.Security/autoProvisioningSettings/read",
  "Microsoft.Security/pricings/read",
  "Microsoft.SqlVirtualMachine/sqlVirtualMachines/read",
] as const;

/**
 * What the Event Grid wiring policy's identity needs beyond the built-in EventGrid Contributor role
 * (which already covers Microsoft.EventGrid/* and Microsoft.Resources/deployments/*): creating the
 * resource group that holds each subscription's system topic.
 */
export const EVENT_GRID_WIRING_ROLE_ACTIONS = [
  "Microsoft.Resources/subscriptions/resourceGroups/read",
  "Microsoft.Resources/subscriptions/resourceGroups/write",
] as const;
