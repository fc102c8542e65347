/**
 * A tiny builder of plain-data snapshots for the pure evaluate/plan/report tests: one baseline
 * machine (running Windows VM, supported image, system identity, no agents) changed only in the way a
 * test names, inside one subscription with both Defender plans Free and nothing shared existing yet.
 */
import { loadSettings, type Settings } from "../../src/config/settings.js";
import { AMA, DEFENDER_FOR_SQL, LEGACY_AGENTS, SQL_IAAS_LINUX, type ExtensionIdentity, type Os } from "../../src/defender/agents.js";
import type { AssociationState, ExtensionState, MachineState, RuleState, Snapshot, SubscriptionState, WorkspaceState } from "../../src/model.js";
import { idKey } from "../../src/azure/ids.js";
import { evaluate, type Need } from "../../src/evaluate/evaluate.js";
import { buildPlan } from "../../src/plan/buildPlan.js";
import type { Plan } from "../../src/plan/plan.js";

export const SUB = "11111111-1111-4111-8111-111111111111";
export const OTHER_SUB = "22222222-2222-4222-8222-222222222222";
export const RG = "rg-workload";

type MachineOverrides = Partial<Omit<MachineState, "identity">> & { identity?: Partial<MachineState["identity"]> };

export function vm(name: string, overrides: MachineOverrides = {}): MachineState {
  const subscriptionId = overrides.subscriptionId ?? SUB;
  const resourceGroup = overrides.resourceGroup ?? RG;
  const { identity, ...rest } = overrides;
  return {
    id: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/virtualMachines/${name}`,
    kind: "virtualMachine",
    name,
    subscriptionId,
    resourceGroup,
    location: "eastus",
    os: "Windows",
    tags: {},
    power: "running",
    allowExtensionOperations: true,
    image: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2022-datacenter-azure-edition" },
    extensions: [],
    associations: [],
    ...rest,
    identity: { systemAssigned: true, userAssignedIds: [], ...identity },
  };
}

export function arc(name: string, overrides: MachineOverrides = {}): MachineState {
  const subscriptionId = overrides.subscriptionId ?? SUB;
  const resourceGroup = overrides.resourceGroup ?? "rg-arc";
  const base = vm(name, { ...overrides, subscriptionId, resourceGroup });
  const { image: _image, ...withoutImage } = base;
  return {
    ...withoutImage,
    id: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.HybridCompute/machines/${name}`,
    kind: "arcMachine",
    agentStatus: overrides.agentStatus ?? "Connected",
    power: overrides.agentStatus && overrides.agentStatus !== "Connected" ? "unknown" : "running",
  };
}

export interface ExtensionOptions {
  name?: string;
  state?: string;
  autoUpgrade?: boolean;
  version?: string;
}

export function extension(machine: Pick<MachineState, "id">, identity: ExtensionIdentity, options: ExtensionOptions = {}): ExtensionState {
  const name = options.name ?? identity.type;
  return {
    id: `${machine.id}/extensions/${name}`,
    name,
    publisher: identity.publisher,
    type: identity.type,
    provisioningState: options.state ?? "Succeeded",
    enableAutomaticUpgrade: options.autoUpgrade ?? true,
    ...(options.version ? { typeHandlerVersion: options.version } : {}),
  };
}

export const ama = (machine: Pick<MachineState, "id">, os: Os = "Windows", options?: ExtensionOptions): ExtensionState => extension(machine, AMA[os], options);
export const mma = (machine: Pick<MachineState, "id">, os: Os = "Windows"): ExtensionState =>
  extension(machine, LEGACY_AGENTS[os === "Windows" ? 0 : 1] as ExtensionIdentity, { name: os === "Windows" ? "MicrosoftMonitoringAgent" : "OMSAgentForLinux", autoUpgrade: false });
export const defenderForSql = (machine: Pick<MachineState, "id">): ExtensionState => extension(machine, DEFENDER_FOR_SQL, { name: "MicrosoftDefenderForSQL" });
export const sqlIaasLinux = (machine: Pick<MachineState, "id">): ExtensionState => extension(machine, SQL_IAAS_LINUX, { name: "SqlIaasExtension" });

export function association(machine: Pick<MachineState, "id">, name: string, ruleId: string): AssociationState {
  return { id: `${machine.id}/providers/Microsoft.Insights/dataCollectionRuleAssociations/${name}`, name, ruleId };
}

/** The SQL VM resource a Windows SQL VM carries (same name and group as the VM). */
export function sqlVm(name: string, overrides: MachineOverrides = {}): MachineState {
  const machine = vm(name, { resourceGroup: "rg-sql", image: { publisher: "MicrosoftSQLServer", offer: "sql2022-ws2022", sku: "enterprise-gen2" }, ...overrides });
  return { ...machine, sqlServer: { sqlVirtualMachineId: `/subscriptions/${machine.subscriptionId}/resourceGroups/${machine.resourceGroup}/providers/Microsoft.SqlVirtualMachine/sqlVirtualMachines/${name}` } };
}

export type SubscriptionOverrides = Partial<Omit<SubscriptionState, "existing" | "workspaces" | "optedOutResourceGroups" | "rules">> & {
  /** Data collection rules found in the subscription (they also exist). */
  rules?: readonly RuleState[];
  /** Ids of shared resources that exist (resource groups, workspaces, solutions, rules, identities). */
  existing?: readonly string[];
  workspaces?: readonly WorkspaceState[];
  /** Opted-out resource groups: names (tagged `skip`), or name -> the opt-out tag's value. */
  optedOutResourceGroups?: readonly string[] | Readonly<Record<string, string>>;
};

export function subscription(overrides: SubscriptionOverrides = {}): SubscriptionState {
  const { existing, workspaces, optedOutResourceGroups, rules, ...rest } = overrides;
  return {
    subscriptionId: SUB,
    tags: {},
    serversPlan: { tier: "Free" },
    sqlServersOnMachinesPlan: { tier: "Free" },
    legacyAutoProvisioning: "Off",
    ...rest,
    optedOutResourceGroups: new Map(
      (Array.isArray(optedOutResourceGroups) ? optedOutResourceGroups.map((group): [string, string] => [group, "skip"]) : Object.entries(optedOutResourceGroups ?? {})).map(([group, value]) => [group.toLowerCase(), value]),
    ),
    existing: new Set([...(existing ?? []).filter((id) => !id.startsWith("initiative:")), ...(workspaces ?? []).map((workspace) => workspace.id), ...(rules ?? []).map((rule) => rule.id)].map((id) => idKey(id))),
    rules: new Map((rules ?? []).map((rule) => [idKey(rule.id), rule])),
    // `initiative:<policySetDefinitionId>` in `existing` stands for an assignment of that initiative.
    sqlAssignments: [
      ...(rest.sqlAssignments ?? []),
      ...(existing ?? [])
        .filter((id) => id.startsWith("initiative:"))
        .map((id, index) => ({ id: `/subscriptions/${SUB}/providers/Microsoft.Authorization/policyAssignments/existing-${index}`, policyDefinitionId: id.slice("initiative:".length) })),
    ],
    roleGrants: rest.roleGrants ?? new Set(),
    workspaces: new Map((workspaces ?? []).map((workspace) => [idKey(workspace.id), workspace])),
  };
}

export function snapshot(machines: readonly MachineState[], options: { subscriptions?: readonly SubscriptionState[]; customWorkspace?: WorkspaceState; associatedRules?: readonly RuleState[] } = {}): Snapshot {
  const subscriptions = options.subscriptions ?? [subscription()];
  return {
    observedAt: "2026-11-25T00:00:00.000Z",
    subscriptions: new Map(subscriptions.map((entry) => [entry.subscriptionId, entry])),
    machines,
    ...(options.customWorkspace ? { customWorkspace: options.customWorkspace } : {}),
    associatedRules: new Map((options.associatedRules ?? []).map((rule) => [idKey(rule.id), rule])),
    unreadable: [],
  };
}

/** Settings as the service reads them, from environment-style overrides. */
export function settingsWith(env: Record<string, string> = {}): Settings {
  return loadSettings({ ARM_TOKEN: "test-token", REMEDIATION_SUBSCRIPTIONS: SUB, ...env });
}

/** evaluate + plan, as the engine runs them (a fixed clock keeps plans comparable). */
export function planOf(snap: Snapshot, settings: Settings): Plan {
  return buildPlan(snap, evaluate(snap, settings), settings, new Date("2026-11-25T00:00:00.000Z"));
}

/** A need in a few words, for table tests: `extension AzureMonitorWindowsAgent missing`. */
export function describeNeed(need: Need): string {
  const last = (id: string) => id.split("/").pop() as string;
  switch (need.kind) {
    case "systemIdentity":
      return "systemIdentity";
    case "userAssignedIdentity":
      return `userAssignedIdentity ${last(need.identityId)}`;
    case "extension":
      return `extension ${need.extension.name} ${need.why}`;
    case "association":
      return `association ${need.name} -> ${last(need.rule.ruleId)}`;
    case "workspace":
      return `workspace ${last(need.workspace.workspaceId)}`;
    case "removeExtension":
      return `removeExtension ${need.extension.name}`;
  }
}
