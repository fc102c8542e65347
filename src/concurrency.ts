/** Bounded concurrency, the one primitive the service needs: ARM quotas make unbounded fan-out a bug. */

/** Direct ARM reads in flight at once: enough to hide latency, few enough to leave the read bucket to others. */
export const ARM_READ_CONCURRENCY = 8;

/**
 * A counting semaphore: at most `limit` callers inside `use` at once. Waiting callers go in by `priority`
 * (lower first), then in arrival order.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: { readonly priority: number; readonly resolve: () => void }[] = [];

  constructor(private readonly limit: number) {}

  async use<T>(task: () => Promise<T>, priority = 0): Promise<T> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve) => {
        const at = this.waiting.findIndex((waiter) => waiter.priority > priority);
        this.waiting.splice(at === -1 ? this.waiting.length : at, 0, { priority, resolve });
      });
    } else this.active++;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, so no newcomer can slip in between.
      const next = this.waiting.shift();
      if (next) next.resolve();
      else this.active--;
    }
  }
}

/** `items.map(task)` with at most `limit` tasks running, results in input order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const semaphore = new Semaphore(limit);
  return Promise.all(items.map((item) => semaphore.use(() => task(item))));
}
