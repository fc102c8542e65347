/**
 * What an accepted event asks the service to reconcile, decided from the event's resource id alone
 * (events carry no resource body). Pure: the settings that matter come in as an EventContext.
 *
 * Shared-resource deletes are narrowed to what the service or Defender's policies create, by their
 * names (src/defender/names.ts), plus the customer's configured workspace and rule: anything else
 * deleted in a subscription cannot leave a machine out of line.
 */
import { idKey, machineKindOf, owningMachineId, resourceGroupId, tryParseResourceId, type ParsedResourceId } from "../azure/ids.js";
import type { Profile, Settings } from "../config/settings.js";
import { BUILT_IN_IDENTITY_RESOURCE_GROUP, SQL_ASSIGNMENT_NAMES, builtInIdentityId, defaultResourceGroupName } from "../defender/names.js";
import type { EventRule } from "./filter.js";

/** The settings that decide which shared resources matter. Absent = none configured, every profile on. */
export interface EventContext {
  readonly customWorkspaceId?: string;
  readonly dataCollectionRuleId?: string;
  readonly profiles?: ReadonlySet<Profile>;
}

/** The settings that decide which shared resources' deletion matters. */
export function eventContextOf(settings: Settings): EventContext {
  return {
    profiles: settings.profiles,
    ...(settings.customWorkspaceId ? { customWorkspaceId: settings.customWorkspaceId } : {}),
    ...(settings.dataCollectionRuleId ? { dataCollectionRuleId: settings.dataCollectionRuleId } : {}),
  };
}

/**
 * machine: the machine; resourceGroup: the machines of a group; subscription: a sweep of it;
 * everySubscription: a sweep of every subscription in scope (a configured workspace or rule serves them all).
 */
export type ReconcileScope = "machine" | "resourceGroup" | "subscription" | "everySubscription";

export type Target = { readonly scope: ReconcileScope; readonly resourceId: string } | { readonly ignored: string };

/** The Defender plans whose switching on changes what machines need (docs/azure-domain.md §3.1). */
const PLANS_ACTED_ON = new Set(["virtualmachines", "sqlservervirtualmachines"]);
/** The workspace solutions the service installs (`<gallery>(<workspace>)`). */
const SOLUTION_GALLERIES = ["SecurityCenterFree", "Security"];

export function targetOf(rule: EventRule, resource: ParsedResourceId, context: EventContext): Target {
  const subscription = `/subscriptions/${resource.subscriptionId}`;
  switch (rule.target) {
    case "machine": {
      const machineId = owningMachineId(resource);
      return machineId ? { scope: "machine", resourceId: machineId } : { ignored: `${resource.id} is not a machine or a machine's extension or association` };
    }
    case "pricing":
      return !resource.resourceGroup && PLANS_ACTED_ON.has(resource.name.toLowerCase())
        ? { scope: "subscription", resourceId: subscription }
        : { ignored: `pricing ${resource.name} is not a plan the service acts on` };
    case "resourceGroup":
      return resource.resourceGroup && resource.resourceType === "Microsoft.Resources/resourceGroups"
        ? { scope: "resourceGroup", resourceId: resourceGroupId(resource.subscriptionId, resource.resourceGroup) }
        : { ignored: `${resource.id} is not a resource group` };
    case "tagScope":
      return tagScope(resource);
    case "sharedResource":
      return sharedResource(resource, context);
  }
}

/** Tags at `<scope>/providers/Microsoft.Resources/tags/default`: the opt-out tag counts on machines, groups and subscriptions. */
function tagScope(resource: ParsedResourceId): Target {
  if (resource.resourceType.toLowerCase() !== "microsoft.resources/tags") return { ignored: `${resource.id} is not a tags resource` };
  if (resource.parentScope) {
    const scope = tryParseResourceId(resource.parentScope);
    return scope && machineKindOf(scope) ? { scope: "machine", resourceId: scope.id } : { ignored: "tags of a resource that is not a machine" };
  }
  if (resource.resourceGroup) return { scope: "resourceGroup", resourceId: resourceGroupId(resource.subscriptionId, resource.resourceGroup) };
  return { scope: "subscription", resourceId: `/subscriptions/${resource.subscriptionId}` };
}

function sharedResource(resource: ParsedResourceId, context: EventContext): Target {
  const subscription = { scope: "subscription", resourceId: `/subscriptions/${resource.subscriptionId}` } as const;
  const everySubscription = { scope: "everySubscription", resourceId: `/subscriptions/${resource.subscriptionId}` } as const;
  const sql = context.profiles?.has("sql") ?? true;
  const configured = [context.customWorkspaceId, context.dataCollectionRuleId].flatMap((id) => (id ? [idKey(id)] : []));
  if (configured.includes(idKey(resource.id))) return everySubscription;

  const name = resource.name.toLowerCase();
  const inDefaultGroup = startsWith(resource.resourceGroup, defaultResourceGroupName(""));
  const subscriptionScoped = !resource.resourceGroup && !resource.parentScope;
  const subscriptionCompact = resource.subscriptionId.replace(/-/g, "");
  let ours: boolean;
  switch (resource.resourceType.toLowerCase()) {
    case "microsoft.operationalinsights/workspaces":
      ours = inDefaultGroup && (name.startsWith(`defaultworkspace-${resource.subscriptionId}-`) || (sql && name.startsWith(`d4sql-${subscriptionCompact}-`)));
      break;
    case "microsoft.operationsmanagement/solutions": {
      const workspace = /^([^(]+)\((.+)\)$/.exec(resource.name);
      if (!workspace || !SOLUTION_GALLERIES.some((gallery) => gallery.toLowerCase() === workspace[1]?.toLowerCase())) return ignoredShared(resource);
      // A solution on the configured workspace serves every subscription, as the workspace does.
      const onConfigured = context.customWorkspaceId !== undefined && idKey(context.customWorkspaceId) === idKey(`${resourceGroupId(resource.subscriptionId, resource.resourceGroup ?? "")}/providers/Microsoft.OperationalInsights/workspaces/${workspace[2]}`);
      if (onConfigured) return everySubscription;
      ours = inDefaultGroup;
      break;
    }
    case "microsoft.insights/datacollectionrules":
      ours = inDefaultGroup && (/^ama-remediator-[a-z0-9]+-dcr$/.test(name) || (sql && (/^microsoftdefenderforsql-[a-z0-9]+-dcr$/.test(name) || /^d4sql-[0-9a-f]+-dcr$/.test(name))));
      break;
    case "microsoft.managedidentity/userassignedidentities":
      ours = sql && idKey(resource.id).startsWith(idKey(builtInIdentityId(resource.subscriptionId, "")));
      break;
    case "microsoft.authorization/policyassignments":
      ours = sql && subscriptionScoped && Object.values(SQL_ASSIGNMENT_NAMES).some((assignment) => assignment.toLowerCase() === name);
      break;
    case "microsoft.authorization/roleassignments":
      // The event does not say whose grant it was; the SQL initiative's identity holds its roles at subscription scope.
      ours = sql && subscriptionScoped;
      break;
    case "microsoft.resources/resourcegroups": {
      const holdsConfigured = [context.customWorkspaceId, context.dataCollectionRuleId].some((id) => id !== undefined && idKey(id).startsWith(`${idKey(resource.id)}/`));
      if (holdsConfigured) return everySubscription;
      ours = inDefaultGroup || (sql && name === BUILT_IN_IDENTITY_RESOURCE_GROUP.toLowerCase());
      break;
    }
    default:
      ours = false;
  }
  return ours ? subscription : ignoredShared(resource);
}

function ignoredShared(resource: ParsedResourceId): Target {
  return { ignored: `${resource.id} is not a resource the service or Defender creates` };
}

function startsWith(value: string | undefined, prefix: string): boolean {
  return value !== undefined && value.toLowerCase().startsWith(prefix.toLowerCase());
}
