/**
 * ARM's wire JSON -> the pipeline's plain data. The gateway hands every resource over in one shape
 * (ArmResource: `properties` nested, as in the REST specs), whether Resource Graph projected it or a GET
 * or list returned it, so one normaliser serves the sweep and the event path.
 */
import type { Os } from "../defender/agents.js";
import { idKey, parseResourceId } from "../azure/ids.js";
import type { ArmResource } from "../azure/gateway.js";
import { roleGrantKey, type AssociationState, type ExtensionState, type MachineState, type PolicyAssignmentState, type PowerState, type PricingState, type RuleState, type WorkspaceState } from "../model.js";

export function toMachineState(raw: ArmResource, extensions: readonly ExtensionState[], associations: readonly AssociationState[], sqlVirtualMachineId?: string): MachineState | undefined {
  const id = str(raw.id);
  if (!id) return undefined;
  const parsed = parseResourceId(id);
  const type = parsed.resourceType.toLowerCase();
  const isVm = type === "microsoft.compute/virtualmachines";
  if (!isVm && type !== "microsoft.hybridcompute/machines") return undefined;
  const os = isVm ? osOf(str(prop(raw, "storageProfile", "osDisk", "osType"))) : osOf(str(prop(raw, "osName")) ?? str(prop(raw, "osType")));
  const image = isVm ? (prop(raw, "storageProfile", "imageReference") as Record<string, unknown> | undefined) : undefined;
  const agentStatus = isVm ? undefined : str(prop(raw, "status"));
  const sqlDiscovered = !isVm && isTrue(prop(raw, "mssqlDiscovered") ?? prop(raw, "detectedProperties", "mssqldiscovered"));
  // A VM's OS name: Resource Graph's `extended.instanceView`, or the instance view a GET expands.
  const osName = str(isVm ? (prop(raw, "extended", "instanceView", "osName") ?? prop(raw, "instanceView", "osName")) : prop(raw, "osName"));
  const osVersion = str(isVm ? (prop(raw, "extended", "instanceView", "osVersion") ?? prop(raw, "instanceView", "osVersion")) : prop(raw, "osVersion"));
  const osSku = isVm ? undefined : str(prop(raw, "osSku"));
  const timeCreated = str(prop(raw, "timeCreated")) ?? str(raw.systemData?.createdAt);
  return {
    id,
    kind: isVm ? "virtualMachine" : "arcMachine",
    name: str(raw.name) ?? parsed.name,
    subscriptionId: repeated(parsed.subscriptionId),
    resourceGroup: repeated(parsed.resourceGroup ?? ""),
    location: repeated(str(raw.location) ?? ""),
    ...(os ? { os } : {}),
    ...(osName ? { osName: repeated(osName) } : {}),
    ...(osVersion ? { osVersion: repeated(osVersion) } : {}),
    ...(osSku ? { osSku: repeated(osSku) } : {}),
    tags: raw.tags ?? {},
    identity: toMachineIdentity(raw.identity),
    ...(isVm && typeof raw.etag === "string" ? { etag: raw.etag } : {}),
    power: isVm ? powerStateOf(raw) : agentStatus?.toLowerCase() === "connected" ? "running" : "unknown",
    ...(agentStatus ? { agentStatus: repeated(agentStatus) } : {}),
    allowExtensionOperations: prop(raw, "osProfile", "allowExtensionOperations") !== false,
    ...(image
      ? { image: { ...pick(image, "publisher"), ...pick(image, "offer"), ...pick(image, "sku"), ...pick(image, "id") } }
      : {}),
    extensions,
    associations,
    ...(sqlVirtualMachineId ? { sqlServer: { sqlVirtualMachineId } } : sqlDiscovered ? { sqlServer: {} } : {}),
    ...(timeCreated ? { timeCreated } : {}),
  };
}

export function toExtensionState(raw: ArmResource): ExtensionState | undefined {
  const id = str(raw.id);
  const publisher = str(prop(raw, "publisher"));
  const type = str(prop(raw, "type"));
  if (!id || !publisher || !type) return undefined;
  const version = str(prop(raw, "typeHandlerVersion"));
  const tags = raw.tags;
  return {
    id,
    name: repeated(str(raw.name) ?? id.split("/").pop() ?? ""),
    publisher: repeated(publisher),
    type: repeated(type),
    provisioningState: repeated(str(prop(raw, "provisioningState")) ?? "Unknown"),
    ...(version ? { typeHandlerVersion: repeated(version) } : {}),
    enableAutomaticUpgrade: prop(raw, "enableAutomaticUpgrade") === true,
    ...(tags && Object.keys(tags).length > 0 ? { tags } : {}),
  };
}

export function toAssociationState(raw: ArmResource): AssociationState | undefined {
  const id = str(raw.id);
  if (!id) return undefined;
  const ruleId = str(prop(raw, "dataCollectionRuleId"));
  return { id, name: repeated(str(raw.name) ?? id.split("/").pop() ?? ""), ...(ruleId ? { ruleId: repeated(ruleId) } : {}) };
}

export function toWorkspaceState(raw: ArmResource): WorkspaceState | undefined {
  const id = str(raw.id);
  if (!id) return undefined;
  const customerId = str(prop(raw, "customerId"));
  return { id, location: str(raw.location) ?? "", ...(customerId ? { customerId } : {}) };
}

export function toPricingState(raw: ArmResource | undefined): PricingState {
  const tier = str(raw?.properties?.["pricingTier"]);
  const subPlan = str(raw?.properties?.["subPlan"]);
  return { tier: tier?.toLowerCase() === "standard" ? "Standard" : "Free", ...(subPlan ? { subPlan } : {}) };
}

export function toPolicyAssignmentState(raw: ArmResource): PolicyAssignmentState | undefined {
  const id = str(raw.id);
  const policyDefinitionId = str(prop(raw, "policyDefinitionId"));
  if (!id || !policyDefinitionId) return undefined;
  const principalId = str(raw.identity?.["principalId"]);
  const groupLocation = str(prop(raw, "parameters", "builtInIdentityResourceGroupLocation", "value"));
  return { id, policyDefinitionId, ...(principalId ? { principalId } : {}), ...(groupLocation ? { builtInIdentityResourceGroupLocation: groupLocation } : {}) };
}

/**
 * Whether a resource's create ended Failed (`provisioningState`): such a resource does not work, and is
 * planned again.
 */
export function hasFailed(raw: ArmResource): boolean {
  return str(prop(raw, "provisioningState"))?.toLowerCase() === "failed";
}

/** The VM a SQL VM resource registers (`properties.virtualMachineResourceId`). */
export function sqlVirtualMachineTarget(raw: ArmResource): string | undefined {
  return str(prop(raw, "virtualMachineResourceId"));
}

/** A role assignment as `<principalId>|<role definition guid>` (lower-case), the way the planner looks grants up. */
export function roleGrantOf(raw: ArmResource): string | undefined {
  const principalId = str(prop(raw, "principalId"));
  const roleDefinitionId = str(prop(raw, "roleDefinitionId"));
  return principalId && roleDefinitionId ? roleGrantKey(principalId, roleDefinitionId) : undefined;
}

/**
 * A data collection rule as the pipeline needs it: the workspaces it sends to, and where each OS's
 * security events flow. Windows: a Windows event log source on the Security channel streaming
 * Microsoft-SecurityEvent; Linux: a syslog source with the auth and authpriv facilities streaming
 * Microsoft-Syslog; either counts only into the workspaces a data flow routes that stream to.
 */
export function toRuleState(raw: ArmResource): RuleState | undefined {
  const id = str(raw.id);
  if (!id) return undefined;
  const workspaceOf = new Map<string, string>();
  for (const destination of objects(prop(raw, "destinations", "logAnalytics"))) {
    const name = str(destination["name"]);
    const workspace = str(destination["workspaceResourceId"]);
    if (name && workspace) workspaceOf.set(name, idKey(workspace));
  }
  const flowsTo = (stream: string): string[] => [
    ...new Set(
      objects(prop(raw, "dataFlows"))
        .filter((flow) => strings(flow["streams"]).some((name) => name.toLowerCase() === stream))
        .flatMap((flow) => strings(flow["destinations"]).flatMap((name) => workspaceOf.get(name) ?? [])),
    ),
  ];
  const windows = objects(prop(raw, "dataSources", "windowsEventLogs")).some(
    (source) => hasStream(source, SECURITY_EVENT_STREAM) && strings(source["xPathQueries"]).some((query) => query.trim().toLowerCase().startsWith("security!")),
  );
  const linux = objects(prop(raw, "dataSources", "syslog")).some((source) => {
    const facilities = new Set(strings(source["facilityNames"]).map((name) => name.toLowerCase()));
    return hasStream(source, SYSLOG_STREAM) && (facilities.has("*") || (facilities.has("auth") && facilities.has("authpriv")));
  });
  return {
    id,
    workspaces: [...new Set(workspaceOf.values())],
    securityEventsTo: { Windows: windows ? flowsTo(SECURITY_EVENT_STREAM) : [], Linux: linux ? flowsTo(SYSLOG_STREAM) : [] },
  };
}

const SECURITY_EVENT_STREAM = "microsoft-securityevent";
const SYSLOG_STREAM = "microsoft-syslog";

function hasStream(source: Record<string, unknown>, stream: string): boolean {
  return strings(source["streams"]).some((name) => name.toLowerCase() === stream);
}

function objects(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((item): item is Record<string, unknown> => item !== null && typeof item === "object") : [];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

/**
 * The machine an extension or association row belongs to (the id before `/extensions/` or `/providers/`), as
 * `idKey`. Cut before it is lower-cased: a key cut from the whole lower-cased id would keep all of it alive.
 */
export function machineKeyOf(childId: string): string {
  const extension = childId.search(/\/extensions\//i);
  if (extension > 0) return idKey(childId.slice(0, extension));
  const provider = childId.search(/\/providers\/microsoft\.insights\//i);
  return idKey(provider > 0 ? childId.slice(0, provider) : childId);
}

/** A machine's `identity` block as the pipeline reads it: whether it has a system identity, and its user-assigned ids. */
export function toMachineIdentity(identity: Readonly<Record<string, unknown>> | undefined): MachineState["identity"] {
  const type = (str(identity?.["type"]) ?? "").toLowerCase();
  const users = identity?.["userAssignedIdentities"] as Record<string, unknown> | undefined;
  return { systemAssigned: type.includes("systemassigned"), userAssignedIds: users ? Object.keys(users) : [] };
}

function powerStateOf(raw: ArmResource): PowerState {
  // Resource Graph: properties.extended.instanceView.powerState.code; GET with $expand: properties.instanceView.statuses.
  const graphCode = str(prop(raw, "extended", "instanceView", "powerState", "code"));
  const statuses = (prop(raw, "instanceView", "statuses") as { code?: string }[] | undefined) ?? [];
  const code = graphCode ?? statuses.find((status) => status.code?.toLowerCase().startsWith("powerstate/"))?.code;
  const state = code?.split("/")[1]?.toLowerCase();
  if (state === "running" || state === "starting") return "running";
  if (state === "deallocated" || state === "deallocating") return "deallocated";
  if (state === "stopped" || state === "stopping") return "stopped";
  return "unknown";
}

function osOf(value: string | undefined): Os | undefined {
  const lower = value?.toLowerCase();
  if (lower?.startsWith("windows")) return "Windows";
  if (lower?.startsWith("linux")) return "Linux";
  return undefined;
}

/** A value under the resource's `properties`. */
function prop(raw: ArmResource, ...path: string[]): unknown {
  return walk(raw.properties, path);
}

function walk(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

function isTrue(value: unknown): boolean {
  return value === true || (typeof value === "string" && value.toLowerCase() === "true");
}

function pick(source: Record<string, unknown>, key: string): Record<string, string> {
  const value = str(source[key]);
  return value ? { [key]: repeated(value) } : {};
}

/**
 * One copy of each value that many machines repeat (publishers, extension types, rule ids, locations, OS
 * names): Resource Graph's JSON gives every row copies of its own, and a sweep batch holds tens of thousands of
 * machines. Bounded: past this many distinct values the set starts again, which only costs some sharing.
 */
const REPEATED_VALUES_KEPT = 10_000;
const repeatedValues = new Map<string, string>();

function repeated(value: string): string {
  const kept = repeatedValues.get(value);
  if (kept !== undefined) return kept;
  if (repeatedValues.size >= REPEATED_VALUES_KEPT) repeatedValues.clear();
  repeatedValues.set(value, value);
  return value;
}
