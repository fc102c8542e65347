/**
 * One writer per subscription: work runs under the Table Storage leases of the subscriptions it
 * touches (src/state/checkpoints.ts). Taken, waited for and released here once for every kind of work.
 */
import { mapBounded } from "../concurrency.js";
import type { Lease } from "../state/checkpoints.js";
import { waitUntil } from "../state/concurrency.js";
import { retryAfter, type Outcome } from "./outcome.js";
import type { Service } from "./service.js";

/** Subscriptions a piece of work runs on are leased for this long (released when it ends). */
const SUBSCRIPTION_LEASE_MS = 30 * 60 * 1000;
/** Short overlaps (two flushes, a flush beside a sweep's end) are waited out in-process rather than costing a requeue. */
const LEASE_WAIT_MS = 30_000;
const LEASE_POLL_MS = 250;
/** Work whose subscriptions stayed busy comes back after this long. */
export const BUSY_RETRY_MS = 60_000;

/** Subscriptions still held by someone else: come back later, without counting it as a failed attempt. */
export function subscriptionsBusy(busy: readonly string[]): Outcome {
  return retryAfter(BUSY_RETRY_MS, `${busy.length} subscription(s) busy, e.g. /subscriptions/${busy[0]}`, false);
}

/**
 * Runs `work` with the leases of whichever of `subscriptionIds` could be taken (`held`; the rest are
 * `busy`) after waiting up to `waitInMs` for the rest, or answers `subscriptionsBusy` when none could.
 * The owner names the work, so a redelivery of it may retake its own leases and other work may not.
 */
export async function withSubscriptionLeases(
  service: Service,
  subscriptionIds: readonly string[],
  owner: string,
  work: (held: readonly string[], busy: readonly string[]) => Promise<Outcome>,
  options: { readonly waitInMs?: number } = {},
): Promise<Outcome> {
  const { checkpoints } = service.state;
  const leases = new Map<string, Lease>();
  try {
    await waitUntil(
      async () => {
        const wanted = subscriptionIds.filter((id) => !leases.has(id));
        const taken = await mapBounded(wanted, 16, (id) => checkpoints.acquire(id, SUBSCRIPTION_LEASE_MS, owner));
        taken.forEach((lease, index) => lease && leases.set(wanted[index] as string, lease));
        return leases.size === subscriptionIds.length;
      },
      { timeoutInMs: options.waitInMs ?? LEASE_WAIT_MS, intervalInMs: LEASE_POLL_MS },
    );
    const held = subscriptionIds.filter((id) => leases.has(id));
    const busy = subscriptionIds.filter((id) => !leases.has(id));
    return held.length === 0 ? subscriptionsBusy(busy) : await work(held, busy);
  } finally {
    await Promise.all([...leases.values()].map((lease) => checkpoints.release(lease)));
  }
}
