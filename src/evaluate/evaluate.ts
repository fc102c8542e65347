/**
 * Evaluate: is this machine compliant, and if not, what does it need? A pure function of the
 * discovered snapshot and the settings. Needs name desired resources; the planner turns them into
 * ordered writes and adds the shared resources (groups, workspaces, rules) they stand on.
 */
import type { Settings, SqlMode } from "../config/settings.js";
import {
  AMA,
  AMA_SQL_VM_HANDLER_VERSION,
  AMA_VM_HANDLER_VERSION,
  DEFENDER_FOR_SQL,
  DEFENDER_FOR_SQL_HANDLER_VERSION,
  SQL_IAAS_LINUX,
  isExtension,
  isLegacyAgent,
  type ExtensionIdentity,
  type Os,
} from "../defender/agents.js";
import {
  OWNED_ASSOCIATION_NAME,
  SQL_ASSOCIATION_NAME,
  SQL_CREATED_BY_TAG,
  SQL_INITIATIVES,
  builtInIdentityId,
  defaultWorkspaceId,
  ownedRuleId,
  sqlCustomWorkspaceRuleId,
  sqlRuleId,
  sqlWorkspaceId,
  normaliseRegion,
} from "../defender/names.js";
import { idKey, tryParseResourceId } from "../azure/ids.js";
import { machineOptOutNote, optOutFindings, writeRefusal, type OptOutFinding, type WriteRefusal } from "./writeScope.js";
import { type ExtensionState, type MachineState, type PolicyAssignmentState, type RuleState, type Snapshot, type SubscriptionState, type WorkspaceState } from "../model.js";
import { isSupportedImage } from "./images.js";
import { agentSupport } from "./agentSupport.js";

/** A data collection rule a machine must be associated with, and how to create it when it is ours. */
export interface RuleSpec {
  readonly ruleId: string;
  /** "owned": the service's per-region rule; "sql": Defender for SQL's rule; "configured": never created. */
  readonly flavour: "owned" | "sql" | "configured";
  readonly location: string;
  readonly workspace?: WorkspaceSpec;
}

export interface WorkspaceSpec {
  readonly workspaceId: string;
  /** Where to create it when missing; undefined = never created (a configured custom workspace). */
  readonly createIn?: { readonly location: string; readonly flavour: "defender" | "sql" };
  /** Gallery solutions it must have (`SecurityCenterFree`, `Security`). */
  readonly solutions: readonly string[];
  /** The workspace's region once known (an existing workspace keeps its own). */
  readonly location: string;
  readonly customerId?: string;
}

export interface ExtensionSpec extends ExtensionIdentity {
  /** The conventional name, or the name of the copy already on the machine (ARM rejects a second copy). */
  readonly name: string;
  readonly typeHandlerVersion?: string;
  readonly settings?: Record<string, unknown>;
  readonly tags?: Record<string, string>;
}

export type Need =
  | { readonly kind: "systemIdentity" }
  | { readonly kind: "userAssignedIdentity"; readonly identityId: string }
  | { readonly kind: "extension"; readonly extension: ExtensionSpec; readonly why: "missing" | "failed" | "autoUpgradeOff" }
  | { readonly kind: "association"; readonly name: string; readonly rule: RuleSpec }
  | { readonly kind: "workspace"; readonly workspace: WorkspaceSpec }
  | { readonly kind: "removeExtension"; readonly extension: ExtensionState };

export type AssessmentStatus = "inScope" | "skipped";

export interface MachineAssessment {
  readonly machine: MachineState;
  readonly status: AssessmentStatus;
  readonly skipReason?: string;
  readonly needs: readonly Need[];
  /** Needs that cannot be met now (the guest is off, extensions disallowed), with the reason. */
  readonly blocked: readonly { readonly need: Need; readonly reason: string }[];
  /** Observations worth reporting that require no write (e.g. both MMA and AMA running). */
  readonly notes: readonly string[];
}

const SUCCEEDED = new Set(["succeeded", "provisioning succeeded"]);

export type SqlInitiative = keyof typeof SQL_INITIATIVES;

/** Which of Defender for SQL's two architectures a subscription gets, and why. */
export interface SqlArchitecture {
  readonly mode: Exclude<SqlMode, "auto">;
  /** The initiative the subscription must have assigned: the one assigned there when it is followed. */
  readonly initiative: SqlInitiative;
  /** Subscription findings: the mode and why, and any conflict with what is assigned. */
  readonly findings: readonly string[];
}

/** What a subscription needs beyond its machines' own needs. */
export interface SubscriptionAssessment {
  readonly subscription: SubscriptionState;
  /** The service's own rules found there, as the settings want them now (they follow LOG_ANALYTICS_WORKSPACE_ID). */
  readonly ownedRules: readonly RuleSpec[];
  /** Set when Defender for SQL applies (the SQL profile runs and the plan is Standard): its initiative must be assigned. */
  readonly sql?: SqlArchitecture;
}

/** Everything evaluate decides for one snapshot: the plan is built from this alone. */
export interface Assessment {
  readonly machines: readonly MachineAssessment[];
  readonly subscriptions: readonly SubscriptionAssessment[];
  /** Opt-outs on subscriptions and resource groups that expired or are no date. */
  readonly findings: readonly OptOutFinding[];
}

/** `.../dataCollectionRules/ama-remediator-<region>-dcr`, lower-case: the rules the service owns. */
const OWNED_RULE_NAME = /\/datacollectionrules\/ama-remediator-([a-z0-9]+)-dcr$/;

export function evaluate(snapshot: Snapshot, settings: Settings): Assessment {
  const refusal = writeRefusal(snapshot, settings.optOutTag);
  const subscriptions = [...snapshot.subscriptions.values()].filter((subscription) => !refusal(`/subscriptions/${subscription.subscriptionId}`));
  return {
    machines: snapshot.machines.map((machine) => evaluateMachine(machine, snapshot, settings, refusal)),
    subscriptions: subscriptions.map((subscription) => evaluateSubscription(subscription, snapshot, settings)),
    findings: optOutFindings(snapshot, settings.optOutTag),
  };
}

function evaluateSubscription(subscription: SubscriptionState, snapshot: Snapshot, settings: Settings): SubscriptionAssessment {
  const followsSettings = settings.profiles.has("machines") && !settings.dataCollectionRuleId;
  const ownedRegions = followsSettings ? [...subscription.rules.keys()].flatMap((key) => OWNED_RULE_NAME.exec(key)?.[1] ?? []) : [];
  return {
    subscription,
    ownedRules: ownedRegions.map((region) => ownedRuleSpec(region, snapshot, subscription, settings)),
    ...(sqlPlanApplies(subscription, settings) ? { sql: sqlArchitecture(subscription, settings) } : {}),
  };
}

const INITIATIVE_LABELS: Readonly<Record<SqlInitiative, string>> = {
  amaDefaultWorkspace: "AMA, Defender's workspace",
  amaCustomWorkspace: "AMA, custom workspace",
  extensionOnly: "extension only",
};

/**
 * SQL_MODE=auto follows the architecture the subscription already uses: the Defender for SQL initiative
 * assigned to it (at the subscription or a management group above it); where none is, the AMA initiative,
 * as Defender's AMA autoprovisioning assigns it. Where both architectures are assigned, extension-only
 * (Defender for SQL's architecture since April 2025; it needs none of the AMA set's resources) is followed and reported.
 * `ama` and `extension-only` force one, and say when the other is assigned too.
 */
export function sqlArchitecture(subscription: SubscriptionState, settings: Settings): SqlArchitecture {
  const assigned = subscription.sqlAssignments.flatMap((assignment) => {
    const initiative = initiativeOf(assignment);
    return initiative ? [{ assignment, initiative }] : [];
  });
  const extensionOnly = assigned.filter((entry) => entry.initiative === "extensionOnly");
  const ama = assigned.filter((entry) => entry.initiative !== "extensionOnly");
  const settingsAma: SqlInitiative = settings.customWorkspaceId ? "amaCustomWorkspace" : "amaDefaultWorkspace";
  const described = (entries: readonly { assignment: PolicyAssignmentState; initiative: SqlInitiative }[]) => entries.map(({ assignment, initiative }) => `initiative ${initiativeName(initiative)} assigned at ${assignmentScope(assignment.id)}`).join("; ");
  if (settings.sqlMode !== "auto") {
    const mode = settings.sqlMode;
    const other = mode === "ama" ? extensionOnly : ama;
    return {
      mode,
      initiative: mode === "ama" ? settingsAma : "extensionOnly",
      findings: [
        `SQL mode ${mode}: forced by SQL_MODE=${mode}`,
        ...(other.length > 0 ? [`SQL_MODE=${mode} is forced, but the other architecture is assigned too (${described(other)}): its policies keep deploying their resources until that assignment is removed`] : []),
      ],
    };
  }
  if (extensionOnly.length > 0 && ama.length > 0) {
    return {
      mode: "extension-only",
      initiative: "extensionOnly",
      findings: [`SQL mode extension-only: both Defender for SQL architectures are assigned (${described(assigned)}): the extension-only one, Defender for SQL's architecture since April 2025, is followed and nothing more of the AMA set is added; remove the assignment you do not want`],
    };
  }
  if (extensionOnly.length > 0) return { mode: "extension-only", initiative: "extensionOnly", findings: [`SQL mode extension-only: ${described(extensionOnly.slice(0, 1))}`] };
  const followed = ama.find((entry) => entry.initiative === settingsAma) ?? ama[0];
  if (!followed) return { mode: "ama", initiative: settingsAma, findings: ["SQL mode ama: no Defender for SQL initiative assigned; the AMA initiative is assigned as Defender's AMA autoprovisioning does"] };
  return {
    mode: "ama",
    initiative: followed.initiative,
    findings: [
      `SQL mode ama: ${described([followed])}`,
      // Its workspace is a parameter of that assignment, which the service does not read: it checks no SQL rule then.
      ...(followed.initiative === "amaCustomWorkspace" && !settings.customWorkspaceId ? ["the assigned initiative sends SQL data to its own workspace: set LOG_ANALYTICS_WORKSPACE_ID to it for the service to check SQL machines' workspace and rule association"] : []),
    ],
  };
}

function initiativeOf(assignment: PolicyAssignmentState): SqlInitiative | undefined {
  const definition = assignment.policyDefinitionId.toLowerCase();
  return (Object.keys(SQL_INITIATIVES) as SqlInitiative[]).find((initiative) => SQL_INITIATIVES[initiative].toLowerCase() === definition);
}

const initiativeName = (initiative: SqlInitiative) => `${SQL_INITIATIVES[initiative].split("/").pop() as string} (${INITIATIVE_LABELS[initiative]})`;

/** Where an assignment sits, in words: `management group <name>`, `subscription <id>`, `resource group <name>`. */
function assignmentScope(assignmentId: string): string {
  const scope = assignmentId.split(/\/providers\/Microsoft\.Authorization\/policyAssignments\//i)[0] ?? "";
  const group = /^\/providers\/Microsoft\.Management\/managementGroups\/([^/]+)$/i.exec(scope)?.[1];
  if (group) return `management group ${group}`;
  const parsed = tryParseResourceId(scope);
  return parsed?.resourceGroup ? `resource group ${parsed.resourceGroup}` : parsed ? `subscription ${parsed.subscriptionId}` : scope;
}

export function evaluateMachine(machine: MachineState, snapshot: Snapshot, settings: Settings, refusal: WriteRefusal = writeRefusal(snapshot, settings.optOutTag)): MachineAssessment {
  const skip = (skipReason: string): MachineAssessment => ({ machine, status: "skipped", skipReason, needs: [], blocked: [], notes: [] });
  const outOfScope = refusal(machine.id);
  if (outOfScope) return skip(outOfScope);
  const subscription = snapshot.subscriptions.get(machine.subscriptionId.toLowerCase()) as SubscriptionState;
  if (!machine.os) return skip("operating system type is not reported");
  const support = agentSupport({ os: machine.os, kind: machine.kind, ...pickDefined(machine, "image", "osName", "osVersion", "osSku") });
  // An install on an OS the agent does not support fails in the guest (exit code 51): skip it and say why.
  if (support.supported === false) return skip(support.reason);
  if (machine.kind === "virtualMachine" && settings.scopeToSupportedImages && !isSupportedImage(machine.os, machine.image)) {
    const image = machine.image?.id ? `custom image ${machine.image.id.split("/").slice(-3).join("/")}` : `image ${[machine.image?.publisher, machine.image?.offer, machine.image?.sku].filter(Boolean).join("/")}`;
    return skip(`${image} is not on the Azure Monitor Agent policies' supported list (SCOPE_TO_SUPPORTED_IMAGES=false includes it)`);
  }

  const needs: Need[] = [];
  const expiredOptOut = machineOptOutNote(machine.tags, snapshot, settings.optOutTag);
  const notes: string[] = [...(expiredOptOut ? [expiredOptOut] : []), ...(support.supported === "unknown" ? [`${support.reason}: the agent is installed and ARM's answer reported`] : [])];
  const sql = sqlApplies(machine, subscription, settings);
  if (machine.sqlServer && !sql.applies && settings.profiles.has("sql")) notes.push(`Defender for SQL not applied: ${sql.reason}`);
  const architecture = sql.applies ? sqlArchitecture(subscription, settings) : undefined;

  if (settings.profiles.has("machines")) needs.push(...machinesProfile(machine, snapshot, subscription, settings, architecture?.mode === "ama", notes));
  if (architecture) needs.push(...sqlProfile(machine, snapshot, subscription, settings, architecture));
  notes.push(...legacyAgentNotes(machine));
  if (settings.removeLegacyMma && hasSucceeded(machine.extensions, AMA[machine.os])) {
    for (const legacy of machine.extensions.filter(isLegacyAgent)) needs.push({ kind: "removeExtension", extension: legacy });
  }

  const guestBlock = guestUnavailableReason(machine);
  const unique = dedupeNeeds(needs);
  const blocked = guestBlock ? unique.filter(needsGuest).map((need) => ({ need, reason: guestBlock })) : [];
  return { machine, status: "inScope", needs: guestBlock ? unique.filter((need) => !needsGuest(need)) : unique, blocked, notes };
}

/** `sqlInstallsAma`: Defender for SQL's AMA mode installs the agent (authenticated by its identity) instead. */
function machinesProfile(machine: MachineState, snapshot: Snapshot, subscription: SubscriptionState, settings: Settings, sqlInstallsAma: boolean, notes: string[]): Need[] {
  const os = machine.os as Os;
  const needs: Need[] = [];
  if (machine.kind === "virtualMachine" && !machine.identity.systemAssigned) needs.push({ kind: "systemIdentity" });
  if (!(sqlInstallsAma && os === "Windows")) {
    const ama = extensionNeed(machine, {
      ...AMA[os],
      name: AMA[os].type,
      ...(machine.kind === "virtualMachine" ? { typeHandlerVersion: AMA_VM_HANDLER_VERSION[os] } : {}),
    });
    if (ama) needs.push(ama);
  }
  const workspace = machinesWorkspace(machine.location, snapshot, subscription, settings);
  needs.push({ kind: "workspace", workspace });
  if (settings.dataCollectionRuleId) {
    const rule: RuleSpec = { ruleId: settings.dataCollectionRuleId, flavour: "configured", location: machine.location };
    if (!isAssociated(machine, rule, snapshot, subscription)) needs.push({ kind: "association", name: OWNED_ASSOCIATION_NAME, rule });
    return needs;
  }
  const rule = ownedRuleSpec(machine.location, snapshot, subscription, settings);
  if (isAssociated(machine, rule, snapshot, subscription)) return needs;
  // Events another rule already brings into the workspace would be collected, and billed, twice.
  const collecting = ruleCollectingSecurityEvents(machine, os, workspace.workspaceId, snapshot);
  if (collecting) notes.push(`security events already reach the workspace through data collection rule ${collecting.id}: the service's own rule is not needed`);
  else needs.push({ kind: "association", name: OWNED_ASSOCIATION_NAME, rule });
  return needs;
}

/** A rule the machine is associated with that sends its OS's security events into `workspaceId`. */
function ruleCollectingSecurityEvents(machine: MachineState, os: Os, workspaceId: string, snapshot: Snapshot): RuleState | undefined {
  const workspace = idKey(workspaceId);
  for (const { ruleId } of machine.associations) {
    if (!ruleId) continue;
    const key = idKey(ruleId);
    const subscriptionId = tryParseResourceId(ruleId)?.subscriptionId;
    const rule = (subscriptionId ? snapshot.subscriptions.get(subscriptionId)?.rules.get(key) : undefined) ?? snapshot.associatedRules.get(key);
    if (rule?.securityEventsTo[os].includes(workspace)) return rule;
  }
  return undefined;
}

/** The per-region rule the service owns, sending to the workspace the settings name for that region. */
function ownedRuleSpec(region: string, snapshot: Snapshot, subscription: SubscriptionState, settings: Settings): RuleSpec {
  const workspace = machinesWorkspace(region, snapshot, subscription, settings);
  return { ruleId: ownedRuleId(subscription.subscriptionId, region), flavour: "owned", location: normaliseRegion(region), workspace };
}

function machinesWorkspace(region: string, snapshot: Snapshot, subscription: SubscriptionState, settings: Settings): WorkspaceSpec {
  const solutions = ["SecurityCenterFree", ...(isServersPlan2(subscription) ? ["Security"] : [])];
  if (settings.customWorkspaceId) return customWorkspace(snapshot, settings.customWorkspaceId, solutions);
  return namedWorkspace(subscription, defaultWorkspaceId(subscription.subscriptionId, region), region, "defender", solutions);
}

/**
 * A workspace the service names (Defender's default, or Defender for SQL's): the one found, which keeps
 * its own id casing and region, or one to create in the machine's region.
 */
function namedWorkspace(subscription: SubscriptionState, workspaceId: string, region: string, flavour: "defender" | "sql", solutions: readonly string[]): WorkspaceSpec {
  const existing = subscription.workspaces.get(idKey(workspaceId));
  const location = normaliseRegion(region);
  return {
    workspaceId: existing?.id ?? workspaceId,
    location: existing?.location ?? location,
    ...(existing?.customerId ? { customerId: existing.customerId } : {}),
    ...(existing ? {} : { createIn: { location, flavour } }),
    solutions,
  };
}

function customWorkspace(snapshot: Snapshot, workspaceId: string, solutions: readonly string[]): WorkspaceSpec {
  const found: WorkspaceState | undefined = snapshot.customWorkspace;
  return {
    workspaceId: found?.id ?? workspaceId,
    location: found?.location ?? "",
    ...(found?.customerId ? { customerId: found.customerId } : {}),
    solutions,
  };
}

function sqlProfile(machine: MachineState, snapshot: Snapshot, subscription: SubscriptionState, settings: Settings, architecture: SqlArchitecture): Need[] {
  const needs: Need[] = [];
  const isVm = machine.kind === "virtualMachine";
  const defenderForSql = extensionNeed(machine, {
    ...DEFENDER_FOR_SQL,
    name: "MicrosoftDefenderForSQL",
    typeHandlerVersion: DEFENDER_FOR_SQL_HANDLER_VERSION,
    tags: { ...SQL_CREATED_BY_TAG },
  });
  if (architecture.mode === "extension-only") {
    if (isVm && !machine.identity.systemAssigned) needs.push({ kind: "systemIdentity" });
    if (defenderForSql) needs.push(defenderForSql);
    return needs;
  }
  // AMA mode: what initiative d7c3ea3a (or de01d381 with a custom workspace) deploys, by the same names.
  const identityId = builtInIdentityId(machine.subscriptionId, machine.location);
  // A VM keeps its reference to an identity deleted since: the identity is made again and attached anew.
  const attached = machine.identity.userAssignedIds.some((id) => idKey(id) === idKey(identityId)) && subscription.existing.has(idKey(identityId));
  if (isVm && !attached) needs.push({ kind: "userAssignedIdentity", identityId });
  const ama = extensionNeed(machine, {
    ...AMA.Windows,
    name: AMA.Windows.type,
    tags: { ...SQL_CREATED_BY_TAG },
    ...(isVm
      ? {
          typeHandlerVersion: AMA_SQL_VM_HANDLER_VERSION,
          settings: { authentication: { managedIdentity: { "identifier-name": "mi_res_id", "identifier-value": identityId } } },
        }
      : {}),
  });
  if (ama) needs.push(ama);
  if (defenderForSql) needs.push(defenderForSql);
  // The assigned custom-workspace initiative names its workspace in parameters the service does not read (a finding says so).
  if (architecture.initiative === "amaCustomWorkspace" && !settings.customWorkspaceId) return needs;
  const rule = sqlRule(machine, snapshot, subscription, settings, architecture.initiative);
  if (rule.workspace) needs.push({ kind: "workspace", workspace: rule.workspace });
  if (!isAssociated(machine, rule, snapshot, subscription)) needs.push({ kind: "association", name: SQL_ASSOCIATION_NAME, rule });
  return needs;
}

function sqlRule(machine: MachineState, snapshot: Snapshot, subscription: SubscriptionState, settings: Settings, initiative: SqlInitiative): RuleSpec {
  if (initiative === "amaCustomWorkspace" && settings.customWorkspaceId) {
    const workspace = customWorkspace(snapshot, settings.customWorkspaceId, []);
    const location = workspace.location || normaliseRegion(machine.location);
    const ruleId = workspace.customerId
      ? sqlCustomWorkspaceRuleId(machine.subscriptionId, location, workspace.customerId)
      : sqlRuleId(machine.subscriptionId, machine.location);
    return { ruleId, flavour: "sql", location, workspace };
  }
  const workspace = namedWorkspace(subscription, sqlWorkspaceId(machine.subscriptionId, machine.location), machine.location, "sql", []);
  return { ruleId: sqlRuleId(machine.subscriptionId, machine.location), flavour: "sql", location: normaliseRegion(machine.location), workspace };
}

/** Defender for SQL runs in a subscription: the SQL profile is on and the SqlServerVirtualMachines plan is Standard. */
function sqlPlanApplies(subscription: SubscriptionState, settings: Settings): boolean {
  return settings.profiles.has("sql") && subscription.sqlServersOnMachinesPlan.tier === "Standard";
}

/** The SQL profile applies to Windows SQL Server machines whose subscription has the plan on. */
function sqlApplies(machine: MachineState, subscription: SubscriptionState, settings: Settings): { applies: boolean; reason?: string } {
  if (!machine.sqlServer || !settings.profiles.has("sql")) return { applies: false };
  if (!sqlPlanApplies(subscription, settings)) return { applies: false, reason: "the SqlServerVirtualMachines plan is not Standard" };
  if (machine.os !== "Windows" || machine.extensions.some((extension) => isExtension(extension, SQL_IAAS_LINUX))) {
    return { applies: false, reason: "Linux SQL Server machines are outside Defender for SQL's policies" };
  }
  return { applies: true };
}

function extensionNeed(machine: MachineState, wanted: ExtensionSpec): Need | undefined {
  const existing = machine.extensions.find((extension) => isExtension(extension, wanted));
  if (!existing) return { kind: "extension", extension: wanted, why: "missing" };
  // Reuse the existing copy's name and version: a second copy under another name is rejected by ARM.
  // A PUT replaces the extension's tags: keep the customer's (a required-tag policy would refuse it without them).
  const repaired: ExtensionSpec = {
    ...wanted,
    name: existing.name,
    ...(existing.typeHandlerVersion ? { typeHandlerVersion: existing.typeHandlerVersion } : {}),
    ...(existing.tags ? { tags: { ...existing.tags, ...wanted.tags } } : {}),
  };
  if (existing.provisioningState.toLowerCase() === "failed") return { kind: "extension", extension: repaired, why: "failed" };
  if (!existing.enableAutomaticUpgrade && wanted.publisher === AMA.Windows.publisher) return { kind: "extension", extension: repaired, why: "autoUpgradeOff" };
  return undefined;
}

/**
 * Associated with the rule, and the rule exists: deleting a rule can leave its associations behind
 * (ARM keeps them unless the delete asked `deleteAssociations=true`), and they send nothing.
 */
function isAssociated(machine: MachineState, rule: RuleSpec, snapshot: Snapshot, subscription: SubscriptionState): boolean {
  const exists = rule.flavour === "configured" ? snapshot.configuredRuleFound !== false : subscription.existing.has(idKey(rule.ruleId));
  return exists && machine.associations.some((association) => association.ruleId !== undefined && idKey(association.ruleId) === idKey(rule.ruleId));
}

function hasSucceeded(extensions: readonly ExtensionState[], wanted: ExtensionIdentity): boolean {
  return extensions.some((extension) => isExtension(extension, wanted) && SUCCEEDED.has(extension.provisioningState.toLowerCase()));
}

function legacyAgentNotes(machine: MachineState): string[] {
  const legacy = machine.extensions.filter((extension) => isLegacyAgent(extension) && SUCCEEDED.has(extension.provisioningState.toLowerCase()));
  if (legacy.length === 0 || !machine.os || !hasSucceeded(machine.extensions, AMA[machine.os])) return [];
  return [`both the retiring Log Analytics agent (${legacy.map((extension) => extension.name).join(", ")}) and the Azure Monitor Agent run: duplicate alerts and double ingestion cost`];
}

function isServersPlan2(subscription: SubscriptionState): boolean {
  return subscription.serversPlan.tier === "Standard" && subscription.serversPlan.subPlan?.toUpperCase() === "P2";
}

function guestUnavailableReason(machine: MachineState): string | undefined {
  if (!machine.allowExtensionOperations) return "extension operations are disabled on this machine (osProfile.allowExtensionOperations is false)";
  if (machine.kind === "arcMachine" && machine.agentStatus?.toLowerCase() !== "connected") return `Arc machine is ${machine.agentStatus ?? "not connected"}: extensions can only change while it is connected`;
  if (machine.kind === "virtualMachine" && machine.power !== "running") return `VM is ${machine.power}: extensions can only change while it runs`;
  return undefined;
}

function needsGuest(need: Need): boolean {
  return need.kind === "extension" || need.kind === "removeExtension";
}

/** The machines and SQL profiles can ask for the same thing (system identity, one workspace); keep the first. */
function dedupeNeeds(needs: readonly Need[]): Need[] {
  const seen = new Set<string>();
  return needs.filter((need) => {
    const key = needKey(need);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function needKey(need: Need): string {
  switch (need.kind) {
    case "systemIdentity":
      return need.kind;
    case "userAssignedIdentity":
      return `${need.kind} ${idKey(need.identityId)}`;
    case "extension":
      return `${need.kind} ${need.extension.publisher.toLowerCase()}/${need.extension.type.toLowerCase()}`;
    case "association":
      return `${need.kind} ${idKey(need.rule.ruleId)}`;
    case "workspace":
      return `${need.kind} ${idKey(need.workspace.workspaceId)}`;
    case "removeExtension":
      return `${need.kind} ${idKey(need.extension.id)}`;
  }
}

/** The named fields of `source` that are set, for optional properties under exactOptionalPropertyTypes. */
function pickDefined<T extends object, K extends keyof T>(source: T, ...keys: K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((key) => source[key] !== undefined).map((key) => [key, source[key]])) as Partial<Pick<T, K>>;
}
