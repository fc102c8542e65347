import { ArmError } from "./armError.js";

/** What an ARM URL path names: one resource, or a collection of one resource type under a container. */
export interface ArmPath {
  /** The normalised id (resource) or collection path: one leading slash, no duplicates, URL-decoded. */
  path: string;
  subscriptionId?: string;
  resourceGroup?: string;
  /** The resource type, e.g. `Microsoft.Compute/virtualMachines/extensions` (casing as in the URL). */
  type: string;
  /** Undefined when the path names a collection. */
  name?: string;
  /** The id of the scope holding the resource or collection ("" for the tenant). */
  container: string;
}

export const SUBSCRIPTION_TYPE = "Microsoft.Resources/subscriptions";
export const RESOURCE_GROUP_TYPE = "Microsoft.Resources/resourceGroups";

/** Collapses duplicate slashes (arm-policy and arm-monitor can send `//subscriptions/...`) and decodes names. */
export function normalisePath(rawPath: string): string[] {
  return rawPath
    .split("/")
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new ArmError(400, "InvalidRequestUri", `The request URI segment '${s}' is not valid.`);
      }
    });
}

export function parseArmPath(rawPath: string): ArmPath {
  const segs = normalisePath(rawPath);
  // Keywords get ARM's canonical casing, so ids read back the same whatever casing the client sent.
  if (eq(segs[0], "subscriptions")) segs[0] = "subscriptions";
  if (eq(segs[0], "subscriptions") && eq(segs[2], "resourcegroups")) segs[2] = "resourceGroups";
  segs.forEach((s, i) => {
    if (eq(s, "providers") && (i === 0 || i % 2 === 0)) segs[i] = "providers";
  });
  const path = "/" + segs.join("/");
  const idOf = (end: number): string => "/" + segs.slice(0, end).join("/");
  const invalid = (): ArmError =>
    new ArmError(400, "InvalidRequestUri", `The request URI '${path}' is not a valid resource path.`);

  if (segs.length === 0 || !eq(segs[0], "subscriptions")) {
    if (segs.length >= 2 && eq(segs[0], "providers")) return parseProviders(segs, 0, "", {});
    throw invalid();
  }
  if (segs.length === 1) return { path, type: SUBSCRIPTION_TYPE, container: "" };
  const subscriptionId = segs[1];
  if (segs.length === 2) return { path, subscriptionId, type: SUBSCRIPTION_TYPE, name: subscriptionId, container: "" };
  const subId = idOf(2);
  if (eq(segs[2], "resourcegroups")) {
    if (segs.length === 3) return { path, subscriptionId, type: RESOURCE_GROUP_TYPE, container: subId };
    const resourceGroup = segs[3];
    if (segs.length === 4) {
      return { path, subscriptionId, resourceGroup, type: RESOURCE_GROUP_TYPE, name: resourceGroup, container: subId };
    }
    return parseProviders(segs, 4, idOf(4), { subscriptionId, resourceGroup });
  }
  return parseProviders(segs, 2, subId, { subscriptionId });

  /** Walks `providers/{ns}/{type}/{name}[/{type}/{name}...]`, repeated for extension resources. */
  function parseProviders(
    s: string[],
    start: number,
    scope: string,
    where: { subscriptionId?: string; resourceGroup?: string },
  ): ArmPath {
    let i = start;
    let current = scope;
    let namespace = "";
    let typeParts: string[] = [];
    for (;;) {
      if (i >= s.length) throw invalid();
      if (eq(s[i], "providers")) {
        if (i + 1 >= s.length) throw invalid();
        namespace = s[i + 1] as string;
        typeParts = [];
        i += 2;
        if (i >= s.length) throw invalid();
        continue;
      }
      if (!namespace) throw invalid();
      typeParts.push(s[i] as string);
      const type = `${namespace}/${typeParts.join("/")}`;
      if (i + 1 >= s.length) return { path, ...where, type, container: current };
      if (i + 2 >= s.length) return { path, ...where, type, name: s[i + 1], container: current };
      current = idOf(i + 2);
      i += 2;
    }
  }
}

/** The store key of an id: ARM ids are case-insensitive. */
export function lower(id: string): string {
  return id.toLowerCase();
}

function eq(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b;
}
