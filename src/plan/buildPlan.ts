/**
 * Plan: assessments -> an ordered list of writes. Shared resources (resource groups, identities,
 * workspaces, solutions, rules, policy assignments) appear once however many machines need them,
 * and only when discovery did not find them. Pure: same snapshot and settings, same plan.
 */
import { createHash } from "node:crypto";
import type { Settings } from "../config/settings.js";
import { idKey, parseResourceId, resourceGroupId } from "../azure/ids.js";
import { apiVersionFor } from "../azure/apiVersions.js";
import {
  BUILT_IN_IDENTITY_RESOURCE_GROUP_LOCATION,
  SQL_ASSIGNMENT_NAMES,
  SQL_ASSIGNMENT_ROLES,
  SQL_CREATED_BY_TAG,
  SQL_INITIATIVES,
  policyAssignmentId,
  solutionId,
} from "../defender/names.js";
import type { Assessment, MachineAssessment, Need, RuleSpec, SqlArchitecture, SqlInitiative, SubscriptionAssessment, WorkspaceSpec } from "../evaluate/evaluate.js";
import { writeRefusal, type WriteRefusal } from "../evaluate/writeScope.js";
import { roleGrantKey, type MachineState, type PolicyAssignmentState, type Snapshot, type SubscriptionState } from "../model.js";
import {
  associationBody,
  extensionBody,
  ownedRuleBody,
  resourceGroupBody,
  solutionBody,
  sqlRuleBody,
  userAssignedIdentityBody,
  workspaceBody,
} from "./bodies.js";
import { builtInIdentityGroupLocation } from "./builtInIdentityGroup.js";
import { PLAN_VERSION, type HttpMethod, type Plan, type PlanAction, type PlanItem, type SubscriptionFinding } from "./plan.js";

/** Why a machine's need could not be planned (outside scope, opted-out group, missing custom workspace). */
/**
 * What planning one write and its prerequisites gave: the key of the item it stands for (none when
 * nothing needs writing), or why it cannot be planned. A value, never an exception: the machine's
 * other needs go on, and the blocked one is reported with its reason.
 */
type Planned = { readonly key?: string; readonly blocked?: undefined } | { readonly blocked: string; readonly key?: undefined };

const planned = (key?: string): Planned => (key === undefined ? {} : { key });
const cannot = (reason: string): Planned => ({ blocked: reason });
/** The keys of the prerequisites that added an item. */
const keysOf = (...prerequisites: readonly Planned[]): string[] => prerequisites.flatMap((prerequisite) => (prerequisite.key ? [prerequisite.key] : []));

/** The last write planned for a machine, and its identity write (extensions need the identity). */
interface MachineChain {
  last: string | undefined;
  identity: string | undefined;
}

interface NewItem {
  readonly machine?: MachineState;
  readonly action: PlanAction;
  readonly method: HttpMethod;
  readonly targetId: string;
  readonly body?: Record<string, unknown>;
  readonly observed: unknown;
  readonly ifMatch?: string;
  readonly reason: string;
  readonly dependsOn?: readonly string[];
  readonly after?: readonly string[];
  readonly principalFrom?: string;
}


export function buildPlan(snapshot: Snapshot, assessment: Assessment, settings: Settings, now = new Date()): Plan {
  const builder = new PlanBuilder(snapshot, settings, assessment.subscriptions);
  const planned = assessment.machines.map((machine) => builder.planMachine(machine));
  for (const subscription of snapshot.subscriptions.values()) builder.reportLegacySwitch(subscription);
  for (const finding of assessment.findings) builder.addFinding(finding);
  for (const subscription of assessment.subscriptions) builder.planSubscription(subscription);
  return {
    version: PLAN_VERSION,
    createdAt: now.toISOString(),
    dryRun: settings.dryRun,
    items: builder.orderedItems(),
    assessments: planned,
    findings: builder.findings,
  };
}

class PlanBuilder {
  private readonly items = new Map<string, PlanItem>();
  readonly findings: SubscriptionFinding[] = [];
  private readonly findingKeys = new Set<string>();
  /** Subscription -> where this plan creates Built-In-Identity-RG (the initiative it assigns must say the same). */
  private readonly builtInIdentityGroupLocations = new Map<string, string>();
  private readonly refusal: WriteRefusal;
  /** Subscription -> the Defender for SQL architecture evaluate chose for it (where Defender for SQL applies). */
  private readonly sqlArchitectures: ReadonlyMap<string, SqlArchitecture>;

  constructor(
    private readonly snapshot: Snapshot,
    private readonly settings: Settings,
    subscriptions: readonly SubscriptionAssessment[],
  ) {
    this.refusal = writeRefusal(snapshot, settings.optOutTag);
    this.sqlArchitectures = new Map(subscriptions.flatMap(({ subscription, sql }) => (sql ? [[subscription.subscriptionId, sql] as const] : [])));
  }

  planMachine(assessment: MachineAssessment): MachineAssessment {
    if (assessment.status !== "inScope") return assessment;
    const machine = assessment.machine;
    const blocked = [...assessment.blocked];
    const needs = [...assessment.needs];
    // One identity write carries both identity needs.
    const identityNeeds: Need[] = needs.filter((need) => need.kind === "systemIdentity" || need.kind === "userAssignedIdentity");
    const ordered: Need[] = [...needs.filter((need) => need.kind === "workspace"), ...needs.filter((need) => need.kind !== "workspace" && !identityNeeds.includes(need))];
    const chain: MachineChain = { last: undefined, identity: undefined };
    if (identityNeeds.length > 0) {
      const identity = this.identityItem(machine, identityNeeds);
      if (identity.blocked !== undefined) for (const need of identityNeeds) blocked.push({ need, reason: identity.blocked });
      else chain.identity = chain.last = identity.key;
    }
    for (const need of ordered) {
      const item = this.needItem(machine, need, chain);
      if (item.blocked !== undefined) blocked.push({ need, reason: item.blocked });
      else if (item.key && need.kind !== "association") chain.last = item.key;
    }
    return { ...assessment, blocked };
  }

  /** Read and reported, never turned on; opted-out subscriptions too, since it costs nothing to say. */
  reportLegacySwitch(subscription: SubscriptionState): void {
    if (subscription.legacyAutoProvisioning !== "On") return;
    this.addFinding({ subscriptionId: subscription.subscriptionId, message: "legacy Log Analytics agent (MMA) autoprovisioning is On: it is retired; switch it Off once machines run the Azure Monitor Agent (never turned on by this service)" });
  }

  planSubscription({ subscription, ownedRules, sql }: SubscriptionAssessment): void {
    // Rules the service owns follow the settings even where every machine is already associated with them.
    for (const spec of ownedRules) {
      const rule = this.ensureRule(spec);
      if (rule.blocked !== undefined) this.addFinding({ subscriptionId: subscription.subscriptionId, message: `rule ${spec.ruleId} cannot follow the settings: ${rule.blocked}` });
    }
    if (!sql) return;
    for (const message of sql.findings) this.addFinding({ subscriptionId: subscription.subscriptionId, message });
    this.planSqlAutoprovisioning(subscription, sql.initiative);
  }

  orderedItems(): PlanItem[] {
    // Items were added dependencies-first; keep that order (stable and readable in --dry-run).
    return [...this.items.values()];
  }

  // ---- machine needs ----

  private needItem(machine: MachineState, need: Need, chain: MachineChain): Planned {
    // Writes to one machine go one at a time (`after`); only real prerequisites fail their dependants.
    const after = chain.last ? [chain.last] : [];
    const identity = chain.identity ? [chain.identity] : [];
    switch (need.kind) {
      case "workspace": {
        const workspace = this.ensureWorkspace(need.workspace);
        return workspace.blocked !== undefined ? workspace : planned();
      }
      case "extension": {
        const reason = {
          missing: `${need.extension.type} is not installed`,
          failed: `${need.extension.type} is in state Failed: reinstall under its existing name`,
          autoUpgradeOff: `${need.extension.type} has automatic upgrade off`,
        }[need.why];
        return this.addPlanned({
          machine,
          action: "installExtension",
          method: "PUT",
          targetId: `${machine.id}/extensions/${need.extension.name}`,
          body: extensionBody(machine.location, need.extension, need.why === "missing" ? this.settings.createdResourceTags : {}),
          observed: need.why === "missing" ? "absent" : { name: need.extension.name, problem: need.why },
          reason,
          dependsOn: identity,
          after,
        });
      }
      case "association": {
        const rule = need.rule.flavour === "configured" ? this.checkConfiguredRule(need.rule.ruleId) : this.ensureRule(need.rule);
        if (rule.blocked !== undefined) return rule;
        const description = need.rule.flavour === "sql" ? "Configure association between SQL Virtual Machine and the Microsoft Defender for SQL user-defined DCR." : "Associates the machine with the Defender for Cloud data collection rule. Managed by ama-remediator.";
        return this.addPlanned({
          machine,
          action: "associateDataCollectionRule",
          method: "PUT",
          targetId: `${machine.id}/providers/Microsoft.Insights/dataCollectionRuleAssociations/${need.name}`,
          body: associationBody(need.rule.ruleId, description),
          observed: "no association to this rule",
          reason: `not associated with ${need.rule.ruleId}`,
          dependsOn: keysOf(rule),
          // A Microsoft.Insights resource: it does not wait for the machine's own operations, nor they for it.
          after: [],
        });
      }
      case "removeExtension":
        return this.addPlanned({
          machine,
          action: "removeExtension",
          method: "DELETE",
          targetId: need.extension.id,
          observed: { name: need.extension.name, type: need.extension.type },
          reason: `${need.extension.type} is retired and the Azure Monitor Agent runs (REMOVE_LEGACY_MMA=true)`,
          after,
        });
      case "systemIdentity":
      case "userAssignedIdentity":
        return planned(); // handled together by identityItem
    }
  }

  /** A configured rule is never created; when discovery did not find it, associations to it are not attempted. */
  private checkConfiguredRule(ruleId: string): Planned {
    if (this.snapshot.configuredRuleFound !== false) return planned();
    const subscriptionId = parseResourceId(ruleId).subscriptionId;
    this.addFinding({ subscriptionId, message: `DATA_COLLECTION_RULE_ID ${ruleId} was not found: no machine is associated with it until it exists` });
    return cannot(`configured data collection rule ${ruleId} was not found`);
  }

  private identityItem(machine: MachineState, needs: readonly Need[]): Planned {
    const wantsSystem = machine.identity.systemAssigned || needs.some((need) => need.kind === "systemIdentity");
    const newUserIds = needs.flatMap((need) => (need.kind === "userAssignedIdentity" ? [need.identityId] : []));
    const hasUser = machine.identity.userAssignedIds.length > 0 || newUserIds.length > 0;
    const type = [wantsSystem ? "SystemAssigned" : undefined, hasUser ? "UserAssigned" : undefined].filter(Boolean).join(", ");
    // Microsoft documents one PATCH that keeps a VM's user-assigned identities: it lists every one of them,
    // the existing and the new, each mapped to {} (ARM then checks .../assign/action on each).
    const identity: Record<string, unknown> = { type };
    if (hasUser) identity["userAssignedIdentities"] = Object.fromEntries([...machine.identity.userAssignedIds, ...newUserIds].map((id) => [id, {}]));
    const dependencies = newUserIds.map((id) => this.ensureUserAssignedIdentity(machine, id));
    const blocked = dependencies.find((dependency) => dependency.blocked !== undefined);
    if (blocked) return blocked;
    const reasons = [
      ...(needs.some((need) => need.kind === "systemIdentity") ? ["no system-assigned identity"] : []),
      ...newUserIds.map((id) => `Defender for SQL identity ${id.split("/").pop()} not attached`),
    ];
    return this.addPlanned({
      machine,
      action: "updateMachineIdentity",
      method: "PATCH",
      targetId: machine.id,
      body: { identity },
      observed: { systemAssigned: machine.identity.systemAssigned, userAssignedIds: machine.identity.userAssignedIds },
      ...(machine.etag ? { ifMatch: machine.etag } : {}),
      reason: reasons.join("; "),
      dependsOn: keysOf(...dependencies),
    });
  }

  // ---- shared resources ----

  /** A group the service's resources need, created in `location`: where what it holds serves machines, never a fixed region. */
  private ensureResourceGroup(subscriptionId: string, name: string, location: string, ownTags?: Readonly<Record<string, string>>): Planned {
    const id = resourceGroupId(subscriptionId, name);
    const target = this.writableSubscription(id);
    if ("blocked" in target) return cannot(target.blocked);
    if (target.subscription.existing.has(idKey(id))) return planned();
    return this.addPlanned({ action: "createResourceGroup", method: "PUT", targetId: id, body: resourceGroupBody(location, this.settings.createdResourceTags, ownTags), observed: "absent", reason: `resource group for Defender's resources does not exist: create it in ${location}` });
  }

  private ensureUserAssignedIdentity(machine: MachineState, identityId: string): Planned {
    const parsed = parseResourceId(identityId);
    const target = this.writableSubscription(identityId);
    if ("blocked" in target) return cannot(target.blocked);
    const { subscription } = target;
    const location = this.builtInIdentityGroupLocations.get(parsed.subscriptionId) ?? builtInIdentityGroupLocation(subscription.builtInIdentityGroupLocation, this.wantedSqlAssignment(subscription), machine.location);
    const group = this.ensureResourceGroup(parsed.subscriptionId, parsed.resourceGroup as string, location, SQL_CREATED_BY_TAG);
    if (group.blocked !== undefined) return group;
    this.builtInIdentityGroupLocations.set(parsed.subscriptionId, location);
    if (subscription.existing.has(idKey(identityId))) return planned();
    return this.addPlanned({ action: "createUserAssignedIdentity", method: "PUT", targetId: identityId, body: userAssignedIdentityBody(machine.location, this.settings.createdResourceTags), observed: "absent", reason: "Defender for SQL's built-in identity does not exist", dependsOn: keysOf(group) });
  }

  private ensureWorkspace(spec: WorkspaceSpec): Planned {
    const parsed = parseResourceId(spec.workspaceId);
    const inScope = this.snapshot.subscriptions.get(parsed.subscriptionId);
    let workspaceKey: string | undefined;
    if (spec.createIn) {
      const group = this.ensureResourceGroup(parsed.subscriptionId, parsed.resourceGroup as string, spec.createIn.location, spec.createIn.flavour === "sql" ? SQL_CREATED_BY_TAG : undefined);
      if (group.blocked !== undefined) return group;
      workspaceKey = this.add({ action: "createWorkspace", method: "PUT", targetId: spec.workspaceId, body: workspaceBody(spec, this.settings.createdResourceTags), observed: "absent", reason: "workspace does not exist", dependsOn: keysOf(group) });
    } else if (!spec.location) {
      return cannot(`custom workspace ${spec.workspaceId} was not found (it is never created by this service)`);
    }
    if (spec.solutions.length === 0) return planned(workspaceKey);
    if (!inScope) {
      this.addFinding({ subscriptionId: parsed.subscriptionId, message: `workspace ${spec.workspaceId} is outside the configured scope: add solutions ${spec.solutions.join(", ")} yourself if missing` });
      return planned(workspaceKey);
    }
    for (const gallery of spec.solutions) {
      const id = solutionId(spec.workspaceId, gallery);
      if (inScope.existing.has(idKey(id))) continue;
      this.add({ action: "installSolution", method: "PUT", targetId: id, body: solutionBody(spec.workspaceId, spec.location, gallery, this.settings.createdResourceTags), observed: "absent", reason: `workspace lacks the ${gallery} solution`, dependsOn: workspaceKey ? [workspaceKey] : [] });
    }
    return planned(workspaceKey);
  }

  private ensureRule(rule: RuleSpec): Planned {
    if (rule.flavour === "configured") return planned();
    const target = this.writableSubscription(rule.ruleId);
    if ("blocked" in target) return cannot(target.blocked);
    const { subscription } = target;
    const workspace = rule.workspace;
    if (!workspace) return cannot("no workspace to send the rule's data to");
    const workspaceItem = this.ensureWorkspace(workspace);
    if (workspaceItem.blocked !== undefined) return workspaceItem;
    const destinations = subscription.rules.get(idKey(rule.ruleId))?.workspaces;
    const sendsToWorkspace = destinations?.includes(idKey(workspace.workspaceId));
    // Rules we own are kept pointing at the workspace the settings name (e.g. after LOG_ANALYTICS_WORKSPACE_ID changed).
    if (subscription.existing.has(idKey(rule.ruleId)) && (sendsToWorkspace || destinations === undefined)) return planned();
    const parsed = parseResourceId(rule.ruleId);
    const group = this.ensureResourceGroup(parsed.subscriptionId, parsed.resourceGroup as string, rule.location);
    if (group.blocked !== undefined) return group;
    const ruleBody = rule.flavour === "sql" ? sqlRuleBody : ownedRuleBody;
    const body = ruleBody(rule.location, workspace.workspaceId, this.settings.createdResourceTags);
    const [observed, reason] = destinations ? [{ sendsTo: destinations }, `data collection rule sends to ${destinations.join(", ") || "no workspace"}, not ${workspace.workspaceId}`] : ["absent", "data collection rule does not exist"];
    return this.addPlanned({ action: "createDataCollectionRule", method: "PUT", targetId: rule.ruleId, body, observed, reason, dependsOn: keysOf(group, workspaceItem) });
  }

  /**
   * "AMA autoprovisioning for SQL" is the initiative assigned to the subscription, with the five roles
   * its identity needs to remediate. A missing assignment is created; an existing one whose identity
   * lacks a role (a grant that was denied or raced the identity's replication) gets it on a later sweep.
   */
  private planSqlAutoprovisioning(subscription: SubscriptionState, initiative: SqlInitiative): void {
    const subscriptionId = subscription.subscriptionId;
    const wanted = SQL_INITIATIVES[initiative];
    const existing = this.wantedSqlAssignment(subscription);
    if (existing) {
      if (existing.principalId) this.planRoleGrants(subscription, existing.id, existing.principalId);
      return;
    }
    const assignmentId = policyAssignmentId(subscriptionId, SQL_ASSIGNMENT_NAMES[initiative]);
    const parameters = this.sqlAssignmentParameters(initiative, subscription);
    if (parameters === undefined) {
      this.addFinding({ subscriptionId, message: `custom workspace ${this.settings.customWorkspaceId} was not found: Defender for SQL autoprovisioning was not assigned` });
      return;
    }
    // No CREATED_RESOURCE_TAGS here: policy (and role) assignments take no tags in Azure.
    const assignmentKey = this.add({
      action: "assignPolicy",
      method: "PUT",
      targetId: assignmentId,
      body: {
        location: BUILT_IN_IDENTITY_RESOURCE_GROUP_LOCATION,
        identity: { type: "SystemAssigned" },
        properties: {
          displayName: SQL_ASSIGNMENT_NAMES[initiative],
          description: "Defender for SQL servers on machines autoprovisioning, assigned by ama-remediator.",
          policyDefinitionId: wanted,
          ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
        },
      },
      observed: "absent",
      reason: "the SqlServerVirtualMachines plan is Standard but Defender for SQL's autoprovisioning initiative is not assigned",
    });
    this.planRoleGrants(subscription, assignmentId, undefined, assignmentKey);
  }

  private planRoleGrants(subscription: SubscriptionState, assignmentId: string, principalId: string | undefined, assignmentKey?: string): void {
    const scope = `/subscriptions/${subscription.subscriptionId}`;
    for (const [roleName, roleId] of Object.entries(SQL_ASSIGNMENT_ROLES)) {
      if (principalId && subscription.roleGrants.has(roleGrantKey(principalId, roleId))) continue;
      this.add({
        action: "assignRole",
        method: "PUT",
        targetId: `${scope}/providers/Microsoft.Authorization/roleAssignments/${stableGuid(`${assignmentId}|${roleId}`)}`,
        body: {
          properties: {
            roleDefinitionId: `${scope}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`,
            principalId: principalId ?? "(known after apply)",
            principalType: "ServicePrincipal",
          },
        },
        observed: principalId ? { principalId, hasRole: false } : "absent",
        reason: `the initiative's identity needs ${roleName} to remediate`,
        dependsOn: assignmentKey ? [assignmentKey] : [],
        ...(principalId ? {} : { principalFrom: assignmentId }),
      });
    }
  }

  /** The assignment of the initiative evaluate chose for the subscription, at the subscription or inherited from above it. */
  private wantedSqlAssignment(subscription: SubscriptionState): PolicyAssignmentState | undefined {
    const initiative = this.sqlArchitectures.get(subscription.subscriptionId)?.initiative;
    const wanted = initiative && SQL_INITIATIVES[initiative].toLowerCase();
    return subscription.sqlAssignments.find((assignment) => assignment.policyDefinitionId.toLowerCase() === wanted);
  }

  private sqlAssignmentParameters(initiative: SqlInitiative, subscription: SubscriptionState): Record<string, { value: unknown }> | undefined {
    if (initiative === "extensionOnly") return {};
    // Both AMA initiatives create Built-In-Identity-RG themselves, at this parameter (default eastus); where
    // this plan creates the group, the initiative must name the same location or its deployments fail.
    const groupLocation = this.builtInIdentityGroupLocations.get(subscription.subscriptionId) ?? subscription.builtInIdentityGroupLocation;
    const identityGroup: Record<string, { value: unknown }> = groupLocation ? { builtInIdentityResourceGroupLocation: { value: groupLocation } } : {};
    if (initiative === "amaDefaultWorkspace") return identityGroup;
    const workspace = this.snapshot.customWorkspace;
    if (!workspace?.customerId) return undefined;
    return {
      userWorkspaceResourceId: { value: workspace.id },
      workspaceRegion: { value: workspace.location },
      userWorkspaceId: { value: workspace.customerId },
      ...identityGroup,
    };
  }

  // ---- helpers ----

  /** Many machines share a workspace or subscription: each finding is reported once. */
  addFinding(finding: SubscriptionFinding): void {
    const key = `${finding.subscriptionId}|${finding.message}`;
    if (this.findingKeys.has(key)) return;
    this.findingKeys.add(key);
    this.findings.push(finding);
  }

  /** The subscription a write lands in, or why it must not be written (writeScope decides, as for the write guard). */
  private writableSubscription(id: string): { readonly subscription: SubscriptionState } | { readonly blocked: string } {
    const parsed = parseResourceId(id);
    const refused = this.refusal(id);
    if (refused) return { blocked: `${parsed.name}: ${refused}` };
    return { subscription: this.snapshot.subscriptions.get(parsed.subscriptionId) as SubscriptionState };
  }

  private addPlanned(item: NewItem): Planned {
    return planned(this.add(item));
  }

  private add(item: NewItem): string {
    const key = `${item.action} ${idKey(item.targetId)}`;
    if (this.items.has(key)) return key;
    const parsed = parseResourceId(item.targetId);
    this.items.set(key, {
      key,
      action: item.action,
      method: item.method,
      targetId: item.targetId,
      apiVersion: apiVersionFor(parsed.resourceType),
      subscriptionId: parsed.subscriptionId,
      ...(item.machine ? { machineId: item.machine.id } : {}),
      ...(item.body ? { body: item.body } : {}),
      ...(item.principalFrom ? { principalFrom: item.principalFrom } : {}),
      observed: item.observed,
      ...(item.ifMatch ? { ifMatch: item.ifMatch } : {}),
      reason: item.reason,
      dependsOn: [...new Set(item.dependsOn ?? [])],
      after: [...new Set(item.after ?? [])],
    });
    return key;
  }

}

/** Role assignment names are GUIDs; deriving them from what they grant makes a re-run hit the same one. */
function stableGuid(seed: string): string {
  const hex = createHash("sha256").update(seed.toLowerCase()).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
