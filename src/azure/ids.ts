/**
 * Azure Resource Manager ids: parsing, normalising and classifying.
 * ARM ids are case-insensitive; every comparison in the service goes through `idKey`.
 */
import { InputError } from "../errors.js";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Characters ARM allows in a name segment (spaces appear in policy assignment names). */
const SEGMENT = /^[A-Za-z0-9 ._()-]+$/;

export type MachineKind = "virtualMachine" | "arcMachine" | "sqlVirtualMachine";

export interface ParsedResourceId {
  /** The id as given, trimmed of a trailing slash. */
  readonly id: string;
  readonly subscriptionId: string;
  readonly resourceGroup?: string;
  /** e.g. `Microsoft.Compute/virtualMachines/extensions`; `Microsoft.Resources/subscriptions` for a subscription. */
  readonly resourceType: string;
  /** Last name segment. */
  readonly name: string;
  /** Name segments after the provider namespace, in order (parent first). */
  readonly names: readonly string[];
  /** For an extension resource (`{parent}/providers/{ns}/{type}/{name}`), the id of the resource it extends. */
  readonly parentScope?: string;
}

const MACHINE_TYPES: Readonly<Record<string, MachineKind>> = {
  "microsoft.compute/virtualmachines": "virtualMachine",
  "microsoft.hybridcompute/machines": "arcMachine",
  "microsoft.sqlvirtualmachine/sqlvirtualmachines": "sqlVirtualMachine",
};

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

/** The canonical comparison key of an id. */
export function idKey(id: string): string {
  return id.replace(/\/+$/, "").toLowerCase();
}

export function sameId(a: string, b: string): boolean {
  return idKey(a) === idKey(b);
}

/**
 * Parses a subscription-rooted ARM id. Throws InputError for anything that is not one:
 * relative paths, `..` segments, empty segments, a non-GUID subscription, odd type/name pairs.
 */
export function parseResourceId(input: string): ParsedResourceId {
  if (typeof input !== "string" || input.length === 0 || input.length > 2048) {
    throw new InputError("resource id must be a non-empty string of at most 2048 characters");
  }
  const id = input.replace(/\/+$/, "");
  const segments = id.split("/");
  if (segments[0] !== "" || segments.length < 3) throw new InputError(`not an ARM resource id: ${describe(input)}`);
  const parts = segments.slice(1);
  for (const part of parts) {
    if (part === "" || part === "." || part === ".." || !SEGMENT.test(part)) {
      throw new InputError(`not an ARM resource id (bad segment): ${describe(input)}`);
    }
  }
  if (parts[0]?.toLowerCase() !== "subscriptions" || !isGuid(parts[1] ?? "")) {
    throw new InputError(`not a subscription-scoped ARM resource id: ${describe(input)}`);
  }
  const subscriptionId = (parts[1] as string).toLowerCase();
  let rest = parts.slice(2);
  let resourceGroup: string | undefined;
  if (rest.length === 0) {
    return { id, subscriptionId, resourceType: "Microsoft.Resources/subscriptions", name: subscriptionId, names: [subscriptionId] };
  }
  if (rest[0]?.toLowerCase() === "resourcegroups") {
    if (rest.length < 2) throw new InputError(`resource group name missing: ${describe(input)}`);
    resourceGroup = rest[1] as string;
    rest = rest.slice(2);
    if (rest.length === 0) {
      return { id, subscriptionId, resourceGroup, resourceType: "Microsoft.Resources/resourceGroups", name: resourceGroup, names: [resourceGroup] };
    }
  }
  // The last `providers` segment starts the resource's own type; anything before it is the scope it extends.
  const providerIndex = rest.map((p) => p.toLowerCase()).lastIndexOf("providers");
  if (providerIndex < 0) throw new InputError(`provider segment missing: ${describe(input)}`);
  const typed = rest.slice(providerIndex + 1);
  const namespace = typed[0];
  const pairs = typed.slice(1);
  if (!namespace || pairs.length === 0 || pairs.length % 2 !== 0) {
    throw new InputError(`type and name segments do not pair up: ${describe(input)}`);
  }
  const typeSegments: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    typeSegments.push(pairs[i] as string);
    names.push(pairs[i + 1] as string);
  }
  const scopeLength = segments.length - 1 - typed.length - 1; // segments before `/providers/`
  const parentScope = providerIndex > 0 ? segments.slice(0, scopeLength + 1).join("/") : undefined;
  return {
    id,
    subscriptionId,
    resourceGroup,
    resourceType: `${namespace}/${typeSegments.join("/")}`,
    name: names[names.length - 1] as string,
    names,
    ...(parentScope ? { parentScope } : {}),
  };
}

/** The machine kind of an id, or undefined when it is not a machine the service handles. */
export function machineKindOf(parsed: ParsedResourceId): MachineKind | undefined {
  // Machines live in a resource group: anything else with a machine type is not a real machine id.
  if (parsed.parentScope || !parsed.resourceGroup || parsed.names.length !== 1) return undefined;
  return MACHINE_TYPES[parsed.resourceType.toLowerCase()];
}

/**
 * The machine an id belongs to: the machine itself, or the machine a child (extension) or an
 * extension resource (a data collection rule association) hangs off. Undefined for anything else.
 */
export function owningMachineId(parsed: ParsedResourceId): string | undefined {
  if (parsed.parentScope) {
    const parent = tryParseResourceId(parsed.parentScope);
    return parent && machineKindOf(parent) ? parent.id : undefined;
  }
  const type = parsed.resourceType.toLowerCase();
  const nested = Object.keys(MACHINE_TYPES).find((machineType) => type.startsWith(`${machineType}/`));
  if (nested && parsed.names.length >= 2) {
    // The machine is the id with the child's type/name pairs cut off, if that is a machine id itself.
    const machine = tryParseResourceId(parsed.id.split("/").slice(0, -2 * (parsed.names.length - 1)).join("/"));
    return machine && machineKindOf(machine) ? machine.id : undefined;
  }
  return machineKindOf(parsed) ? parsed.id : undefined;
}

export function tryParseResourceId(input: string): ParsedResourceId | undefined {
  try {
    return parseResourceId(input);
  } catch {
    return undefined;
  }
}

export function resourceGroupId(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

/** Ids in error messages are cut short so a hostile input cannot flood logs. */
function describe(input: string): string {
  const text = JSON.stringify(input);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
