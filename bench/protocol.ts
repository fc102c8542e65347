/**
 * What the orchestrator (bench/run.ts) hands a service process (bench/service.ts) and what that
 * process answers: one job as a JSON file, one JSON line on stdout.
 */

export type Job =
  /**
   * reconcile() over REMEDIATION_SUBSCRIPTIONS: the timer's full sweep, or with `changedSince` (ISO 8601) its
   * incremental sweep of what Resource Graph's change history shows changed since then.
   */
  | { readonly kind: "sweep"; readonly dryRun: boolean; readonly changedSince?: string }
  /**
   * Memory experiment: the engine's own stages (discoverSweep, evaluate, buildPlan,
   * buildReport) batch by batch as reconcile() runs them, a dry run, keeping only each batch's
   * summary instead of merging every batch's plan and report into one tenant-wide result.
   */
  | { readonly kind: "sweepBatches" }
  /** The per-machine evaluator in bench/naive.ts over the same subscriptions. */
  | { readonly kind: "naive"; readonly subscriptionConcurrency: number; readonly machineConcurrency: number }
  /**
   * Events for these machines, all arrived at once. `per-subscription`: one reconcile per
   * subscription with every machine its events named (the events flush); `per-event`: one reconcile
   * per event. `concurrency` reconciles run at once (the Functions host's queue batch).
   */
  | { readonly kind: "burst"; readonly machineIds: readonly string[]; readonly grouping: "per-subscription" | "per-event"; readonly concurrency: number; readonly dryRun: boolean }
  /**
   * The naive remediator (bench/naive.ts) on these machines: read each, write what is missing, poll each operation;
   * `machineConcurrency` machines per subscription at once, `dataCollectionRules` by subscription and region (estateParts.ts `ruleKey`).
   */
  | { readonly kind: "naiveRemediate"; readonly machineIds: readonly string[]; readonly dataCollectionRules: Readonly<Record<string, string>>; readonly machineConcurrency: number; readonly pollIntervalMs: number }
  /** One event after another, CPU measured around each (parse, scope, reconcile). */
  | { readonly kind: "eventCpu"; readonly machineIds: readonly string[]; readonly warmup: number }
  /**
   * One event after another in one process, one set of engine dependencies (the shared-read cache too), as the
   * Function App handles a stream of events. Before event `countFrom` the process empties the emulator's request
   * log and counters, so the orchestrator's figures are those of the events from it on.
   */
  | { readonly kind: "eventSequence"; readonly machineIds: readonly string[]; readonly countFrom: number };

export interface ProcessFigures {
  /** Wall time of the job itself (process start-up and module loading excluded). */
  readonly wallMs: number;
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  /** process.resourceUsage().maxRSS at the end of the job, in MiB. */
  readonly peakRssMiB: number;
  /** Events that ended one of the service's own operations, relayed to it (bench/eventRelay.ts), when the job had them. */
  readonly operationEventsHeard?: number;
}

export interface SweepOutcome extends ProcessFigures {
  readonly kind: "sweep" | "burst" | "sweepBatches";
  readonly machines: number;
  readonly planItems: number;
  readonly planItemsBySubscription: Readonly<Record<string, number>>;
  readonly planItemsByAction: Readonly<Record<string, number>>;
  /** Longest chain of writes on one machine in the plan. */
  readonly longestMachineChain: number;
  readonly summary: Readonly<Record<string, number>>;
  /** Milliseconds from the job's start to the first "planned" progress line (discovery + evaluation). */
  readonly firstPlannedMs?: number;
}

export interface NaiveOutcome extends ProcessFigures {
  readonly kind: "naive";
  readonly machines: number;
  readonly compliant: number;
}

export interface EventCpuOutcome extends ProcessFigures {
  readonly kind: "eventCpu";
  readonly events: number;
  /** CPU (user + system) per event after warm-up, in ms. */
  readonly cpuPerEventMs: { readonly mean: number; readonly median: number; readonly p95: number; readonly max: number };
  readonly wallPerEventMs: { readonly mean: number; readonly median: number };
  readonly writesPlanned: number;
}

export interface NaiveRemediateOutcome extends ProcessFigures {
  readonly kind: "naiveRemediate";
  readonly machines: number;
  readonly writes: number;
}

export interface EventSequenceOutcome extends ProcessFigures {
  readonly kind: "eventSequence";
  /** Per event, in order: from the event's arrival to the end of its reconcile (its writes confirmed), and the machine's status in the report. */
  readonly events: readonly { readonly machineId: string; readonly wallMs: number; readonly status: string }[];
}

export type Outcome = SweepOutcome | NaiveOutcome | NaiveRemediateOutcome | EventCpuOutcome | EventSequenceOutcome;
