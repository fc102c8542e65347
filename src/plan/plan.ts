/**
 * A plan is data: every write the service will make, in order, with the exact body it will send,
 * what it observed, why, and what it waits for. `--dry-run` prints it; apply executes exactly it and
 * switches on `action`, never on `reason`.
 */
import type { MachineAssessment } from "../evaluate/evaluate.js";

export const PLAN_VERSION = 1;

export type PlanAction =
  | "createResourceGroup"
  | "createUserAssignedIdentity"
  | "createWorkspace"
  | "installSolution"
  | "createDataCollectionRule"
  | "updateMachineIdentity"
  | "installExtension"
  | "associateDataCollectionRule"
  | "removeExtension"
  | "assignPolicy"
  | "assignRole";

export type HttpMethod = "PUT" | "PATCH" | "DELETE";

export interface PlanItem {
  /** Unique within the plan: `<action> <target id, lower-case>`. */
  readonly key: string;
  readonly action: PlanAction;
  readonly method: HttpMethod;
  readonly targetId: string;
  readonly apiVersion: string;
  readonly subscriptionId: string;
  /** The machine this write belongs to (writes to one machine run one at a time). */
  readonly machineId?: string;
  readonly body?: Record<string, unknown>;
  /**
   * For role assignments to an identity created earlier in the same plan: the id of the resource
   * whose `identity.principalId` fills `body.properties.principalId` ("known after apply").
   */
  readonly principalFrom?: string;
  /** What discovery saw before the write ("absent" when the resource does not exist). */
  readonly observed: unknown;
  /**
   * The target's etag as discovery read it, sent as If-Match: ARM itself refuses the write when the target
   * changed since, so apply need not read it again first.
   */
  readonly ifMatch?: string;
  /** For people; apply never reads it. */
  readonly reason: string;
  /** Items that must succeed first; when one fails, this item is skipped. */
  readonly dependsOn: readonly string[];
  /** Items that must finish first, whatever their outcome (writes to one machine go one at a time). */
  readonly after: readonly string[];
}

export interface SubscriptionFinding {
  readonly subscriptionId: string;
  readonly message: string;
}

export interface Plan {
  readonly version: typeof PLAN_VERSION;
  readonly createdAt: string;
  readonly dryRun: boolean;
  readonly items: readonly PlanItem[];
  readonly assessments: readonly MachineAssessment[];
  /** Per-subscription observations that need no write (legacy MMA switch On, plans off, unreadable). */
  readonly findings: readonly SubscriptionFinding[];
}
