import { createHash, randomBytes, randomUUID } from "node:crypto";
import { ArmError } from "./armError.js";
import type { ArmPath } from "./armPath.js";
import type { EmulatorContext } from "./context.js";
import type { ArmResource, JsonObject } from "./store.js";

export type PowerState = "running" | "deallocated" | "stopped";

export interface WriteInput {
  ctx: EmulatorContext;
  parsed: ArmPath;
  existing?: ArmResource;
  /** The resource as it will be stored: request body merged over `existing`, id/name/type set. */
  resource: ArmResource;
}

/** What makes a resource type differ from plain ARM CRUD. */
export interface TypeBehaviour {
  /** How a PUT/PATCH completes: Azure-AsyncOperation, Location (202 then 200) or provisioningState in the body. */
  lro?: "async" | "location" | "body";
  /**
   * `durations` LRO model: how long a write of this type runs, in ARM seconds (min, max; drawn per operation,
   * seeded). Figures and sources: docs/azure-fidelity.md, Long-running operations.
   */
  durationSeconds?: readonly [number, number];
  /** The machine whose running operation blocks writes to it and to its extensions. */
  lockKey?: (parsed: ArmPath) => string;
  /** Counts against the Compute per-VM write bucket. */
  computeWrites?: boolean;
  /** ARM does not page some lists (VM extensions, Security pricings): `{ value }` only. */
  unpaged?: boolean;
  /** No `properties.provisioningState` on this type. */
  noProvisioningState?: boolean;
  /** Identity semantics of VMs/machines/policy assignments apply to `identity`. */
  managedIdentity?: boolean;
  validate?: (input: WriteInput) => void;
  /** Server-set fields on write. */
  complete?: (input: WriteInput) => ArmResource;
  /** Decided when the operation starts, reported when it ends (e.g. a disconnected Arc machine). */
  failure?: (input: WriteInput) => { code: string; message: string } | undefined;
  view?: (resource: ArmResource, query: URLSearchParams) => ArmResource;
  /** Returned on GET when nothing is stored (ARM answers some singletons with a default). */
  fallback?: (parsed: ArmPath) => ArmResource | undefined;
  /**
   * Optimistic concurrency: the resource carries an `etag` that changes whenever its model does, and a write
   * whose If-Match names another one is refused with 412 (VMs: the Compute REST specs' `etag` property and the
   * If-Match parameter of VirtualMachines_CreateOrUpdate and _Update).
   */
  etag?: boolean;
}

/**
 * A resource's etag: a digest of its model, so it changes with every write of it and with nothing else (the
 * provisioning state and the instance view are status, not model). Real etags are opaque; so is this one.
 */
export function etagOf(resource: ArmResource): string {
  const { provisioningState: _status, instanceView: _view, ...model } = props(resource);
  const { etag: _etag, ...rest } = resource;
  return `"${createHash("sha256").update(JSON.stringify({ ...rest, properties: model })).digest("hex").slice(0, 16)}"`;
}

export const VM_TYPE = "microsoft.compute/virtualmachines";
export const VM_EXTENSION_TYPE = "microsoft.compute/virtualmachines/extensions";
export const DCRA_TYPE = "microsoft.insights/datacollectionruleassociations";

const props = (r: ArmResource | undefined): JsonObject => (r?.properties as JsonObject | undefined) ?? {};

/** Stored power state lives in `properties.instanceView.statuses`, as a VM GET with $expand shows it. */
export function powerStateOf(vm: ArmResource): PowerState {
  const statuses = ((props(vm).instanceView as JsonObject | undefined)?.statuses ?? []) as JsonObject[];
  const code = statuses.map((s) => String(s.code ?? "")).find((c) => c.toLowerCase().startsWith("powerstate/"));
  return (code?.slice("PowerState/".length).toLowerCase() as PowerState | undefined) ?? "running";
}

export function withPowerState(vm: ArmResource, state: PowerState): ArmResource {
  const display = { running: "VM running", deallocated: "VM deallocated", stopped: "VM stopped" }[state];
  const instanceView = {
    ...((props(vm).instanceView as JsonObject | undefined) ?? {}),
    statuses: [
      { code: "ProvisioningState/succeeded", level: "Info", displayStatus: "Provisioning succeeded" },
      { code: `PowerState/${state}`, level: "Info", displayStatus: display },
    ],
  };
  return { ...vm, properties: { ...props(vm), instanceView } };
}

function withoutInstanceView(vm: ArmResource): ArmResource {
  const { instanceView: _omit, ...rest } = props(vm);
  return { ...vm, properties: rest };
}

function osTypeOf(vm: ArmResource | undefined): string {
  const osDisk = ((props(vm).storageProfile as JsonObject | undefined)?.osDisk as JsonObject | undefined) ?? {};
  return String(osDisk.osType ?? "Windows");
}

/** Rules shared by VM and Arc machine extensions: one operation at a time per machine. */
function machineLock(parsed: ArmPath): string {
  return parsed.container.toLowerCase();
}

/** An extension install or update runs the handler inside the machine: minutes, not seconds. */
const EXTENSION_SECONDS = [60, 240] as const;
/** Workspaces and solutions: a few seconds. */
const SHARED_RESOURCE_SECONDS = [2, 10] as const;

const vmExtension: TypeBehaviour = {
  lro: "async",
  durationSeconds: EXTENSION_SECONDS,
  lockKey: machineLock,
  computeWrites: true,
  unpaged: true,
  validate({ ctx, parsed, resource }) {
    const vm = ctx.store.get(parsed.container);
    if (vm && powerStateOf(vm) !== "running") {
      throw new ArmError(409, "OperationNotAllowed", "Cannot modify extensions in the VM when the VM is not running.");
    }
    const handler = handlerOf(resource);
    const clash = ctx.store
      .listByContainer(parsed.container, parsed.type)
      .find((e) => e.resource.name.toLowerCase() !== resource.name.toLowerCase() && handlerOf(e.resource) === handler);
    if (clash) {
      throw new ArmError(
        400,
        "OperationNotAllowed",
        `Multiple VMExtensions per handler not supported for OS type '${osTypeOf(vm)}'. VMExtension ` +
          `'${clash.resource.name}' with handler '${displayHandler(clash.resource)}' already added or specified in input.`,
      );
    }
  },
};

function handlerOf(ext: ArmResource): string {
  return displayHandler(ext).toLowerCase();
}

function displayHandler(ext: ArmResource): string {
  return `${String(props(ext).publisher ?? "")}.${String(props(ext).type ?? "")}`;
}

const arcExtension: TypeBehaviour = {
  lro: "async",
  durationSeconds: EXTENSION_SECONDS,
  lockKey: machineLock,
  failure({ ctx, parsed }) {
    const machine = ctx.store.get(parsed.container);
    if (String(props(machine).status ?? "").toLowerCase() !== "disconnected") return undefined;
    return {
      code: "MachineNotConnected",
      message: `The machine '${machine?.name}' is Disconnected; extension operations need a Connected machine.`,
    };
  },
};

const virtualMachine: TypeBehaviour = {
  lro: "async",
  etag: true,
  /** A VM update such as an identity PATCH (power actions take the same range here). */
  durationSeconds: [10, 40],
  lockKey: (parsed) => parsed.path.toLowerCase(),
  computeWrites: true,
  managedIdentity: true,
  complete({ existing, resource }) {
    const p = { ...props(resource) };
    p.timeCreated = props(existing).timeCreated ?? new Date().toISOString();
    p.vmId = props(existing).vmId ?? randomUUID();
    // Power state is not client-settable: keep what the VM had.
    if (existing) p.instanceView = props(existing).instanceView;
    else delete p.instanceView;
    return { ...resource, properties: p };
  },
  view(vm, query) {
    const withEtag = { ...vm, etag: etagOf(vm) };
    if ((query.get("$expand") ?? "").toLowerCase() !== "instanceview") return withoutInstanceView(withEtag);
    return withPowerState(withEtag, powerStateOf(vm));
  },
};

const dataCollectionRule: TypeBehaviour = {
  validate({ ctx, resource }) {
    const destinations = (props(resource).destinations as JsonObject | undefined) ?? {};
    for (const la of (destinations.logAnalytics as JsonObject[] | undefined) ?? []) {
      const workspaceId = String(la.workspaceResourceId ?? "");
      if (!ctx.store.has(workspaceId)) {
        throw new ArmError(400, "InvalidPayload", `Data collection rule is invalid: workspace '${workspaceId}' was not found.`);
      }
    }
  },
  complete({ existing, resource }) {
    const immutableId = props(existing).immutableId ?? `dcr-${randomBytes(16).toString("hex")}`;
    return { ...resource, properties: { ...props(resource), immutableId } };
  },
};

/** The rule must exist; we answer 400 InvalidPayload (as for a DCR naming a missing workspace). */
const dataCollectionRuleAssociation: TypeBehaviour = {
  validate({ ctx, resource }) {
    const ruleId = props(resource).dataCollectionRuleId;
    if (ruleId !== undefined && !ctx.store.has(String(ruleId))) {
      throw new ArmError(400, "InvalidPayload", `Data collection rule '${String(ruleId)}' was not found.`);
    }
  },
};

const workspace: TypeBehaviour = {
  lro: "body",
  durationSeconds: SHARED_RESOURCE_SECONDS,
  complete({ existing, resource }) {
    const customerId = props(existing).customerId ?? randomUUID();
    return { ...resource, properties: { ...props(resource), customerId } };
  },
};

const userAssignedIdentity: TypeBehaviour = {
  complete({ ctx, existing, resource }) {
    const p = props(existing);
    return {
      ...resource,
      properties: {
        ...props(resource),
        principalId: p.principalId ?? randomUUID(),
        clientId: p.clientId ?? randomUUID(),
        tenantId: p.tenantId ?? ctx.tenantId,
      },
    };
  },
};

const security: TypeBehaviour = { noProvisioningState: true };

const BEHAVIOURS: Record<string, TypeBehaviour> = {
  [VM_TYPE]: virtualMachine,
  [VM_EXTENSION_TYPE]: vmExtension,
  "microsoft.hybridcompute/machines": { managedIdentity: true },
  "microsoft.hybridcompute/machines/extensions": arcExtension,
  "microsoft.insights/datacollectionrules": dataCollectionRule,
  [DCRA_TYPE]: dataCollectionRuleAssociation,
  "microsoft.operationalinsights/workspaces": workspace,
  "microsoft.operationsmanagement/solutions": { lro: "location", durationSeconds: SHARED_RESOURCE_SECONDS },
  "microsoft.managedidentity/userassignedidentities": userAssignedIdentity,
  "microsoft.security/pricings": { ...security, unpaged: true },
  "microsoft.security/autoprovisioningsettings": {
    ...security,
    fallback: (parsed) =>
      parsed.name?.toLowerCase() === "default"
        ? { id: parsed.path, name: "default", type: "Microsoft.Security/autoProvisioningSettings", properties: { autoProvision: "Off" } }
        : undefined,
  },
  "microsoft.security/workspacesettings": security,
  "microsoft.authorization/policyassignments": { noProvisioningState: true, managedIdentity: true },
  "microsoft.authorization/roleassignments": { noProvisioningState: true },
  "microsoft.resources/subscriptions": { noProvisioningState: true, view: subscriptionView },
};

const PLAIN: TypeBehaviour = {};

/** Subscription facts may be stored flat (ARM's wire shape) or under `properties` (the estate generator). */
export function subscriptionFact(sub: ArmResource | undefined, key: "displayName" | "state" | "tenantId"): string | undefined {
  const value = sub?.[key] ?? props(sub)[key];
  return value === undefined ? undefined : String(value);
}

function subscriptionView(sub: ArmResource): ArmResource {
  const subscriptionId = sub.id.split("/")[2] as string;
  return {
    id: sub.id,
    name: sub.name,
    type: sub.type,
    subscriptionId,
    displayName: subscriptionFact(sub, "displayName") ?? subscriptionId,
    state: subscriptionFact(sub, "state") ?? "Enabled",
    tenantId: subscriptionFact(sub, "tenantId"),
    tags: sub.tags ?? {},
    authorizationSource: "RoleBased",
    subscriptionPolicies: { locationPlacementId: "Public_2014-09-01", quotaId: "PayAsYouGo_2014-09-01", spendingLimit: "Off" },
  };
}

export function behaviourOf(type: string): TypeBehaviour {
  return BEHAVIOURS[type.toLowerCase()] ?? PLAIN;
}
