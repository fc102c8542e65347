import { ArmError } from "./armError.js";
import { RESOURCE_GROUP_TYPE, lower } from "./armPath.js";
import { assignmentsForSubscription } from "./managementGroups.js";
import type { ArmResource, JsonObject, ResourceStore } from "./store.js";

/**
 * Azure Policy's deny effect, as ARM applies it to a PUT or PATCH before the resource provider sees it.
 * Tests load a `Microsoft.Authorization/policyAssignments` resource naming one of the built-in deny
 * definitions below, with its `parameters`, at a management group, subscription or resource group.
 *
 * Definitions: Azure/azure-policy built-in-policies/policyDefinitions/Tags/RequireTag_Deny.json,
 * Tags/ResourceGroupRequireTag_Deny.json and General/AllowedLocations_Deny.json. The refusal:
 * MicrosoftDocs/azure-docs articles/azure-resource-manager/troubleshooting/error-policy-requestdisallowedbypolicy.md
 * (code, message with its policy identifiers) and articles/automation/enforce-job-execution-hybrid-worker.md
 * (a whole 403 body: `target` and `additionalInfo[]` of type PolicyViolation).
 */
export const POLICY_ASSIGNMENT_TYPE = "microsoft.authorization/policyassignments";

interface DenyDefinition {
  readonly displayName: string;
  /**
   * "Indexed": only types that support tags and location (so neither resource groups, nor extension
   * resources without a location such as rule associations, nor Microsoft.Authorization's types); "All": every type.
   */
  readonly mode: "Indexed" | "All";
  readonly denies: (resource: ArmResource, parameters: Readonly<Record<string, unknown>>) => boolean;
}

const hasTag = (resource: ArmResource, name: unknown): boolean =>
  Object.keys(resource.tags ?? {}).some((tag) => lower(tag) === lower(String(name)));

const isResourceGroup = (resource: ArmResource): boolean => lower(resource.type) === lower(RESOURCE_GROUP_TYPE);

export const BUILT_IN_DENY_DEFINITIONS: Readonly<Record<string, DenyDefinition>> = {
  "871b6d14-10aa-478d-b590-94f262ecfa99": {
    displayName: "Require a tag on resources",
    mode: "Indexed",
    denies: (resource, parameters) => !hasTag(resource, parameters["tagName"]),
  },
  "96670d01-0a4d-4649-9c89-2d3abc0a5025": {
    displayName: "Require a tag on resource groups",
    mode: "All",
    denies: (resource, parameters) => isResourceGroup(resource) && !hasTag(resource, parameters["tagName"]),
  },
  "e56962a6-4747-49cd-b67b-bf8b01975c4c": {
    displayName: "Allowed locations",
    mode: "Indexed",
    denies: (resource, parameters) => {
      const allowed = Array.isArray(parameters["listOfAllowedLocations"]) ? (parameters["listOfAllowedLocations"] as unknown[]).map((location) => normaliseLocation(String(location))) : [];
      const location = normaliseLocation(String(resource.location));
      return !allowed.includes(location) && location !== "global" && lower(resource.type) !== "microsoft.azureactivedirectory/b2cdirectories";
    },
  },
};

/** The id of a built-in policy definition, as assignments name it. */
export function builtInDefinitionId(name: keyof typeof BUILT_IN_DENY_DEFINITIONS): string {
  return `/providers/Microsoft.Authorization/policyDefinitions/${name}`;
}

/** The 403 RequestDisallowedByPolicy for `resource` (as it would be after the write), or undefined when no deny assignment applies. */
export function policyDenial(store: ResourceStore, subscriptionId: string | undefined, resource: ArmResource): ArmError | undefined {
  if (subscriptionId === undefined) return undefined;
  const violations = assignmentsForSubscription(store, subscriptionId, POLICY_ASSIGNMENT_TYPE, null).flatMap(({ resource: assignment }) => {
    const properties = assignment.properties ?? {};
    const definitionName = String(properties.policyDefinitionId ?? "").split("/").pop() ?? "";
    const definition = BUILT_IN_DENY_DEFINITIONS[lower(definitionName)];
    if (!definition || properties.enforcementMode === "DoNotEnforce" || !appliesTo(assignment, resource.id)) return [];
    if (definition.mode === "Indexed" && !isIndexed(resource)) return [];
    const parameters = parameterValues(properties.parameters);
    return definition.denies(resource, parameters) ? [violation(assignment, definitionName, definition, parameters)] : [];
  });
  return violations.length > 0 ? new PolicyDisallowedError(resource.name, violations) : undefined;
}

/** Within the assignment's scope (management groups: the store already chose those above the subscription) and outside its notScopes. */
function appliesTo(assignment: ArmResource, resourceId: string): boolean {
  const within = (scope: string) => lower(resourceId) === lower(scope) || lower(resourceId).startsWith(`${lower(scope)}/`);
  const scope = scopeOf(assignment);
  const notScopes = Array.isArray(assignment.properties?.notScopes) ? (assignment.properties.notScopes as unknown[]).map(String) : [];
  return (lower(scope).startsWith("/providers/microsoft.management/") || within(scope)) && !notScopes.some(within);
}

function isIndexed(resource: ArmResource): boolean {
  return !isResourceGroup(resource) && typeof resource.location === "string" && !lower(resource.type).startsWith("microsoft.authorization/");
}

function scopeOf(assignment: ArmResource): string {
  return assignment.id.slice(0, lower(assignment.id).lastIndexOf("/providers/microsoft.authorization/policyassignments/"));
}

function parameterValues(parameters: unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries((parameters as Record<string, { value?: unknown }> | undefined) ?? {}).map(([name, parameter]) => [name, parameter?.value]));
}

function normaliseLocation(location: string): string {
  return location.replace(/\s+/g, "").toLowerCase();
}

/** One `additionalInfo[]` entry's `info` (evaluationDetails, which ARM also sends, is left out). */
function violation(assignment: ArmResource, definitionName: string, definition: DenyDefinition, parameters: Record<string, unknown>): JsonObject {
  return {
    policyDefinitionDisplayName: definition.displayName,
    policyDefinitionId: builtInDefinitionId(definitionName),
    policyDefinitionName: definitionName,
    policyDefinitionEffect: "Deny",
    policyAssignmentId: assignment.id,
    policyAssignmentName: assignment.name,
    policyAssignmentDisplayName: String(assignment.properties?.displayName ?? assignment.name),
    policyAssignmentScope: scopeOf(assignment),
    policyAssignmentParameters: Object.fromEntries(Object.entries(parameters).map(([name, value]) => [name, { value }])),
  };
}

class PolicyDisallowedError extends ArmError {
  constructor(
    private readonly target: string,
    private readonly violations: readonly JsonObject[],
  ) {
    const identifiers = violations.map((info) => ({
      policyAssignment: { name: info.policyAssignmentDisplayName, id: info.policyAssignmentId },
      policyDefinition: { name: info.policyDefinitionDisplayName, id: info.policyDefinitionId },
    }));
    super(403, "RequestDisallowedByPolicy", `Resource '${target}' was disallowed by policy. Policy identifiers: '${JSON.stringify(identifiers)}'.`);
  }

  override body() {
    return { error: { code: this.code, target: this.target, message: this.message, additionalInfo: this.violations.map((info) => ({ type: "PolicyViolation", info })) } };
  }
}
