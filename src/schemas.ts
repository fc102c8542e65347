/**
 * The shapes that cross the service's boundary from outside — queue work items and the runs API's
 * request body — as zod schemas, in one place. `parseWith` turns the first problem into an InputError
 * with a one-line message naming the field, which is what the queue's poison reason and the HTTP
 * problem+json detail show.
 */
import { z } from "zod";
import { isGuid, machineKindOf, tryParseResourceId } from "./azure/ids.js";
import { SWEEP_BATCH_SUBSCRIPTIONS } from "./engine.js";
import { InputError } from "./errors.js";
import { isRunId, isWorkItemId } from "./state/keys.js";
import type { MachineAssessment } from "./evaluate/evaluate.js";
import { PLAN_VERSION, type PlanAction } from "./plan/plan.js";
import { PLANNING_SETTINGS, SAVED_PLAN_FORMAT, type SavedPlan, type StoredPlanPart } from "./plan/savedPlan.js";

/** Machines per machine work item. */
export const MAX_MACHINES_PER_WORK_ITEM = 50;
/** Ids one runs API request may name. */
const MAX_IDS_PER_REQUEST = 1000;

/**
 * Validates `value` against `schema`; throws InputError with the first problem (unknown fields first:
 * they say most), naming its field, or `wholeValue` when the value as a whole is wrong.
 */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, wholeValue?: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues.find((candidate) => candidate.code === "unrecognized_keys") ?? (result.error.issues[0] as z.core.$ZodIssue);
  const field = issue.code === "unrecognized_keys" ? issue.keys[0]?.slice(0, 64) : fieldOf(issue.path) || wholeValue;
  throw new InputError(issue.message, field);
}

/** `resourceIds[0]`, `since`: the path as a reader writes it. */
function fieldOf(path: readonly PropertyKey[]): string {
  return path.map((part, index) => (typeof part === "number" ? `[${part}]` : `${index > 0 ? "." : ""}${String(part)}`)).join("");
}

/** A value quoted for a message, cut short. */
export function brief(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

const unknownFields = (what: string) => (issue: z.core.$ZodRawIssue) =>
  issue.code === "unrecognized_keys" ? `${what} has unknown field(s): ${issue.keys.slice(0, 5).join(", ")}` : `${what} must be a JSON object`;

// ---------------------------------------------------------------------------------------------
// Queue work items (src/state/workQueue.ts)

export interface SubscriptionWorkItem {
  readonly kind: "subscription";
  readonly workItemId: string;
  readonly runId: string;
  /**
   * Swept together (lower case, sorted, unique): one Resource Graph query answers for all of them.
   * An `events` flush names exactly one.
   */
  readonly subscriptionIds: readonly string[];
  readonly dryRun: boolean;
  /**
   * `full`: every machine; `incremental`: what changed at or after `since` (`new-since`, an earlier release's
   * name, is read the same way); `events`: the machines events named (pending).
   */
  readonly mode: "full" | "incremental" | "new-since" | "events";
  /** ISO 8601; required for `incremental` and `new-since`, absent otherwise. */
  readonly since?: string;
  /** Apply this dry run's stored plan to the subscriptions (mode `full` only), instead of today's. */
  readonly planId?: string;
  /** Failed attempts of earlier copies of this item (a retry is a new message); absent = none. */
  readonly failedAttempts?: number;
}

export interface MachineWorkItem {
  readonly kind: "machine";
  readonly workItemId: string;
  readonly runId: string;
  readonly resourceIds: readonly string[];
  readonly dryRun: boolean;
  readonly failedAttempts?: number;
}

export type WorkItem = SubscriptionWorkItem | MachineWorkItem;

const workItemFields = {
  workItemId: z.custom<string>(isWorkItemId, "workItemId must be 1-128 letters, digits, '-', '_', '.' or ':'"),
  runId: z.custom<string>(isRunId, "runId must be 1-64 letters, digits, '-' or '_'"),
  dryRun: z.boolean({ error: "dryRun must be a boolean" }),
  failedAttempts: z.int({ error: "failedAttempts must be a whole number from 1 to 1000" }).min(1).max(1000).optional(),
};

const subscriptionIdsMessage = `subscriptionIds must be an array of 1-${SWEEP_BATCH_SUBSCRIPTIONS} subscription ids (GUIDs)`;

const subscriptionWorkItemSchema = z
  .strictObject(
    {
      kind: z.literal("subscription"),
      ...workItemFields,
      subscriptionIds: z.array(z.string().refine(isGuid, subscriptionIdsMessage), { error: subscriptionIdsMessage }).min(1, subscriptionIdsMessage).max(SWEEP_BATCH_SUBSCRIPTIONS, subscriptionIdsMessage),
      mode: z.enum(["full", "incremental", "new-since", "events"], { error: (issue) => `mode must be "full", "incremental", "new-since" or "events", got ${brief(issue.input)}` }),
      since: z.unknown().optional(),
      planId: z.custom<string>(isRunId, "planId must be a run id").optional(),
    },
    { error: unknownFields("work item") },
  )
  .superRefine((item, context) => {
    if (item.mode === "events" && new Set(item.subscriptionIds.map((id) => id.toLowerCase())).size !== 1) {
      context.addIssue({ code: "custom", path: ["subscriptionIds"], message: "an events flush names exactly one subscription" });
    }
    const withSince = item.mode === "incremental" || item.mode === "new-since";
    if (!withSince && item.since !== undefined) context.addIssue({ code: "custom", path: ["since"], message: "since is only allowed with mode incremental (or new-since)" });
    if (withSince && Number.isNaN(isoTime(item.since))) context.addIssue({ code: "custom", path: ["since"], message: `since must be an ISO 8601 date-time for mode ${item.mode}` });
    if (item.planId !== undefined && (item.mode !== "full" || item.dryRun)) context.addIssue({ code: "custom", path: ["planId"], message: "planId is only allowed with mode full, and not in a dry run" });
  })
  .transform(({ since, failedAttempts, planId, ...item }): SubscriptionWorkItem => ({
    ...item,
    ...(planId ? { planId } : {}),
    subscriptionIds: [...new Set(item.subscriptionIds.map((id) => id.toLowerCase()))].sort(),
    ...(item.mode === "incremental" || item.mode === "new-since" ? { since: new Date(isoTime(since)).toISOString() } : {}),
    ...(failedAttempts ? { failedAttempts } : {}),
  }));

const machineWorkItemSchema = z
  .strictObject(
    {
      kind: z.literal("machine"),
      ...workItemFields,
      resourceIds: z.array(z.unknown(), { error: `resourceIds must be an array of 1-${MAX_MACHINES_PER_WORK_ITEM} machine ids` }).min(1).max(MAX_MACHINES_PER_WORK_ITEM),
    },
    { error: unknownFields("work item") },
  )
  .superRefine((item, context) => {
    item.resourceIds.forEach((id, index) => {
      const parsed = typeof id === "string" ? tryParseResourceId(id) : undefined;
      if (!parsed || !machineKindOf(parsed)) {
        context.addIssue({ code: "custom", path: ["resourceIds", index], message: `resourceIds[${index}] is not the id of a VM, Arc machine or SQL VM in a resource group: ${brief(id)}` });
      }
    });
  })
  .transform(({ failedAttempts, ...item }): MachineWorkItem => ({ ...item, resourceIds: item.resourceIds as string[], ...(failedAttempts ? { failedAttempts } : {}) }));

/** A work item as read off the queue: unknown fields are refused too. */
export const workItemSchema: z.ZodType<WorkItem> = z.discriminatedUnion("kind", [subscriptionWorkItemSchema, machineWorkItemSchema], {
  error: (issue) =>
    issue.input === null || typeof issue.input !== "object" || Array.isArray(issue.input)
      ? "work item must be a JSON object"
      : `work item kind must be "subscription" or "machine", got ${brief((issue.input as { kind?: unknown }).kind)}`,
});

function isoTime(value: unknown): number {
  return typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
}

// ---------------------------------------------------------------------------------------------
// The runs API's POST body (src/functions/runsApi.ts)

export interface RunRequestBody {
  readonly subscriptions?: readonly string[];
  readonly resourceIds?: readonly string[];
  readonly dryRun?: boolean;
  /** Apply the plan an earlier dry run (this run id) stored, instead of planning now. */
  readonly planId?: string;
}

/** A list of ids, each checked by `verdict` (true, or why not). An empty list must not widen into "everything". */
function idList(field: string, verdict: (value: string) => true | string) {
  const notStrings = `${field} must be an array of strings`;
  return z
    .array(z.unknown(), { error: notStrings })
    .min(1, `${field} must not be empty (omit it for the whole configured scope)`)
    .max(MAX_IDS_PER_REQUEST, `${field} may list at most ${MAX_IDS_PER_REQUEST} entries`)
    .superRefine((ids, context) => {
      const refused = ids.map((id) => (typeof id === "string" ? verdict(id) : notStrings)).find((answer) => answer !== true);
      if (refused === notStrings) context.addIssue({ code: "custom", message: notStrings });
      else if (refused !== undefined) context.addIssue({ code: "custom", message: `${field}: ${refused}` });
    })
    .transform((ids) => ids as string[]);
}

export const runRequestSchema: z.ZodType<RunRequestBody> = z
  .strictObject(
    {
      subscriptions: idList("subscriptions", (value) => isGuid(value) || `"${value.slice(0, 64)}" is not a subscription id`).optional(),
      resourceIds: idList("resourceIds", (value) => tryParseResourceId(value) !== undefined || `"${value.slice(0, 64)}" is not an ARM resource id`).optional(),
      dryRun: z.boolean({ error: "dryRun must be true or false" }).optional(),
      planId: z.custom<string>((value) => typeof value === "string" && isRunId(value), "planId must be the id of an earlier dry run").optional(),
    },
    { error: (issue) => (issue.code === "unrecognized_keys" ? `unknown field "${issue.keys[0]?.slice(0, 64)}"` : "the body must be a JSON object") },
  )
  .superRefine((body, context) => {
    // A saved plan carries its own scope, and applying it is the point.
    const clash = body.planId === undefined ? undefined : (["subscriptions", "resourceIds", "dryRun"] as const).find((field) => body[field] !== undefined);
    if (clash) context.addIssue({ code: "custom", path: [clash], message: `${clash} cannot go with planId: the plan carries its own scope and is applied` });
  });

// ---------------------------------------------------------------------------------------------
// Saved plans (src/plan/savedPlan.ts): a file a person may have edited, executed by apply

const PLAN_ACTIONS = [
  "createResourceGroup",
  "createUserAssignedIdentity",
  "createWorkspace",
  "installSolution",
  "createDataCollectionRule",
  "updateMachineIdentity",
  "installExtension",
  "associateDataCollectionRule",
  "removeExtension",
  "assignPolicy",
  "assignRole",
] as const satisfies readonly PlanAction[];

const resourceId = z.string().refine((value) => tryParseResourceId(value) !== undefined, { error: (issue) => `${JSON.stringify(issue.input)} is not an ARM resource id` });

const planItem = z.strictObject({
  key: z.string().min(1),
  action: z.enum(PLAN_ACTIONS),
  method: z.enum(["PUT", "PATCH", "DELETE"]),
  targetId: resourceId,
  apiVersion: z.string().regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, "expected an API version such as 2023-03-01"),
  subscriptionId: z.string().min(1),
  machineId: resourceId.optional(),
  body: z.record(z.string(), z.unknown()).optional(),
  principalFrom: resourceId.optional(),
  observed: z.unknown(),
  ifMatch: z.string().optional(),
  reason: z.string(),
  dependsOn: z.array(z.string()),
  after: z.array(z.string()),
});

// Assessments are what the report shows per machine: the fields it reads are checked, the machine state kept as saved.
const assessmentFields = z.looseObject({
  machine: z.looseObject({ id: resourceId, kind: z.enum(["virtualMachine", "arcMachine"]), subscriptionId: z.string() }),
  status: z.enum(["inScope", "skipped"]),
  skipReason: z.string().optional(),
  blocked: z.array(z.looseObject({ reason: z.string() })),
  notes: z.array(z.string()),
});
const assessment = z.custom<MachineAssessment>((value) => assessmentFields.safeParse(value).success, { error: "an assessment lacks the machine, status, blocked or notes the report reads" });

const planningSettings = z.record(z.enum(PLANNING_SETTINGS), z.string());

const plan = z.strictObject({
  version: z.literal(PLAN_VERSION, { error: `plan version must be ${PLAN_VERSION}: this plan was made by another version of ama-remediator` }),
  createdAt: z.iso.datetime({ offset: true }),
  dryRun: z.boolean(),
  items: z.array(planItem),
  assessments: z.array(assessment),
  findings: z.array(z.strictObject({ subscriptionId: z.string(), message: z.string() })),
});

const savedPlanSchema = z.strictObject({
  format: z.literal(SAVED_PLAN_FORMAT, { error: `not an ama-remediator plan (format must be "${SAVED_PLAN_FORMAT}")` }),
  planId: z.string().min(1).max(100),
  createdAt: z.iso.datetime({ offset: true }),
  scope: z.strictObject({ subscriptions: z.array(z.string()), resourceIds: z.array(resourceId) }),
  settings: planningSettings,
  plan,
});

/** The parts of a plan a dry run stored with its run record (src/state/runStore.ts), one per work item. */
export function parseStoredPlanParts(value: unknown): StoredPlanPart[] {
  return parseWith(z.array(z.strictObject({ settings: planningSettings, subscriptions: z.array(z.string()), plan })), value, "stored plan");
}

/** A saved plan from its JSON text; InputError naming the first problem (apply writes nothing then). */
export function parseSavedPlan(text: string): SavedPlan {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError(`the plan file is not JSON (${(error as Error).message})`);
  }
  return parseWith(savedPlanSchema, value, "plan");
}
