/**
 * A seeded generator of Azure estates as plain ARM wire JSON (what a GET on Resource Manager returns),
 * for the emulator, the tests, the demo and the benchmark.
 *
 * Every machine gets exactly one {@link MachineState}: a baseline machine (running, supported image,
 * system-assigned identity, no agents) changed in the one way the state names, as the TRAITS table
 * below spells out. Tests find "the deallocated VM" through the returned metadata, never by name.
 *
 * Same options and seed → identical output. Each subscription draws from its own PRNG stream
 * (seed, subscription index), so the streaming form and the array form agree resource for resource.
 */
import { SQL_ASSIGNMENT_NAMES, SQL_ASSIGNMENT_ROLES, SQL_INITIATIVES } from "../../src/defender/names.js";
import type { ArmIdentity, ArmResource } from "./arm-resource.js";
import { managementGroupId, managementGroupSubscriptionId } from "./managementGroups.js";
import { mulberry32 } from "./random.js";

// ---------------------------------------------------------------------------------------------
// Vocabulary

export const MACHINE_STATES = [
  "converged",
  "system-identity",
  "no-identity",
  "user-identity-only",
  "system-and-user-identity",
  "ama-conventional",
  "ama-custom-name",
  "ama-failed",
  "mma-only",
  "mma-and-ama",
  "deallocated",
  "stopped",
  "extensions-disabled",
  "off-policy-image",
  "opt-out-machine",
  "opt-out-resource-group",
  "opt-out-subscription",
  "sql-vm-windows",
  "sql-vm-linux",
  "arc-windows-connected",
  "arc-linux-connected",
  "arc-windows-disconnected",
  "arc-linux-disconnected",
  "arc-sql",
  "already-associated",
  "other-association",
] as const;

export type MachineState = (typeof MACHINE_STATES)[number];
export type MachineKind = "vm" | "arc";
export type MachineOs = "windows" | "linux";
/** A machine's labels: its state, kind and OS, `sql` for SQL machines, `drifted` for drift in a converged estate. */
export type MachineLabel = MachineState | MachineKind | MachineOs | "sql" | "drifted";
/** Per-machine state weights. Subscription-level opt-out is `subscriptionOptOutRate`, not a machine weight. */
export type MachineMix = Partial<Record<Exclude<MachineState, "opt-out-subscription">, number>>;

export type ServersPlan = "Free" | "P1" | "P2";
export type SqlPlan = "Free" | "Standard";
export type AutoProvision = "On" | "Off";
/**
 * Defender's default workspace for one region code: absent, or present with its solutions
 * (`complete` = SecurityCenterFree, plus Security when the servers plan is P2).
 */
export type WorkspaceVariant = "absent" | "complete" | "missing-security-center-free" | "missing-security";

export interface OwnedRuleContext {
  subscriptionId: string;
  region: string;
  workspaceResourceId: string;
  workspaceCustomerId: string;
  immutableId: string;
}

export interface EstateOptions {
  seed?: number;
  /** Number of subscriptions. */
  subscriptions?: number;
  machinesPerSubscription?: number;
  regions?: readonly string[];
  tenantId?: string;
  /** Tag name whose value `skip` opts a machine, resource group or subscription out. */
  optOutTag?: string;
  /** State weights; replaces the default mix (states left out get weight 0). */
  mix?: MachineMix;
  /** Fraction of subscriptions tagged opt-out (every machine in them is `opt-out-subscription`). */
  subscriptionOptOutRate?: number;
  /**
   * The first machines take every state once (the last subscription is the opted-out one), the rest
   * follow the mix. Needs at least 2 subscriptions and enough machines in the others.
   */
  coverAllStates?: boolean;
  /** Every machine already compliant with the machines profile. */
  converged?: boolean;
  /** With `converged`: the fraction of machines (drawn per machine) put in a state that needs changes. */
  drift?: number;
  /** Id of the data collection rule the service owns for a region. */
  ruleIdFor?: (subscriptionId: string, region: string) => string;
  /** Properties of that rule as the service writes it. */
  ruleProperties?: (rule: OwnedRuleContext) => Record<string, unknown>;
  /** Name of the association the service writes on a converged machine. */
  associationName?: string;
  /**
   * Every subscription sits under tenant root group → {@link LANDING_ZONES_GROUP}, the management-group
   * hierarchy Enterprise-Scale landing zones build.
   */
  managementGroups?: boolean;
  /**
   * With `managementGroups`: the Defender for SQL initiative (default workspace) is assigned at
   * {@link LANDING_ZONES_GROUP}, with a system identity and its role assignments there, as landing zones
   * do, instead of per subscription. The subscriptions inherit it.
   */
  sqlInitiativeAtManagementGroup?: boolean;
}

export interface EstateMachine {
  id: string;
  name: string;
  kind: MachineKind;
  os: MachineOs;
  state: MachineState;
  labels: readonly MachineLabel[];
  subscriptionId: string;
  resourceGroup: string;
  region: string;
  /** The `Microsoft.SqlVirtualMachine/sqlVirtualMachines` id of a SQL VM. */
  sqlVirtualMachineId?: string;
}

export interface EstateSubscription {
  subscriptionId: string;
  id: string;
  displayName: string;
  optedOut: boolean;
  serversPlan: ServersPlan;
  sqlPlan: SqlPlan;
  autoProvision: AutoProvision;
  /** Defender's default workspace per region code; codes not listed have none. */
  workspaces: Readonly<Record<string, WorkspaceVariant>>;
}

export interface EstateSummary {
  subscriptions: number;
  optedOutSubscriptions: number;
  resourceGroups: number;
  machines: number;
  drifted: number;
  resources: number;
  byState: Record<MachineState, number>;
  byType: Record<string, number>;
}

export interface Estate {
  resources: ArmResource[];
  subscriptions: EstateSubscription[];
  machines: EstateMachine[];
  /** Machine id → labels (the same arrays as `machines[i].labels`). */
  labels: Map<string, readonly MachineLabel[]>;
  summary: EstateSummary;
}

// ---------------------------------------------------------------------------------------------
// Domain data

/**
 * Map A of docs/azure-domain.md (§4.1): Defender's default pipeline region codes. Several regions share
 * a code (japaneast/japanwest → EJP); westus3 is absent, so Defender never made a default workspace there.
 */
export const DEFENDER_REGION_CODES: Readonly<Record<string, string>> = {
  australiacentral: "CAU", australiaeast: "EAU", australiasoutheast: "SEAU", brazilsouth: "CQ",
  canadacentral: "CCA", canadaeast: "CCA", centralindia: "CIN", centralus: "CUS", eastasia: "EA",
  eastus: "EUS", eastus2: "EUS2", eastus2euap: "eus2p", francecentral: "PAR", germanywestcentral: "DEWC",
  japaneast: "EJP", japanwest: "EJP", jioindiawest: "CIN", koreacentral: "SE", koreasouth: "SE",
  northcentralus: "NCUS", northeurope: "NEU", norwayeast: "NOE", southafricanorth: "JNB",
  southcentralus: "SCUS", southeastasia: "SEA", southindia: "CIN", swedencentral: "SEC",
  switzerlandnorth: "CHN", switzerlandwest: "CHW", uaenorth: "DXB", uksouth: "SUK", ukwest: "WUK",
  westcentralus: "WCUS", westeurope: "WEU", westindia: "CIN", westus: "WUS", westus2: "WUS2",
};

export const DEFAULT_REGIONS: readonly string[] = ["eastus", "westeurope", "uksouth", "japaneast", "japanwest", "westus3"];
export const DEFAULT_OPT_OUT_TAG = "ama-remediation";
export const DEFAULT_ASSOCIATION_NAME = "ama-remediator";

/** The region code of the service's default resource group: map A, else the raw region name. */
export function regionCode(region: string): string {
  return DEFENDER_REGION_CODES[region.toLowerCase()] ?? region.toLowerCase();
}

export function defaultResourceGroupName(region: string): string {
  return `DefaultResourceGroup-${regionCode(region)}`;
}

export function defaultWorkspaceId(subscriptionId: string, region: string): string {
  const code = regionCode(region);
  return `/subscriptions/${subscriptionId}/resourceGroups/DefaultResourceGroup-${code}/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-${subscriptionId}-${code}`;
}

export function defaultRuleIdFor(subscriptionId: string, region: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${defaultResourceGroupName(region)}/providers/Microsoft.Insights/dataCollectionRules/ama-remediator-${region.toLowerCase()}-dcr`;
}

export const DEFAULT_MIX: Readonly<Required<MachineMix>> = {
  "converged": 4,
  "system-identity": 10,
  "no-identity": 14,
  "user-identity-only": 5,
  "system-and-user-identity": 4,
  "ama-conventional": 8,
  "ama-custom-name": 2,
  "ama-failed": 3,
  "mma-only": 10,
  "mma-and-ama": 5,
  "deallocated": 4,
  "stopped": 2,
  "extensions-disabled": 2,
  "off-policy-image": 3,
  "opt-out-machine": 2,
  "opt-out-resource-group": 2,
  "sql-vm-windows": 4,
  "sql-vm-linux": 2,
  "arc-windows-connected": 4,
  "arc-linux-connected": 3,
  "arc-windows-disconnected": 1,
  "arc-linux-disconnected": 1,
  "arc-sql": 2,
  "already-associated": 4,
  "other-association": 2,
};

/** States a drifted machine of a converged estate takes: each needs the service to write something. */
const DRIFT_STATES: readonly MachineState[] = [
  "no-identity", "user-identity-only", "system-and-user-identity", "system-identity", "ama-conventional",
  "ama-custom-name", "ama-failed", "mma-only", "mma-and-ama", "arc-windows-connected", "arc-linux-connected",
];

type Identity = "none" | "system" | "user" | "system-user";
type Association = "service-name" | "other-name" | "customer-rule";

/** How each state differs from the baseline machine. */
interface StateTraits {
  kind?: MachineKind;
  os?: MachineOs;
  identity?: Identity;
  ama?: { name: "conventional" | "ama-custom"; provisioningState: "Succeeded" | "Failed" };
  mma?: boolean;
  power?: "running" | "deallocated" | "stopped";
  extensionsAllowed?: boolean;
  offPolicyImage?: boolean;
  optOut?: "machine" | "resource-group" | "subscription";
  sqlVm?: boolean;
  arcStatus?: "Connected" | "Disconnected";
  mssqlDiscovered?: boolean;
  association?: Association;
}

const AMA_OK = { name: "conventional", provisioningState: "Succeeded" } as const;

const TRAITS: Readonly<Record<MachineState, StateTraits>> = {
  "converged": { ama: AMA_OK, association: "service-name" },
  "system-identity": {},
  "no-identity": { identity: "none" },
  "user-identity-only": { identity: "user" },
  "system-and-user-identity": { identity: "system-user" },
  "ama-conventional": { ama: AMA_OK },
  "ama-custom-name": { ama: { name: "ama-custom", provisioningState: "Succeeded" } },
  "ama-failed": { ama: { name: "conventional", provisioningState: "Failed" } },
  "mma-only": { mma: true },
  "mma-and-ama": { mma: true, ama: AMA_OK },
  "deallocated": { power: "deallocated" },
  "stopped": { power: "stopped" },
  "extensions-disabled": { extensionsAllowed: false },
  "off-policy-image": { offPolicyImage: true },
  "opt-out-machine": { optOut: "machine" },
  "opt-out-resource-group": { optOut: "resource-group" },
  "opt-out-subscription": { optOut: "subscription" },
  "sql-vm-windows": { kind: "vm", os: "windows", sqlVm: true },
  "sql-vm-linux": { kind: "vm", os: "linux", sqlVm: true },
  "arc-windows-connected": { kind: "arc", os: "windows", arcStatus: "Connected" },
  "arc-linux-connected": { kind: "arc", os: "linux", arcStatus: "Connected" },
  "arc-windows-disconnected": { kind: "arc", os: "windows", arcStatus: "Disconnected" },
  "arc-linux-disconnected": { kind: "arc", os: "linux", arcStatus: "Disconnected" },
  "arc-sql": { kind: "arc", os: "windows", arcStatus: "Connected", mssqlDiscovered: true },
  "already-associated": { ama: AMA_OK, association: "other-name" },
  "other-association": { ama: AMA_OK, association: "customer-rule" },
};

const AMA = {
  windows: { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorWindowsAgent", version: "1.22" },
  linux: { publisher: "Microsoft.Azure.Monitor", type: "AzureMonitorLinuxAgent", version: "1.33" },
} as const;
const MMA = {
  windows: { name: "MicrosoftMonitoringAgent", publisher: "Microsoft.EnterpriseCloud.Monitoring", type: "MicrosoftMonitoringAgent", version: "1.0" },
  linux: { name: "OMSAgentForLinux", publisher: "Microsoft.EnterpriseCloud.Monitoring", type: "OmsAgentForLinux", version: "1.13" },
} as const;
const SQL_IAAS = {
  windows: { name: "SqlIaasExtension", publisher: "Microsoft.SqlServer.Management", type: "SqlIaaSAgent", version: "2.0" },
  linux: { name: "SqlIaasExtension", publisher: "Microsoft.SqlServer.Management", type: "SqlIaaSAgentLinux", version: "1.0" },
} as const;

type Image = { publisher: string; offer: string; sku: string; version: string };
/** Marketplace images inside the AMA policies' supported lists (docs/azure-domain.md §5.2). */
const SUPPORTED_IMAGES: Readonly<Record<MachineOs, readonly Image[]>> = {
  windows: [
    { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2022-datacenter-azure-edition", version: "latest" },
    { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2019-datacenter-gensecond", version: "latest" },
    { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2025-datacenter-azure-edition", version: "latest" },
  ],
  linux: [
    { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", version: "latest" },
    { publisher: "RedHat", offer: "RHEL", sku: "9-lvm-gen2", version: "latest" },
    { publisher: "SUSE", offer: "sles-15-sp5", sku: "gen2", version: "latest" },
  ],
};
const SQL_IMAGE: Image = { publisher: "MicrosoftSQLServer", offer: "sql2022-ws2022", sku: "enterprise-gen2", version: "latest" };
/** A publisher no AMA policy lists (Linux); Windows machines use a custom gallery image instead. */
const UNLISTED_IMAGE: Image = { publisher: "kali-linux", offer: "kali", sku: "kali-2024-4", version: "latest" };

const POWER_STATUS = {
  running: { code: "PowerState/running", displayStatus: "VM running" },
  deallocated: { code: "PowerState/deallocated", displayStatus: "VM deallocated" },
  stopped: { code: "PowerState/stopped", displayStatus: "VM stopped" },
} as const;

// ---------------------------------------------------------------------------------------------
// Seeded randomness

type Rng = () => number;

/** An independent stream per (seed, index). */
function streamRng(seed: number, index: number): Rng {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return mulberry32((h ^ (h >>> 16)) >>> 0);
}

function hex8(rng: Rng): string {
  return Math.floor(rng() * 4294967296).toString(16).padStart(8, "0");
}

/** A version-4-shaped GUID drawn from the stream. */
function guid(rng: Rng): string {
  const a = hex8(rng);
  const b = hex8(rng);
  const c = hex8(rng);
  const d = hex8(rng);
  const variant = ((parseInt(c[0] as string, 16) & 3) | 8).toString(16);
  return `${a}-${b.slice(0, 4)}-4${b.slice(5)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

interface Weighted<T> {
  items: T[];
  cumulative: number[];
  total: number;
}

function weighted<T extends string>(weights: Partial<Record<T, number>>): Weighted<T> {
  const items: T[] = [];
  const cumulative: number[] = [];
  let total = 0;
  for (const [item, weight] of Object.entries(weights) as [T, number][]) {
    if (!(weight >= 0) || !Number.isFinite(weight)) throw new RangeError(`weight of ${item} must be a finite number >= 0`);
    if (weight === 0) continue;
    total += weight;
    items.push(item);
    cumulative.push(total);
  }
  if (total === 0) throw new RangeError("at least one weight must be positive");
  return { items, cumulative, total };
}

function draw<T>(rng: Rng, table: Weighted<T>): T {
  const x = rng() * table.total;
  const index = table.cumulative.findIndex((bound) => x < bound);
  return table.items[index < 0 ? table.items.length - 1 : index] as T;
}

// ---------------------------------------------------------------------------------------------
// Specs: what to build, before any JSON

interface MachineSpec {
  name: string;
  state: MachineState;
  kind: MachineKind;
  os: MachineOs;
  region: string;
  drifted?: boolean;
}

interface SubscriptionSpec {
  displayName: string;
  optedOut: boolean;
  serversPlan: ServersPlan;
  sqlPlan: SqlPlan;
  autoProvision: AutoProvision;
  /** Variant per region code; codes not listed are absent. */
  workspaces: Record<string, WorkspaceVariant>;
  machines: MachineSpec[];
}

interface ResolvedOptions {
  seed: number;
  subscriptions: number;
  machinesPerSubscription: number;
  regions: readonly string[];
  tenantId: string;
  optOutTag: string;
  mix: Weighted<MachineState>;
  subscriptionOptOutRate: number;
  coverAllStates: boolean;
  converged: boolean;
  drift: number;
  ruleIdFor: (subscriptionId: string, region: string) => string;
  ruleProperties: (rule: OwnedRuleContext) => Record<string, unknown>;
  associationName: string;
  managementGroups: boolean;
  sqlInitiativeAtManagementGroup: boolean;
}

/** Machine states drawn per machine; `opt-out-subscription` comes from the subscription instead. */
const COVERED_STATES: readonly MachineState[] = MACHINE_STATES.filter((state) => state !== "opt-out-subscription");

function resolve(options: EstateOptions): ResolvedOptions {
  const seed = options.seed ?? 1;
  const subscriptions = options.subscriptions ?? 3;
  const machinesPerSubscription = options.machinesPerSubscription ?? 20;
  const regions = options.regions ?? DEFAULT_REGIONS;
  const drift = options.drift ?? 0;
  const subscriptionOptOutRate = options.subscriptionOptOutRate ?? (options.converged ? 0 : 0.05);
  if (!Number.isInteger(seed)) throw new RangeError("seed must be an integer");
  if (!Number.isInteger(subscriptions) || subscriptions < 1) throw new RangeError("subscriptions must be an integer >= 1");
  if (!Number.isInteger(machinesPerSubscription) || machinesPerSubscription < 0) {
    throw new RangeError("machinesPerSubscription must be an integer >= 0");
  }
  if (regions.length === 0) throw new RangeError("regions must not be empty");
  if (!(drift >= 0 && drift <= 1)) throw new RangeError("drift must be within [0, 1]");
  if (drift > 0 && !options.converged) throw new RangeError("drift applies to converged estates only");
  if (!(subscriptionOptOutRate >= 0 && subscriptionOptOutRate <= 1)) throw new RangeError("subscriptionOptOutRate must be within [0, 1]");
  if (options.sqlInitiativeAtManagementGroup && !options.managementGroups) throw new RangeError("sqlInitiativeAtManagementGroup needs managementGroups");
  for (const state of Object.keys(options.mix ?? {})) {
    if (!COVERED_STATES.includes(state as MachineState)) throw new RangeError(`mix: unknown machine state ${state}`);
  }
  const coverAllStates = options.coverAllStates ?? false;
  if (coverAllStates) {
    const needed = MACHINE_STATES.length - 1;
    if (options.converged) throw new RangeError("coverAllStates and converged exclude each other");
    if (subscriptions < 2 || (subscriptions - 1) * machinesPerSubscription < needed || machinesPerSubscription < 1) {
      throw new RangeError(`coverAllStates needs >= 2 subscriptions, >= 1 machine in the last and >= ${needed} machines in the others`);
    }
  }
  return {
    seed,
    subscriptions,
    machinesPerSubscription,
    regions: regions.map((region) => region.toLowerCase()),
    tenantId: options.tenantId ?? guid(streamRng(seed, -1)),
    optOutTag: options.optOutTag ?? DEFAULT_OPT_OUT_TAG,
    mix: weighted<MachineState>(options.mix ?? DEFAULT_MIX),
    subscriptionOptOutRate,
    coverAllStates,
    converged: options.converged ?? false,
    drift,
    ruleIdFor: options.ruleIdFor ?? defaultRuleIdFor,
    ruleProperties: options.ruleProperties ?? defaultRuleProperties,
    associationName: options.associationName ?? DEFAULT_ASSOCIATION_NAME,
    managementGroups: options.managementGroups ?? false,
    sqlInitiativeAtManagementGroup: options.sqlInitiativeAtManagementGroup ?? false,
  };
}

function machineSpec(rng: Rng, state: MachineState, region: string, index: number, osHint?: MachineOs, kindHint?: MachineKind): MachineSpec {
  const traits = TRAITS[state];
  const kind = traits.kind ?? kindHint ?? "vm";
  const os = traits.os ?? osHint ?? (rng() < 0.6 ? "windows" : "linux");
  const prefix = kind === "arc" ? "arc" : traits.sqlVm ? "sqlvm" : "vm";
  return { name: `${prefix}-${os === "windows" ? "win" : "lin"}-${String(index).padStart(5, "0")}`, state, kind, os, region };
}

/** A random subscription: plan switches, workspace variants and machines. Consumes `rng` in a fixed order. */
function randomSubscriptionSpec(options: ResolvedOptions, index: number, rng: Rng): SubscriptionSpec {
  const { converged, machinesPerSubscription: perSubscription } = options;
  const optedOut = options.coverAllStates ? index === options.subscriptions - 1 : rng() < options.subscriptionOptOutRate;
  const serversPlan: ServersPlan = converged ? (rng() < 0.5 ? "P1" : "P2") : pick(rng, ["Free", "P1", "P2", "P2"] as const);
  const sqlPlan: SqlPlan = converged ? "Free" : rng() < 0.5 ? "Standard" : "Free";
  const autoProvision: AutoProvision = converged ? "Off" : rng() < 0.4 ? "On" : "Off";
  const machines: MachineSpec[] = [];
  for (let m = 0; m < perSubscription; m++) {
    const region = pick(rng, options.regions);
    const slot = index * perSubscription + m;
    let spec: MachineSpec;
    if (optedOut) {
      spec = machineSpec(rng, "opt-out-subscription", region, m);
    } else if (converged) {
      const drifted = options.drift > 0 && rng() < options.drift;
      const state = drifted ? pick(rng, DRIFT_STATES) : "converged";
      spec = machineSpec(rng, state, region, m, undefined, state === "converged" && rng() < 0.2 ? "arc" : "vm");
      if (drifted) spec.drifted = true;
    } else if (options.coverAllStates && slot < COVERED_STATES.length) {
      spec = machineSpec(rng, COVERED_STATES[slot] as MachineState, region, m, slot % 2 === 0 ? "windows" : "linux");
    } else {
      spec = machineSpec(rng, draw(rng, options.mix), region, m);
    }
    machines.push(spec);
  }
  const workspaces: Record<string, WorkspaceVariant> = {};
  for (const region of options.regions) {
    const code = DEFENDER_REGION_CODES[region];
    if (code === undefined || code in workspaces) continue;
    const variant = converged ? "complete" : pick(rng, ["absent", "complete", "complete", "missing-security-center-free", "missing-security"] as const);
    workspaces[code] = variant === "missing-security" && serversPlan !== "P2" ? "complete" : variant;
  }
  return { displayName: `Contoso ${String(index + 1).padStart(4, "0")}`, optedOut, serversPlan, sqlPlan, autoProvision, workspaces, machines };
}


// ---------------------------------------------------------------------------------------------
// JSON builders

const VM_SIZES = ["Standard_D2s_v5", "Standard_D4s_v5", "Standard_B2ms", "Standard_E4s_v5"] as const;
const EPOCH_2024_MS = Date.UTC(2024, 0, 1);
const DAY_MS = 86_400_000;

function timestamp(rng: Rng): string {
  return new Date(EPOCH_2024_MS + Math.floor(rng() * 600 * DAY_MS)).toISOString();
}

function skipTag(optOutTag: string): Record<string, string> {
  return { [optOutTag]: "skip" };
}

function resourceGroupOf(spec: MachineSpec): string {
  const traits = TRAITS[spec.state];
  if (traits.optOut === "resource-group") return `rg-optout-${spec.region}`;
  if (spec.kind === "arc") return `rg-arc-${spec.region}`;
  if (traits.sqlVm) return `rg-sql-${spec.region}`;
  return `rg-workload-${spec.region}`;
}

function defaultRuleProperties(rule: OwnedRuleContext): Record<string, unknown> {
  return {
    description: "Azure Monitor Agent baseline collection managed by ama-remediator",
    immutableId: rule.immutableId,
    provisioningState: "Succeeded",
    dataSources: {
      performanceCounters: [
        {
          name: "perfCounterDataSource60",
          streams: ["Microsoft-Perf"],
          samplingFrequencyInSeconds: 60,
          counterSpecifiers: ["\\Processor Information(_Total)\\% Processor Time", "\\Memory\\Available Bytes"],
        },
      ],
    },
    destinations: { logAnalytics: [{ name: "la-default", workspaceResourceId: rule.workspaceResourceId, workspaceId: rule.workspaceCustomerId }] },
    dataFlows: [{ streams: ["Microsoft-Perf"], destinations: ["la-default"] }],
  };
}

type ExtensionDef = { publisher: string; type: string; version: string };

function extension(
  machineId: string,
  machineType: string,
  location: string,
  name: string,
  def: ExtensionDef,
  provisioningState: string,
  enableAutomaticUpgrade: boolean,
  settings: Record<string, unknown>,
): ArmResource {
  return {
    id: `${machineId}/extensions/${name}`,
    name,
    type: `${machineType}/extensions`,
    location,
    properties: {
      publisher: def.publisher,
      type: def.type,
      typeHandlerVersion: def.version,
      autoUpgradeMinorVersion: true,
      enableAutomaticUpgrade,
      provisioningState,
      settings,
    },
  };
}

function association(machineId: string, name: string, dataCollectionRuleId: string): ArmResource {
  return {
    id: `${machineId}/providers/Microsoft.Insights/dataCollectionRuleAssociations/${name}`,
    name,
    type: "Microsoft.Insights/dataCollectionRuleAssociations",
    properties: { dataCollectionRuleId, provisioningState: "Succeeded" },
  };
}

function workspace(id: string, name: string, location: string, customerId: string, tags?: Record<string, string>): ArmResource {
  return {
    id,
    name,
    type: "Microsoft.OperationalInsights/workspaces",
    location,
    ...(tags ? { tags } : {}),
    properties: {
      customerId,
      provisioningState: "Succeeded",
      sku: { name: "PerGB2018" },
      retentionInDays: 30,
      publicNetworkAccessForIngestion: "Enabled",
      publicNetworkAccessForQuery: "Enabled",
    },
  };
}

function solution(gallery: string, workspaceId: string, workspaceName: string, location: string): ArmResource {
  const name = `${gallery}(${workspaceName})`;
  const resourceGroupId = workspaceId.slice(0, workspaceId.indexOf("/providers/"));
  return {
    id: `${resourceGroupId}/providers/Microsoft.OperationsManagement/solutions/${name}`,
    name,
    type: "Microsoft.OperationsManagement/solutions",
    location,
    plan: { name, publisher: "Microsoft", product: `OMSGallery/${gallery}`, promotionCode: "" },
    properties: { workspaceResourceId: workspaceId, provisioningState: "Succeeded" },
  };
}

function dataCollectionRule(id: string, location: string, properties: Record<string, unknown>): ArmResource {
  return { id, name: id.slice(id.lastIndexOf("/") + 1), type: "Microsoft.Insights/dataCollectionRules", location, properties };
}

/** The management group Enterprise-Scale landing zones put workload subscriptions under. */
export const LANDING_ZONES_GROUP = "mg-landingzones";
const ROOT_GROUP_DISPLAY_NAME = "Tenant Root Group";

/** A management group as Management Groups - Get returns it; the tenant root group is named after the tenant. */
function managementGroup(name: string, displayName: string, tenantId: string, parent?: { name: string; displayName: string }): ArmResource {
  return {
    id: managementGroupId(name),
    name,
    type: "Microsoft.Management/managementGroups",
    properties: {
      tenantId,
      displayName,
      details: parent ? { parent: { id: managementGroupId(parent.name), name: parent.name, displayName: parent.displayName } } : {},
    },
  };
}

/** A subscription's place in the hierarchy (Management Group Subscriptions - Get Subscription). */
function groupMembership(subscriptionId: string, displayName: string, tenantId: string): ArmResource {
  return {
    id: managementGroupSubscriptionId(LANDING_ZONES_GROUP, subscriptionId),
    name: subscriptionId,
    type: "Microsoft.Management/managementGroups/subscriptions",
    properties: { parent: { id: managementGroupId(LANDING_ZONES_GROUP) }, displayName, state: "Active", tenant: tenantId },
  };
}

/** Tenant-level resources: the hierarchy and, when asked, the SQL initiative assigned at the landing zones group. */
function tenantResources(options: ResolvedOptions): ArmResource[] {
  if (!options.managementGroups) return [];
  const { tenantId } = options;
  const resources = [
    managementGroup(tenantId, ROOT_GROUP_DISPLAY_NAME, tenantId),
    managementGroup(LANDING_ZONES_GROUP, "Landing Zones", tenantId, { name: tenantId, displayName: ROOT_GROUP_DISPLAY_NAME }),
  ];
  if (options.sqlInitiativeAtManagementGroup) resources.push(...groupSqlInitiative(options, streamRng(options.seed, -2)));
  return resources;
}

/** The Defender for SQL initiative assigned at the landing zones group, and the roles its identity holds there. */
function groupSqlInitiative(options: ResolvedOptions, rng: Rng): ArmResource[] {
  const scope = managementGroupId(LANDING_ZONES_GROUP);
  const name = SQL_ASSIGNMENT_NAMES.amaDefaultWorkspace;
  const principalId = guid(rng);
  const assignment: ArmResource = {
    id: `${scope}/providers/Microsoft.Authorization/policyAssignments/${name}`,
    name,
    type: "Microsoft.Authorization/policyAssignments",
    location: options.regions[0] as string,
    identity: { type: "SystemAssigned", principalId, tenantId: options.tenantId },
    properties: { displayName: name, policyDefinitionId: SQL_INITIATIVES.amaDefaultWorkspace, scope, enforcementMode: "Default", parameters: {} },
  };
  const roles = Object.values(SQL_ASSIGNMENT_ROLES).map((role): ArmResource => {
    const id = guid(rng);
    return {
      id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${id}`,
      name: id,
      type: "Microsoft.Authorization/roleAssignments",
      properties: { roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${role}`, principalId, principalType: "ServicePrincipal", scope },
    };
  });
  return [assignment, ...roles];
}

/** Everything one subscription contributes: its metadata, its machines and its resources (parents first). */
interface SubscriptionPart {
  subscription: EstateSubscription;
  machines: EstateMachine[];
  resources: ArmResource[];
}

function buildSubscription(options: ResolvedOptions, spec: SubscriptionSpec, rng: Rng): SubscriptionPart {
  const { tenantId, optOutTag } = options;
  const subscriptionId = guid(rng);
  const sub = `/subscriptions/${subscriptionId}`;
  const rgId = (name: string): string => `${sub}/resourceGroups/${name}`;
  const resources: ArmResource[] = [];
  const firstRegion = spec.machines[0]?.region ?? (options.regions[0] as string);

  // What the machines need around them.
  const groups = new Map<string, { location: string; tags?: Record<string, string> }>();
  const ownedRuleRegions: string[] = [];
  const customerRuleRegions: string[] = [];
  let needsIdentity = false;
  let needsMonitoring = false;
  for (const machine of spec.machines) {
    const traits = TRAITS[machine.state];
    const group = resourceGroupOf(machine);
    if (!groups.has(group)) {
      groups.set(group, traits.optOut === "resource-group" ? { location: machine.region, tags: skipTag(optOutTag) } : { location: machine.region });
    }
    const identity = traits.identity ?? "system";
    if (machine.kind === "vm" && (identity === "user" || identity === "system-user")) needsIdentity = true;
    if (traits.mma || traits.association === "customer-rule") needsMonitoring = true;
    if ((traits.association === "service-name" || traits.association === "other-name") && !ownedRuleRegions.includes(machine.region)) {
      ownedRuleRegions.push(machine.region);
    }
    if (traits.association === "customer-rule" && !customerRuleRegions.includes(machine.region)) customerRuleRegions.push(machine.region);
  }
  const workspaces: Record<string, WorkspaceVariant> = { ...spec.workspaces };
  for (const region of ownedRuleRegions) {
    const code = regionCode(region);
    if ((workspaces[code] ?? "absent") === "absent") workspaces[code] = "complete";
  }
  const workspaceLocation = (code: string): string =>
    options.regions.find((region) => regionCode(region) === code) ?? ownedRuleRegions.find((region) => regionCode(region) === code) ?? code;
  for (const [code, variant] of Object.entries(workspaces)) {
    if (variant !== "absent") groups.set(`DefaultResourceGroup-${code}`, { location: workspaceLocation(code) });
  }
  // A custom `ruleIdFor` may put the owned rules in a group of its own; create it like the service would.
  for (const region of ownedRuleRegions) {
    const group = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\//i.exec(options.ruleIdFor(subscriptionId, region));
    const name = group?.[2];
    if (name && group[1]?.toLowerCase() === subscriptionId && ![...groups.keys()].some((key) => key.toLowerCase() === name.toLowerCase())) {
      groups.set(name, { location: region });
    }
  }
  if (needsIdentity) groups.set("rg-identity", { location: firstRegion });
  if (needsMonitoring) groups.set("rg-monitoring", { location: firstRegion });

  // Subscription, resource groups, Defender switches.
  resources.push({
    id: sub,
    type: "Microsoft.Resources/subscriptions",
    name: subscriptionId,
    properties: { displayName: spec.displayName, state: "Enabled", tenantId },
    tags: spec.optedOut ? skipTag(optOutTag) : { costCenter: "it-ops" },
  });
  if (options.managementGroups) resources.push(groupMembership(subscriptionId, spec.displayName, tenantId));
  for (const [name, group] of groups) {
    resources.push({
      id: rgId(name),
      name,
      type: "Microsoft.Resources/resourceGroups",
      location: group.location,
      tags: group.tags ?? {},
      properties: { provisioningState: "Succeeded" },
    });
  }
  const serversPricing = spec.serversPlan === "Free" ? { pricingTier: "Free" } : { pricingTier: "Standard", subPlan: spec.serversPlan };
  for (const [name, properties] of [
    ["VirtualMachines", serversPricing],
    ["SqlServerVirtualMachines", { pricingTier: spec.sqlPlan }],
  ] as const) {
    resources.push({ id: `${sub}/providers/Microsoft.Security/pricings/${name}`, name, type: "Microsoft.Security/pricings", properties: { ...properties } });
  }
  resources.push({
    id: `${sub}/providers/Microsoft.Security/autoProvisioningSettings/default`,
    name: "default",
    type: "Microsoft.Security/autoProvisioningSettings",
    properties: { autoProvision: spec.autoProvision },
  });

  // Shared infrastructure: the workload identity, the customer's own monitoring, Defender's default workspaces.
  const uamiId = `${rgId("rg-identity")}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-workload`;
  const uami = { principalId: guid(rng), clientId: guid(rng) };
  if (needsIdentity) {
    resources.push({
      id: uamiId,
      name: "id-workload",
      type: "Microsoft.ManagedIdentity/userAssignedIdentities",
      location: firstRegion,
      properties: { tenantId, principalId: uami.principalId, clientId: uami.clientId },
    });
  }
  const customerWorkspaceId = `${rgId("rg-monitoring")}/providers/Microsoft.OperationalInsights/workspaces/law-contoso-ops`;
  const customerWorkspaceCustomerId = guid(rng);
  const customerRuleId = (region: string): string => `${rgId("rg-monitoring")}/providers/Microsoft.Insights/dataCollectionRules/dcr-ops-perf-${region}`;
  if (needsMonitoring) {
    resources.push(workspace(customerWorkspaceId, "law-contoso-ops", firstRegion, customerWorkspaceCustomerId));
    for (const region of customerRuleRegions) {
      resources.push(
        dataCollectionRule(customerRuleId(region), region, {
          description: "Operations team performance counters",
          immutableId: `dcr-${hex8(rng)}${hex8(rng)}${hex8(rng)}${hex8(rng)}`,
          provisioningState: "Succeeded",
          dataSources: {
            performanceCounters: [
              { name: "perf", streams: ["Microsoft-Perf"], samplingFrequencyInSeconds: 300, counterSpecifiers: ["\\Memory\\Available Bytes"] },
            ],
          },
          destinations: { logAnalytics: [{ name: "ops", workspaceResourceId: customerWorkspaceId, workspaceId: customerWorkspaceCustomerId }] },
          dataFlows: [{ streams: ["Microsoft-Perf"], destinations: ["ops"] }],
        }),
      );
    }
  }
  const defaultWorkspaceCustomerIds = new Map<string, string>();
  for (const [code, variant] of Object.entries(workspaces)) {
    if (variant === "absent") continue;
    const name = `DefaultWorkspace-${subscriptionId}-${code}`;
    const id = `${rgId(`DefaultResourceGroup-${code}`)}/providers/Microsoft.OperationalInsights/workspaces/${name}`;
    const location = workspaceLocation(code);
    const customerId = guid(rng);
    defaultWorkspaceCustomerIds.set(code, customerId);
    resources.push(workspace(id, name, location, customerId));
    if (variant !== "missing-security-center-free") resources.push(solution("SecurityCenterFree", id, name, location));
    if (spec.serversPlan === "P2" && variant !== "missing-security") resources.push(solution("Security", id, name, location));
  }
  for (const region of ownedRuleRegions) {
    const workspaceResourceId = defaultWorkspaceId(subscriptionId, region);
    const context: OwnedRuleContext = {
      subscriptionId,
      region,
      workspaceResourceId,
      workspaceCustomerId: defaultWorkspaceCustomerIds.get(regionCode(region)) as string,
      immutableId: `dcr-${hex8(rng)}${hex8(rng)}${hex8(rng)}${hex8(rng)}`,
    };
    resources.push(dataCollectionRule(options.ruleIdFor(subscriptionId, region), region, options.ruleProperties(context)));
  }

  // Machines and what hangs off them.
  const machines: EstateMachine[] = [];
  const context: MachineContext = {
    options,
    rng,
    subscriptionId,
    uamiId,
    uami,
    mmaWorkspaceId: customerWorkspaceCustomerId,
    customerRuleId,
  };
  for (const machine of spec.machines) {
    const group = resourceGroupOf(machine);
    const built = machine.kind === "arc" ? buildArcMachine(context, machine, rgId(group)) : buildVirtualMachine(context, machine, rgId(group));
    for (const resource of built.resources) resources.push(resource);
    const traits = TRAITS[machine.state];
    const labels: MachineLabel[] = [machine.state, machine.kind, machine.os];
    if (traits.sqlVm || traits.mssqlDiscovered) labels.push("sql");
    if (machine.drifted) labels.push("drifted");
    machines.push({
      id: built.id,
      name: machine.name,
      kind: machine.kind,
      os: machine.os,
      state: machine.state,
      labels,
      subscriptionId,
      resourceGroup: group,
      region: machine.region,
      ...(built.sqlVirtualMachineId ? { sqlVirtualMachineId: built.sqlVirtualMachineId } : {}),
    });
  }

  const subscription: EstateSubscription = {
    subscriptionId,
    id: sub,
    displayName: spec.displayName,
    optedOut: spec.optedOut,
    serversPlan: spec.serversPlan,
    sqlPlan: spec.sqlPlan,
    autoProvision: spec.autoProvision,
    workspaces,
  };
  return { subscription, machines, resources };
}

interface MachineContext {
  options: ResolvedOptions;
  rng: Rng;
  subscriptionId: string;
  uamiId: string;
  uami: { principalId: string; clientId: string };
  /** customerId of the workspace legacy agents report to. */
  mmaWorkspaceId: string;
  customerRuleId: (region: string) => string;
}

interface BuiltMachine {
  id: string;
  sqlVirtualMachineId?: string;
  resources: ArmResource[];
}

const ASSOCIATION_NAMES = ["ops-team-association", "legacy-dcr-link", "assoc-"] as const;

/** Agent extensions and associations a state puts on a machine (VM and Arc alike). */
function agentResources(context: MachineContext, spec: MachineSpec, machineId: string, machineType: string, resources: ArmResource[]): void {
  const { rng, options } = context;
  const traits = TRAITS[spec.state];
  if (traits.mma) {
    const mma = MMA[spec.os];
    resources.push(extension(machineId, machineType, spec.region, mma.name, mma, "Succeeded", false, { workspaceId: context.mmaWorkspaceId }));
  }
  if (traits.ama) {
    const ama = AMA[spec.os];
    const name = traits.ama.name === "conventional" ? ama.type : traits.ama.name;
    resources.push(extension(machineId, machineType, spec.region, name, ama, traits.ama.provisioningState, true, {}));
  }
  switch (traits.association) {
    case "service-name":
      resources.push(association(machineId, options.associationName, options.ruleIdFor(context.subscriptionId, spec.region)));
      break;
    case "other-name": {
      // ARM hands reference ids back in whatever case they were written; this one is lower-cased.
      let name: string = pick(rng, ASSOCIATION_NAMES);
      if (name === "assoc-") name += `${hex8(rng)}${hex8(rng)}`.slice(0, 13);
      resources.push(association(machineId, name, options.ruleIdFor(context.subscriptionId, spec.region).toLowerCase()));
      break;
    }
    case "customer-rule":
      resources.push(association(machineId, "dcr-ops-perf-association", context.customerRuleId(spec.region)));
      break;
    case undefined:
      break;
  }
}

function buildVirtualMachine(context: MachineContext, spec: MachineSpec, resourceGroupId: string): BuiltMachine {
  const { rng, options, subscriptionId } = context;
  const traits = TRAITS[spec.state];
  const windows = spec.os === "windows";
  const type = "Microsoft.Compute/virtualMachines";
  const id = `${resourceGroupId}/providers/${type}/${spec.name}`;
  const resources: ArmResource[] = [];

  let identity: ArmIdentity | undefined;
  const identityKind = traits.identity ?? "system";
  if (identityKind !== "none") {
    const system = identityKind === "system" || identityKind === "system-user";
    const user = identityKind === "user" || identityKind === "system-user";
    identity = {
      type: system && user ? "SystemAssigned, UserAssigned" : system ? "SystemAssigned" : "UserAssigned",
      ...(system ? { principalId: guid(rng), tenantId: options.tenantId } : {}),
      ...(user ? { userAssignedIdentities: { [context.uamiId]: { ...context.uami } } } : {}),
    };
  }

  let imageReference: Record<string, string>;
  let plan: ArmResource["plan"];
  if (traits.offPolicyImage && windows) {
    imageReference = {
      id: `/subscriptions/${subscriptionId}/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/gal_contoso/images/win2022-hardened/versions/1.4.0`,
    };
  } else if (traits.offPolicyImage) {
    imageReference = { ...UNLISTED_IMAGE };
    plan = { name: UNLISTED_IMAGE.sku, publisher: UNLISTED_IMAGE.publisher, product: UNLISTED_IMAGE.offer };
  } else if (traits.sqlVm && windows) {
    imageReference = { ...SQL_IMAGE };
  } else {
    imageReference = { ...pick(rng, SUPPORTED_IMAGES[spec.os]) };
  }

  const timeCreated = timestamp(rng);
  const power = POWER_STATUS[traits.power ?? "running"];
  const tags: Record<string, string> = traits.optOut === "machine" ? { environment: "production", ...skipTag(options.optOutTag) } : { environment: "production" };
  resources.push({
    id,
    name: spec.name,
    type,
    location: spec.region,
    tags,
    ...(identity ? { identity } : {}),
    ...(plan ? { plan } : {}),
    properties: {
      vmId: guid(rng),
      hardwareProfile: { vmSize: pick(rng, VM_SIZES) },
      storageProfile: {
        imageReference,
        osDisk: {
          osType: windows ? "Windows" : "Linux",
          name: `${spec.name}_OsDisk_1_${hex8(rng)}${hex8(rng)}`,
          createOption: "FromImage",
          caching: "ReadWrite",
          managedDisk: { storageAccountType: "Premium_LRS" },
          deleteOption: "Delete",
          diskSizeGB: windows ? 127 : 30,
        },
        dataDisks: [],
      },
      osProfile: {
        computerName: spec.name,
        adminUsername: "azureuser",
        ...(windows
          ? { windowsConfiguration: { provisionVMAgent: true, enableAutomaticUpdates: true } }
          : { linuxConfiguration: { disablePasswordAuthentication: true, provisionVMAgent: true } }),
        secrets: [],
        allowExtensionOperations: traits.extensionsAllowed ?? true,
        requireGuestProvisionSignal: true,
      },
      provisioningState: "Succeeded",
      timeCreated,
      instanceView: {
        statuses: [
          { code: "ProvisioningState/succeeded", level: "Info", displayStatus: "Provisioning succeeded", time: timeCreated },
          { code: power.code, level: "Info", displayStatus: power.displayStatus },
        ],
      },
    },
  });

  agentResources(context, spec, id, type, resources);

  let sqlVirtualMachineId: string | undefined;
  if (traits.sqlVm) {
    const iaas = SQL_IAAS[spec.os];
    resources.push(extension(id, type, spec.region, iaas.name, iaas, "Succeeded", false, { SqlManagement: { IsEnabled: true } }));
    sqlVirtualMachineId = `${resourceGroupId}/providers/Microsoft.SqlVirtualMachine/sqlVirtualMachines/${spec.name}`;
    resources.push({
      id: sqlVirtualMachineId,
      name: spec.name,
      type: "Microsoft.SqlVirtualMachine/sqlVirtualMachines",
      location: spec.region,
      properties: {
        virtualMachineResourceId: id,
        provisioningState: "Succeeded",
        sqlImageOffer: windows ? "SQL2022-WS2022" : "SQL2022-UBUNTU2204",
        sqlImageSku: windows ? "Enterprise" : "Developer",
        sqlServerLicenseType: rng() < 0.5 ? "PAYG" : "AHUB",
        sqlManagement: windows ? "Full" : "LightWeight",
        osType: windows ? "Windows" : "Linux",
      },
    });
  }
  return { id, resources, ...(sqlVirtualMachineId ? { sqlVirtualMachineId } : {}) };
}

function buildArcMachine(context: MachineContext, spec: MachineSpec, resourceGroupId: string): BuiltMachine {
  const { rng, options } = context;
  const traits = TRAITS[spec.state];
  const windows = spec.os === "windows";
  const type = "Microsoft.HybridCompute/machines";
  const id = `${resourceGroupId}/providers/${type}/${spec.name}`;
  const mssql = traits.mssqlDiscovered ? "true" : "false";
  const resources: ArmResource[] = [
    {
      id,
      name: spec.name,
      type,
      location: spec.region,
      tags: { environment: "on-premises" },
      identity: { type: "SystemAssigned", principalId: guid(rng), tenantId: options.tenantId },
      properties: {
        provisioningState: "Succeeded",
        status: traits.arcStatus ?? "Connected",
        lastStatusChange: timestamp(rng),
        agentVersion: "1.48.02881.1941",
        osName: spec.os,
        osType: spec.os,
        osVersion: windows ? "10.0.20348.2849" : "5.15.0-126-generic",
        osSku: windows ? "Windows Server 2022 Datacenter" : "Ubuntu 22.04.5 LTS",
        machineFqdn: `${spec.name}.corp.contoso.com`,
        displayName: spec.name,
        vmId: guid(rng),
        mssqlDiscovered: mssql,
        detectedProperties: { mssqldiscovered: mssql, cloudprovider: "N/A", manufacturer: "VMware, Inc.", model: "VMware7,1" },
      },
    },
  ];
  agentResources(context, spec, id, type, resources);
  if (traits.mssqlDiscovered) {
    const sql = { publisher: "Microsoft.AzureData", type: "WindowsAgent.SqlServer", version: "1.1.2859.223" };
    resources.push(extension(id, type, spec.region, "WindowsAgent.SqlServer", sql, "Succeeded", true, { SqlManagement: { IsEnabled: true } }));
  }
  return { id, resources };
}

// ---------------------------------------------------------------------------------------------
// Public API

function emptyByState(): Record<MachineState, number> {
  return Object.fromEntries(MACHINE_STATES.map((state) => [state, 0])) as Record<MachineState, number>;
}

class SummaryBuilder {
  readonly summary: EstateSummary = {
    subscriptions: 0,
    optedOutSubscriptions: 0,
    resourceGroups: 0,
    machines: 0,
    drifted: 0,
    resources: 0,
    byState: emptyByState(),
    byType: {},
  };

  add(part: SubscriptionPart): void {
    const summary = this.summary;
    summary.subscriptions += 1;
    if (part.subscription.optedOut) summary.optedOutSubscriptions += 1;
    summary.machines += part.machines.length;
    for (const machine of part.machines) {
      summary.byState[machine.state] += 1;
      if (machine.labels.includes("drifted")) summary.drifted += 1;
    }
    this.addResources(part.resources);
  }

  addResources(resources: readonly ArmResource[]): void {
    const summary = this.summary;
    summary.resources += resources.length;
    for (const resource of resources) {
      summary.byType[resource.type] = (summary.byType[resource.type] ?? 0) + 1;
    }
    summary.resourceGroups = summary.byType["Microsoft.Resources/resourceGroups"] ?? 0;
  }
}

function* randomParts(options: ResolvedOptions): Generator<SubscriptionPart> {
  for (let index = 0; index < options.subscriptions; index++) {
    const rng = streamRng(options.seed, index);
    yield buildSubscription(options, randomSubscriptionSpec(options, index, rng), rng);
  }
}

function collect(tenant: ArmResource[], parts: Iterable<SubscriptionPart>): Estate {
  const summary = new SummaryBuilder();
  summary.addResources(tenant);
  const resources: ArmResource[] = [...tenant];
  const subscriptions: EstateSubscription[] = [];
  const machines: EstateMachine[] = [];
  const labels = new Map<string, readonly MachineLabel[]>();
  for (const part of parts) {
    summary.add(part);
    subscriptions.push(part.subscription);
    for (const resource of part.resources) resources.push(resource);
    for (const machine of part.machines) {
      machines.push(machine);
      labels.set(machine.id, machine.labels);
    }
  }
  return { resources, subscriptions, machines, labels, summary: summary.summary };
}

/** A seeded estate, all in memory. 100,000 machines take a couple of seconds. */
export function generateEstate(options: EstateOptions = {}): Estate {
  const resolved = resolve(options);
  return collect(tenantResources(resolved), randomParts(resolved));
}

/**
 * The same resources as {@link generateEstate}, in the same order, one at a time: the management groups
 * (when asked for), then a subscription and its resource groups, Defender settings and workspaces, then
 * each machine followed by its extensions, associations and SQL VM. Returns the summary when done.
 */
export function* generateResources(options: EstateOptions = {}): Generator<ArmResource, EstateSummary> {
  const resolved = resolve(options);
  const tenant = tenantResources(resolved);
  const summary = new SummaryBuilder();
  summary.addResources(tenant);
  yield* tenant;
  for (const part of randomParts(resolved)) {
    summary.add(part);
    yield* part.resources;
  }
  return summary.summary;
}

/** Every machine compliant with the machines profile; `drift` puts that fraction in states that need changes. */
export function convergedEstate(options: Omit<EstateOptions, "converged" | "mix" | "coverAllStates"> = {}): Estate {
  return generateEstate({ ...options, converged: true });
}

/** A small estate in which every state appears (in the first machines), the rest drawn from the default mix. */
export function testEstate(
  seed = 1,
  options: Pick<EstateOptions, "optOutTag" | "ruleIdFor" | "ruleProperties" | "associationName" | "tenantId" | "managementGroups" | "sqlInitiativeAtManagementGroup"> = {},
): Estate {
  return generateEstate({ ...options, seed, subscriptions: 3, machinesPerSubscription: 16, coverAllStates: true });
}

function demoMachine(name: string, state: MachineState, region: string, os?: MachineOs): MachineSpec {
  const traits = TRAITS[state];
  return { name, state, kind: traits.kind ?? "vm", os: traits.os ?? os ?? (name.includes("-lin-") ? "linux" : "windows"), region };
}

const DEMO_SUBSCRIPTIONS: readonly SubscriptionSpec[] = [
  {
    displayName: "Contoso Production",
    optedOut: false,
    serversPlan: "P2",
    sqlPlan: "Standard",
    autoProvision: "On",
    workspaces: { EUS: "complete", WEU: "missing-security", EJP: "missing-security-center-free" },
    machines: [
      demoMachine("vm-win-converged", "converged", "eastus"),
      demoMachine("vm-win-systemidentity", "system-identity", "eastus"),
      demoMachine("vm-win-noidentity", "no-identity", "eastus"),
      demoMachine("vm-lin-noidentity", "no-identity", "westeurope"),
      demoMachine("vm-win-useridentity", "user-identity-only", "westeurope"),
      demoMachine("vm-lin-systemuseridentity", "system-and-user-identity", "eastus"),
      demoMachine("vm-win-ama", "ama-conventional", "eastus"),
      demoMachine("vm-lin-ama", "ama-conventional", "westeurope"),
      demoMachine("vm-lin-ama-customname", "ama-custom-name", "eastus"),
      demoMachine("vm-win-ama-failed", "ama-failed", "westeurope"),
      demoMachine("vm-win-mma", "mma-only", "eastus"),
      demoMachine("vm-lin-oms", "mma-only", "westeurope"),
      demoMachine("vm-win-mma-ama", "mma-and-ama", "eastus"),
      demoMachine("vm-win-deallocated", "deallocated", "eastus"),
      demoMachine("vm-lin-stopped", "stopped", "westeurope"),
      demoMachine("vm-win-noextensions", "extensions-disabled", "eastus"),
      demoMachine("vm-win-gallery-image", "off-policy-image", "westeurope"),
      demoMachine("vm-lin-unlisted-image", "off-policy-image", "eastus"),
      demoMachine("vm-win-optout", "opt-out-machine", "eastus"),
      demoMachine("vm-lin-optout-rg", "opt-out-resource-group", "westeurope"),
      demoMachine("vm-win-associated", "already-associated", "japaneast"),
      demoMachine("vm-lin-otherassociation", "other-association", "japanwest"),
      demoMachine("vm-lin-westus3", "system-identity", "westus3"),
    ],
  },
  {
    displayName: "Contoso Data",
    optedOut: false,
    serversPlan: "P1",
    sqlPlan: "Standard",
    autoProvision: "Off",
    workspaces: { WEU: "complete" },
    machines: [
      demoMachine("sqlvm-win", "sql-vm-windows", "uksouth"),
      demoMachine("sqlvm-lin", "sql-vm-linux", "uksouth"),
      demoMachine("arc-win-sql", "arc-sql", "uksouth"),
      demoMachine("arc-win-connected", "arc-windows-connected", "westeurope"),
      demoMachine("arc-lin-connected", "arc-linux-connected", "westeurope"),
      demoMachine("arc-win-disconnected", "arc-windows-disconnected", "uksouth"),
      demoMachine("arc-lin-disconnected", "arc-linux-disconnected", "uksouth"),
    ],
  },
  {
    displayName: "Contoso Sandbox",
    optedOut: true,
    serversPlan: "Free",
    sqlPlan: "Free",
    autoProvision: "On",
    workspaces: {},
    machines: [demoMachine("vm-win-sandbox", "opt-out-subscription", "eastus")],
  },
];

/** Three subscriptions, one readable machine per state (two for a few), e.g. `vm-win-noidentity`. */
export function demoEstate(options: Pick<EstateOptions, "seed" | "tenantId" | "optOutTag" | "ruleIdFor" | "ruleProperties" | "associationName"> = {}): Estate {
  const resolved = resolve({ ...options, seed: options.seed ?? 20_240_101, regions: DEFAULT_REGIONS, subscriptions: DEMO_SUBSCRIPTIONS.length });
  return collect(tenantResources(resolved), DEMO_SUBSCRIPTIONS.map((spec, index) => buildSubscription(resolved, spec, streamRng(resolved.seed, index))));
}

/** The machines carrying a label. */
export function machinesWith(estate: Pick<Estate, "machines">, label: MachineLabel): EstateMachine[] {
  return estate.machines.filter((machine) => machine.labels.includes(label));
}

/** The first machine carrying every given label; throws when there is none. */
export function machineWith(estate: Pick<Estate, "machines">, ...labels: MachineLabel[]): EstateMachine {
  const machine = estate.machines.find((candidate) => labels.every((label) => candidate.labels.includes(label)));
  if (!machine) throw new Error(`no machine labelled ${labels.join(" + ")}`);
  return machine;
}
