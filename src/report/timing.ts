/**
 * Time-to-compliant: when a machine's drift began, when the service started on it and when it was
 * verified compliant. The drift's cause says which path noticed it (an Event Grid event of a given
 * kind, or a sweep).
 */

/** What put a machine out of line, as the service learnt it. */
export type DriftCause =
  | "machineCreated"
  | "planEnabled"
  | "machineStarted"
  | "arcMachineChanged"
  | "sharedResourceDeleted"
  | "optOutRemoved"
  | "extensionFailed"
  | "extensionChanged"
  | "agentOrAssociationRemoved"
  | "sweep";

/** What the trigger knew: the cause, and when the drift began (the event's eventTime, or when a sweep first saw it). */
export interface DriftSeen {
  readonly cause: DriftCause;
  /** ISO 8601. */
  readonly since: string;
}

/** Kept on a report's machine entry wherever the service acted on it. */
export interface Timing {
  readonly cause: DriftCause;
  /** ISO 8601: the event's eventTime, or when a sweep first saw the drift. */
  readonly driftBeganAt: string;
  /** ISO 8601: when the reconcile that acted on it started. */
  readonly startedAt: string;
  /** ISO 8601: when its writes were confirmed; absent until then (dry runs, failures). */
  readonly verifiedAt?: string;
  /** verifiedAt - driftBeganAt, in seconds. */
  readonly secondsToCompliant?: number;
}
