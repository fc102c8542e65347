/**
 * Pipeline policies the service adds to every SDK client. The retry *decisions* are small pure
 * strategies; core-rest-pipeline's retryPolicy runs the loop (one loop, as the SDK intends).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { retryPolicy, type PipelinePolicy, type RetryStrategy } from "@azure/core-rest-pipeline";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Compute and Hybrid Compute answer 409 Conflict while another operation runs on the machine
 * ("Another operation on this or dependent resource is in progress"). That clears by itself: wait and
 * send again. Other 409s (a real conflict of state) are final.
 */
export function conflictRetryStrategy(delayInMs: number): RetryStrategy {
  return {
    name: "conflictRetryStrategy",
    retry({ response, retryCount }) {
      if (response?.status !== 409 || !isOperationInProgress(response.bodyAsText)) return { skipStrategy: true };
      const retryAfterSeconds = Number(response.headers.get("retry-after"));
      const serverWait = Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0 ? retryAfterSeconds * 1000 : 0;
      return { retryAfterInMs: Math.max(serverWait, delayInMs * Math.min(2 ** retryCount, 8)) };
    },
  };
}

export function conflictRetryPolicy(options: { maxRetries: number; delayInMs: number }): PipelinePolicy {
  return { ...retryPolicy([conflictRetryStrategy(options.delayInMs)], { maxRetries: options.maxRetries }), name: "conflictRetryPolicy" };
}

function isOperationInProgress(body: string | null | undefined): boolean {
  if (!body) return false;
  return /another operation .* in progress|OperationPreempted|RetryableError/i.test(body);
}

/** Requests left in a subscription's ARM bucket (20% of 250 reads / 200 writes) for the customer's own automation. */
export const HEADROOM = { reads: 50, writes: 40 } as const;
/** ARM refill rates per second (docs/azure-domain.md §9.1). */
const REFILL_PER_SECOND = { reads: 25, writes: 10 } as const;

/** What the headroom policy knows of one subscription's bucket of one kind. */
interface BucketEstimate {
  /** Tokens left at `at` (ms), by the newest answer and the requests sent since; none before the first answer. */
  level?: { value: number; at: number };
  /** Requests sent so far, which numbers each one in the order sent. */
  sent: number;
  /** Requests sent and not answered yet. */
  inFlight: number;
  /** The number of the newest request whose answer set the level. */
  newestAnswer: number;
}

/**
 * Reads `x-ms-ratelimit-remaining-subscription-reads|writes` and, when a subscription's bucket runs
 * low, waits for it to refill before sending more, instead of running it dry and earning 429s that
 * would also throttle the customer's other tools. Each request takes its token from the estimate as it
 * is sent, so requests sent together cannot all pass the check and dig into the headroom; ARM's header on
 * an answer sets the estimate again, less the requests still on their way (ARM may not have counted them).
 * Answers come back in any order (ARM answers a write when its resource provider does), so only an answer
 * to a request sent after the one that last set the estimate may set it: an older one's header is from
 * before ARM counted requests that have since been answered, and are no longer subtracted as in flight.
 */
export function rateLimitHeadroomPolicy(now: () => number = Date.now): PipelinePolicy {
  const buckets = new Map<string, BucketEstimate>();
  const levelOf = (bucket: BucketEstimate, kind: keyof typeof HEADROOM) => {
    const seen = bucket.level;
    return seen ? seen.value + ((now() - seen.at) / 1000) * REFILL_PER_SECOND[kind] : undefined;
  };
  return {
    name: "rateLimitHeadroomPolicy",
    async sendRequest(request, next) {
      const kind = request.method === "GET" || request.url.includes("/Microsoft.ResourceGraph/") ? "reads" : "writes";
      const key = `${subscriptionOf(request.url)}|${kind}`;
      let bucket = buckets.get(key);
      if (!bucket) buckets.set(key, (bucket = { sent: 0, inFlight: 0, newestAnswer: 0 }));
      for (let level = levelOf(bucket, kind); level !== undefined && level - 1 < HEADROOM[kind]; level = levelOf(bucket, kind)) {
        await sleep(((HEADROOM[kind] + 1 - level) / REFILL_PER_SECOND[kind]) * 1000);
      }
      const level = levelOf(bucket, kind);
      if (level !== undefined) bucket.level = { value: level - 1, at: now() };
      const order = ++bucket.sent;
      bucket.inFlight++;
      let response;
      try {
        response = await next(request);
      } finally {
        bucket.inFlight--;
      }
      const header = `x-ms-ratelimit-remaining-subscription-${kind}`;
      const remaining = Number(response.headers.get(header));
      if (response.headers.has(header) && Number.isFinite(remaining) && order > bucket.newestAnswer) {
        bucket.level = { value: remaining - bucket.inFlight, at: now() };
        bucket.newestAnswer = order;
      }
      return response;
    },
  };
}

/**
 * Resource Graph has its own per-user quota (15 queries per 5 s window), reported in
 * `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` (hh:mm:ss). When it is spent, wait
 * for the window to reset instead of sending a query that can only earn a 429.
 */
export function resourceGraphQuotaPolicy(now: () => number = Date.now): PipelinePolicy {
  let blockedUntil = 0;
  return {
    name: "resourceGraphQuotaPolicy",
    async sendRequest(request, next) {
      const isQuery = request.url.includes("/providers/Microsoft.ResourceGraph/");
      if (isQuery && blockedUntil > now()) await sleep(blockedUntil - now());
      const response = await next(request);
      if (isQuery) {
        const remaining = Number(response.headers.get("x-ms-user-quota-remaining"));
        const resetsAfterMs = durationMs(response.headers.get("x-ms-user-quota-resets-after"));
        if (remaining === 0 && resetsAfterMs !== undefined) blockedUntil = now() + resetsAfterMs;
      }
      return response;
    },
  };
}

/** "hh:mm:ss" (optionally with fractions of a second) -> milliseconds. */
function durationMs(value: string | undefined): number | undefined {
  const match = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value ?? "");
  if (!match) return undefined;
  return ((Number(match[1]) * 60 + Number(match[2])) * 60 + Number(match[3])) * 1000;
}

function subscriptionOf(url: string): string {
  return /\/subscriptions\/([0-9a-f-]{36})/i.exec(url)?.[1]?.toLowerCase() ?? "tenant";
}


/** Requests one write sent, retries and long-running operation polls included, and how many ARM turned away. */
export interface AttemptCount {
  requests: number;
  /** 429 throttling, 409 another-operation-in-progress, 5xx and dropped connections: each earned a retry. */
  retried: number;
}

const attempts = new AsyncLocalStorage<AttemptCount>();

/** Runs `work` counting every request the pipeline sends on its behalf. */
export function countingAttempts<T>(work: () => Promise<T>): { count: AttemptCount; result: Promise<T> } {
  const count: AttemptCount = { requests: 0, retried: 0 };
  return { count, result: attempts.run(count, work) };
}

/** Counts each try of a request (it sits after the retry loops) into the current write's context. */
export function attemptCounterPolicy(): PipelinePolicy {
  return {
    name: "attemptCounterPolicy",
    async sendRequest(request, next) {
      const count = attempts.getStore();
      if (count) count.requests++;
      try {
        const response = await next(request);
        if (count && (response.status === 429 || response.status === 409 || response.status >= 500)) count.retried++;
        return response;
      } catch (error) {
        if (count) count.retried++;
        throw error;
      }
    },
  };
}

const wireBodies = new AsyncLocalStorage<unknown[]>();

/**
 * Runs `read` keeping ARM's own JSON of every successful response sent on its behalf (each page of a
 * list): the typed clients' models flatten and rename properties, and the pipeline reads one shape only.
 */
export async function readingWireBodies(read: () => Promise<unknown>): Promise<unknown[]> {
  const bodies: unknown[] = [];
  await wireBodies.run(bodies, read);
  return bodies;
}

/** Hands each successful JSON response to the current `readingWireBodies` call (it sits outside the retry loops). */
export function wireBodyPolicy(): PipelinePolicy {
  return {
    name: "wireBodyPolicy",
    async sendRequest(request, next) {
      const response = await next(request);
      const bodies = wireBodies.getStore();
      if (bodies && response.status === 200 && response.bodyAsText) bodies.push(parseJson(response.bodyAsText));
      return response;
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
