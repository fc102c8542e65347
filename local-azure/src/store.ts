import { lower, parseArmPath } from "./armPath.js";

/** A resource as ARM puts it on the wire; the emulator stores exactly this. */
export interface ArmResource {
  id: string;
  name: string;
  type: string;
  location?: string;
  tags?: Record<string, string>;
  identity?: JsonObject;
  properties?: JsonObject;
  [key: string]: unknown;
}

export type JsonObject = { [key: string]: unknown };

/** A stored resource with the facts the indexes and Resource Graph need, computed once on write. */
export interface StoredResource {
  resource: ArmResource;
  key: string;
  typeKey: string;
  containerKey: string;
  subscriptionId?: string;
  resourceGroup?: string;
}

/** A keyed set with a lazily built array, so repeated page reads do not copy the set each time. */
class Bucket {
  readonly entries = new Map<string, StoredResource>();
  private snapshot: StoredResource[] | undefined;

  set(entry: StoredResource): void {
    this.entries.set(entry.key, entry);
    this.snapshot = undefined;
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.snapshot = undefined;
  }

  list(): StoredResource[] {
    this.snapshot ??= [...this.entries.values()];
    return this.snapshot;
  }
}

const EMPTY: StoredResource[] = [];

/**
 * Resources keyed by lower-cased id, with indexes so that every list is a lookup rather than a scan:
 * by container + type (RG lists, child collections, extension resources) and by subscription + type
 * (subscription-wide lists, Resource Graph).
 */
export class ResourceStore {
  private readonly byId = new Map<string, StoredResource>();
  private readonly byContainerType = new Map<string, Bucket>();
  private readonly bySubscriptionType = new Map<string, Bucket>();
  private readonly typesBySubscription = new Map<string, Set<string>>();
  private readonly childrenOf = new Map<string, Set<string>>();
  /** Data collection rule id -> associations naming it, for `{dcrId}/associations` (listByRule). */
  private readonly associationsByRule = new Map<string, Bucket>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): ArmResource | undefined {
    return this.byId.get(lower(id))?.resource;
  }

  entry(id: string): StoredResource | undefined {
    return this.byId.get(lower(id));
  }

  has(id: string): boolean {
    return this.byId.has(lower(id));
  }

  /** Inserts or replaces; returns true when the resource is new. */
  put(resource: ArmResource): boolean {
    const parsed = parseArmPath(resource.id);
    const key = lower(parsed.path);
    const entry: StoredResource = {
      resource: { ...resource, id: parsed.path },
      key,
      typeKey: lower(parsed.type),
      containerKey: lower(parsed.container),
      subscriptionId: parsed.subscriptionId,
      resourceGroup: parsed.resourceGroup,
    };
    const previous = this.byId.get(key);
    const previousRule = previous?.resource.properties?.dataCollectionRuleId;
    if (typeof previousRule === "string") this.associationsByRule.get(lower(previousRule))?.delete(key);
    const isNew = previous === undefined;
    this.byId.set(key, entry);
    bucket(this.byContainerType, `${entry.containerKey}|${entry.typeKey}`).set(entry);
    if (entry.subscriptionId !== undefined) {
      const sub = lower(entry.subscriptionId);
      bucket(this.bySubscriptionType, `${sub}|${entry.typeKey}`).set(entry);
      setOf(this.typesBySubscription, sub).add(entry.typeKey);
    }
    setOf(this.childrenOf, entry.containerKey).add(key);
    const ruleId = entry.resource.properties?.dataCollectionRuleId;
    if (typeof ruleId === "string") bucket(this.associationsByRule, lower(ruleId)).set(entry);
    return isNew;
  }

  /**
   * Removes a resource and everything nested under it (ARM deletes children with their parent); `removed`
   * collects each entry taken out, for Resource Graph's change history.
   */
  remove(id: string, removed?: StoredResource[]): boolean {
    const entry = this.byId.get(lower(id));
    if (!entry) return false;
    removed?.push(entry);
    for (const child of [...(this.childrenOf.get(entry.key) ?? [])]) this.remove(child, removed);
    this.childrenOf.delete(entry.key);
    this.byId.delete(entry.key);
    this.byContainerType.get(`${entry.containerKey}|${entry.typeKey}`)?.delete(entry.key);
    if (entry.subscriptionId !== undefined) {
      this.bySubscriptionType.get(`${lower(entry.subscriptionId)}|${entry.typeKey}`)?.delete(entry.key);
    }
    this.childrenOf.get(entry.containerKey)?.delete(entry.key);
    const ruleId = entry.resource.properties?.dataCollectionRuleId;
    if (typeof ruleId === "string") this.associationsByRule.get(lower(ruleId))?.delete(entry.key);
    return true;
  }

  clear(): void {
    this.byId.clear();
    this.byContainerType.clear();
    this.bySubscriptionType.clear();
    this.typesBySubscription.clear();
    this.childrenOf.clear();
    this.associationsByRule.clear();
  }

  listAssociationsOf(ruleId: string): StoredResource[] {
    return this.associationsByRule.get(lower(ruleId))?.list() ?? EMPTY;
  }

  listByContainer(containerId: string, type: string): StoredResource[] {
    return this.byContainerType.get(`${lower(containerId)}|${lower(type)}`)?.list() ?? EMPTY;
  }

  listBySubscription(subscriptionId: string, type: string): StoredResource[] {
    return this.bySubscriptionType.get(`${lower(subscriptionId)}|${lower(type)}`)?.list() ?? EMPTY;
  }

  typesInSubscription(subscriptionId: string): Iterable<string> {
    return this.typesBySubscription.get(lower(subscriptionId)) ?? [];
  }

  all(): IterableIterator<StoredResource> {
    return this.byId.values();
  }
}

function bucket(map: Map<string, Bucket>, key: string): Bucket {
  let b = map.get(key);
  if (!b) map.set(key, (b = new Bucket()));
  return b;
}

function setOf(map: Map<string, Set<string>>, key: string): Set<string> {
  let s = map.get(key);
  if (!s) map.set(key, (s = new Set()));
  return s;
}
