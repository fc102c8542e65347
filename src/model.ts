/**
 * The plain data that flows through the pipeline: discover produces it, evaluate and plan read it.
 * Nothing here talks to Azure; every field is what ARM reported (ids keep ARM's casing).
 */
import type { Os } from "./defender/agents.js";

export type MachineKind = "virtualMachine" | "arcMachine";

export interface ExtensionState {
  readonly id: string;
  readonly name: string;
  readonly publisher: string;
  readonly type: string;
  readonly provisioningState: string;
  readonly typeHandlerVersion?: string;
  readonly enableAutomaticUpgrade: boolean;
  /** Its own tags: a re-install (PUT) replaces them, so it sends them back. */
  readonly tags?: Readonly<Record<string, string>>;
}

export interface AssociationState {
  readonly id: string;
  readonly name: string;
  readonly ruleId?: string;
}

export interface MachineIdentity {
  readonly systemAssigned: boolean;
  readonly userAssignedIds: readonly string[];
}

export type PowerState = "running" | "stopped" | "deallocated" | "unknown";

export interface ImageReference {
  readonly publisher?: string;
  readonly offer?: string;
  readonly sku?: string;
  /** Gallery or managed images: an id instead of publisher/offer/sku. */
  readonly id?: string;
}

export interface SqlServerState {
  /** The Microsoft.SqlVirtualMachine resource (Azure VMs only). */
  readonly sqlVirtualMachineId?: string;
}

export interface MachineState {
  readonly id: string;
  readonly kind: MachineKind;
  readonly name: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly location: string;
  readonly os?: Os;
  /**
   * What ARM reports of the operating system, where it does: a VM's instance view (`osName` such as
   * "Windows Server 2022 Datacenter", `osVersion`), an Arc machine's `osName`, `osVersion` and `osSku`.
   */
  readonly osName?: string;
  readonly osVersion?: string;
  readonly osSku?: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly identity: MachineIdentity;
  /** Azure VMs read directly: the model's etag, which an identity PATCH sends as If-Match (ARM refuses it if the VM changed since). */
  readonly etag?: string;
  /** Azure VMs: power state. Arc machines: "running" when Connected. */
  readonly power: PowerState;
  /** Arc machines: `properties.status` (Connected, Disconnected, Expired, Error). */
  readonly agentStatus?: string;
  readonly allowExtensionOperations: boolean;
  readonly image?: ImageReference;
  readonly extensions: readonly ExtensionState[];
  readonly associations: readonly AssociationState[];
  /** Present when the machine runs SQL Server (a SQL VM resource, or an Arc machine with SQL discovered). */
  readonly sqlServer?: SqlServerState;
  readonly timeCreated?: string;
}

export interface PricingState {
  readonly tier: "Free" | "Standard";
  readonly subPlan?: string;
}

/** A data collection rule: where it sends data, and where each OS's security events flow. */
export interface RuleState {
  readonly id: string;
  /** Log Analytics workspaces (idKey) it sends to. */
  readonly workspaces: readonly string[];
  /**
   * Workspaces (idKey) the OS's security events reach through this rule: Windows Security-channel events
   * (Microsoft-SecurityEvent), Linux auth and authpriv syslog (Microsoft-Syslog).
   */
  readonly securityEventsTo: Readonly<Record<Os, readonly string[]>>;
}

export interface WorkspaceState {
  readonly id: string;
  readonly location: string;
  readonly customerId?: string;
}

/**
 * The opt-out tag's values on a machine, resource group or subscription: `skip` opts it out for good,
 * `skip-until=<YYYY-MM-DD>` through the end of that day (UTC). A value that starts with `skip-until` but
 * names no real date is treated as `skip` (and reported); any other value opts nothing out.
 */
export const OPT_OUT_VALUE = "skip";
const OPT_OUT_UNTIL = "skip-until";

/** What an opt-out tag's value means at one moment (the run's clock, never the wall clock in pure code). */
export type OptOut =
  | { readonly state: "none" }
  | { readonly state: "skip" }
  /** Opted out through the end of `until` (UTC). */
  | { readonly state: "until"; readonly until: string }
  /** Ended at the end of `until`: in scope again. */
  | { readonly state: "expired"; readonly until: string }
  /** `skip-until` without a real YYYY-MM-DD date: treated as skip. */
  | { readonly state: "unparseable"; readonly value: string };

/** The opt-out tag's value (trimmed) when `tags` carry it; tag names compare case-insensitively, as in ARM. */
export function optOutTagValue(tags: Readonly<Record<string, string>> | undefined, tag: string): string | undefined {
  const wanted = tag.toLowerCase();
  const found = Object.entries(tags ?? {}).find(([name]) => name.toLowerCase() === wanted);
  return found ? String(found[1]).trim() : undefined;
}

const UNTIL_VALUE = /^skip-until\s*=\s*(\d{4})-(\d{2})-(\d{2})$/i;
const DAY_MS = 24 * 60 * 60 * 1000;

/** What the tag's `value` means at `now` (ISO 8601); values compare case-insensitively. */
export function readOptOut(value: string | undefined, now: string): OptOut {
  const text = value?.trim() ?? "";
  if (text.toLowerCase() === OPT_OUT_VALUE) return { state: "skip" };
  if (!text.toLowerCase().startsWith(OPT_OUT_UNTIL)) return { state: "none" };
  const [, year, month, day] = UNTIL_VALUE.exec(text) ?? [];
  const start = Date.UTC(Number(year), Number(month) - 1, Number(day));
  const until = `${year}-${month}-${day}`;
  // Date.UTC rolls 2026-02-30 over into March: a date that does not come back as written is not a date.
  if (!year || Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== until) return { state: "unparseable", value: text };
  return Date.parse(now) < start + DAY_MS ? { state: "until", until } : { state: "expired", until };
}

/**
 * Whether the tag asks for an opt-out at all (`skip`, or any value starting `skip-until`), whatever the
 * date: readOptOut with the run's clock says whether it holds. Tag names compare case-insensitively.
 */
export function carriesOptOut(tags: Readonly<Record<string, string>> | undefined, tag: string): boolean {
  const value = optOutTagValue(tags, tag)?.toLowerCase();
  return value !== undefined && (value === OPT_OUT_VALUE || value.startsWith(OPT_OUT_UNTIL));
}

/** How role grants are looked up: `<principalId>|<role definition guid>`, lower-case. */
export function roleGrantKey(principalId: string, roleDefinitionId: string): string {
  return `${principalId}|${roleDefinitionId.split("/").pop() ?? ""}`.toLowerCase();
}

export interface PolicyAssignmentState {
  readonly id: string;
  readonly policyDefinitionId: string;
  readonly principalId?: string;
  /** Defender for SQL's initiatives: where their deployments create Built-In-Identity-RG, when the assignment says. */
  readonly builtInIdentityResourceGroupLocation?: string;
}

/**
 * What one subscription looks like around its machines: plans, the legacy switch, opt-outs and
 * the shared resources (resource groups, workspaces, solutions, rules, identities, assignments)
 * that exist. `existing` holds the idKey of every such resource found.
 */
export interface SubscriptionState {
  readonly subscriptionId: string;
  readonly displayName?: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Resource groups whose tags carry an opt-out (carriesOptOut), whatever its date: lower-case name -> the tag's value. */
  readonly optedOutResourceGroups: ReadonlyMap<string, string>;
  /** Where Built-In-Identity-RG is, when it exists (ARM never moves a group; the SQL initiative must agree). */
  readonly builtInIdentityGroupLocation?: string;
  /**
   * Resource groups (lower-case names) whose tags were read, when discovery read only some (targeted
   * runs); undefined when it knows every group's tags (sweeps). Writes elsewhere are refused.
   */
  readonly resourceGroupsRead?: ReadonlySet<string>;
  readonly serversPlan: PricingState;
  readonly sqlServersOnMachinesPlan: PricingState;
  /** Legacy MMA autoprovisioning (`autoProvisioningSettings/default`): read and reported, never turned on. */
  readonly legacyAutoProvisioning: "On" | "Off" | "unknown";
  readonly existing: ReadonlySet<string>;
  readonly workspaces: ReadonlyMap<string, WorkspaceState>;
  /** Assignments of Defender for SQL's built-in initiatives found at this subscription. */
  readonly sqlAssignments: readonly PolicyAssignmentState[];
  /** Role assignments held by those assignments' identities: `<principalId>|<role definition guid>`, lower-case. */
  readonly roleGrants: ReadonlySet<string>;
  /** Data collection rules found in this subscription, by idKey. */
  readonly rules: ReadonlyMap<string, RuleState>;
}

export interface Snapshot {
  readonly observedAt: string;
  readonly subscriptions: ReadonlyMap<string, SubscriptionState>;
  readonly machines: readonly MachineState[];
  /** The custom workspace when one is configured and readable (it may live outside the scope). */
  readonly customWorkspace?: WorkspaceState;
  /** Whether the configured DATA_COLLECTION_RULE_ID exists (undefined when none is configured). */
  readonly configuredRuleFound?: boolean;
  /** Rules the machines are associated with that no subscription's `rules` holds (another subscription's), by idKey. */
  readonly associatedRules: ReadonlyMap<string, RuleState>;
  /** Subscriptions or ids that could not be read, with the reason. */
  readonly unreadable: readonly { readonly id: string; readonly reason: string }[];
}
