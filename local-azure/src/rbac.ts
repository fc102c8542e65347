/** Resource types whose RBAC action namespace differs from their ARM type. */
const ACTION_TYPE: Record<string, string> = {
  "microsoft.resources/resourcegroups": "Microsoft.Resources/subscriptions/resourceGroups",
  // listByRule (`{dcrId}/associations`) is authorised as a read of the associations.
  "microsoft.insights/datacollectionrules/associations": "Microsoft.Insights/dataCollectionRuleAssociations",
};

/**
 * The RBAC action ARM checks for a request: `<type>/read|write|delete`, following the documented
 * provider-operation pattern; Resource Graph queries are `Microsoft.ResourceGraph/resources/read`.
 */
export function rbacActionFor(method: string, resourceType: string): string {
  const type = ACTION_TYPE[resourceType.toLowerCase()] ?? resourceType;
  switch (method.toUpperCase()) {
    case "GET":
    case "HEAD":
      return `${type}/read`;
    case "PUT":
    case "PATCH":
      return `${type}/write`;
    case "DELETE":
      return `${type}/delete`;
    default:
      // POST to a collection is a query (Resource Graph); POST to a resource is an action.
      return type.toLowerCase() === "microsoft.resourcegraph/resources" ? `${type}/read` : `${type}/action`;
  }
}
