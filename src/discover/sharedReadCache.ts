/**
 * The subscription-level reads an event's discovery repeats for every machine of a subscription: the
 * subscription itself, its Defender plans and legacy switch, resource groups, Defender's shared resources
 * and the SQL initiative's assignments. A stream of events in one subscription reads them once: they are
 * kept for a few minutes per process, and forgotten for the subscription as soon as the service writes
 * there or an event says they changed (a shared resource deleted, a plan switched, an opt-out tag moved).
 * The expiry bounds how long a change nobody reported can go unseen; the next full sweep reads everything.
 */
export const SHARED_READS_TTL_MS = 5 * 60_000;

export class SharedReadCache {
  private readonly entries = new Map<string, { readonly at: number; readonly value: Promise<unknown> }>();

  constructor(
    private readonly ttlMs = SHARED_READS_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The value read for `key` in the subscription within the expiry, else `load()`'s (shared by concurrent callers). */
  read<T>(subscriptionId: string, key: string, load: () => Promise<T>): Promise<T> {
    const entryKey = `${subscriptionId.toLowerCase()}|${key.toLowerCase()}`;
    const entry = this.entries.get(entryKey);
    if (entry && this.now() - entry.at < this.ttlMs) return entry.value as Promise<T>;
    const value = load();
    this.entries.set(entryKey, { at: this.now(), value });
    // A failed read is not an answer: the next caller reads again.
    value.catch(() => this.entries.get(entryKey)?.value === value && this.entries.delete(entryKey));
    return value;
  }

  /** Everything kept for the subscription (every subscription when none is named): the next read goes to ARM. */
  forget(subscriptionId?: string): void {
    const prefix = subscriptionId === undefined ? "" : `${subscriptionId.toLowerCase()}|`;
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}
