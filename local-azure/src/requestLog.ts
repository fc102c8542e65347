export type RequestKind = "read" | "write" | "delete" | "poll" | "query";

export interface RequestLogEntry {
  method: string;
  path: string;
  apiVersion?: string;
  resourceType: string;
  /** The RBAC action ARM would check (see rbacActionFor). */
  action: string;
  status: number;
  /** ARM error code of a failed request. */
  code?: string;
  subscriptionId?: string;
  timeMs: number;
  kind: RequestKind;
}

export interface RequestCounts {
  reads: number;
  writes: number;
  deletes: number;
  polls: number;
  queries: number;
}

const COUNTER: Record<RequestKind, keyof RequestCounts> = {
  read: "reads",
  write: "writes",
  delete: "deletes",
  poll: "polls",
  query: "queries",
};

/** Every ARM request, in order. `limit` keeps memory flat in long benchmark runs (counters stay exact). */
export class RequestLog {
  entries: RequestLogEntry[] = [];
  private counts: RequestCounts = emptyCounts();

  constructor(private readonly limit = Number.POSITIVE_INFINITY) {}

  add(entry: RequestLogEntry): void {
    this.counts[COUNTER[entry.kind]] += 1;
    if (this.limit <= 0) return;
    this.entries.push(entry);
    if (this.entries.length > this.limit * 2) this.entries = this.entries.slice(-this.limit);
  }

  recent(): RequestLogEntry[] {
    return this.entries.length > this.limit ? this.entries.slice(-this.limit) : this.entries;
  }

  requestCounts(): RequestCounts {
    return { ...this.counts };
  }

  reset(): void {
    this.entries = [];
    this.counts = emptyCounts();
  }
}

function emptyCounts(): RequestCounts {
  return { reads: 0, writes: 0, deletes: 0, polls: 0, queries: 0 };
}
