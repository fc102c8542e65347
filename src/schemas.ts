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
  /** `full`: every machine; `new-since`: machines created after `since`; `events`: the machines events named (pending). */
  readonly mode: "full" | "new-since" | "events";
  /** ISO 8601; required for `new-since`, absent otherwise. */
  readonly since?: string;
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
      mode: z.enum(["full", "new-since", "events"], { error: (issue) => `mode must be "full", "new-since" or "events", got ${brief(issue.input)}` }),
      since: z.unknown().optional(),
    },
    { error: unknownFields("work item") },
  )
  .superRefine((item, context) => {
    if (item.mode === "events" && new Set(item.subscriptionIds.map((id) => id.toLowerCase())).size !== 1) {
      context.addIssue({ code: "custom", path: ["subscriptionIds"], message: "an events flush names exactly one subscription" });
    }
    if (item.mode !== "new-since" && item.since !== undefined) context.addIssue({ code: "custom", path: ["since"], message: "since is only allowed with mode new-since" });
    if (item.mode === "new-since" && Number.isNaN(isoTime(item.since))) context.addIssue({ code: "custom", path: ["since"], message: "since must be an ISO 8601 date-time for mode new-since" });
  })
  .transform(({ since, failedAttempts, ...item }): SubscriptionWorkItem => ({
    ...item,
    subscriptionIds: [...new Set(item.subscriptionIds.map((id) => id.toLowerCase()))].sort(),
    ...(item.mode === "new-since" ? { since: new Date(isoTime(since)).toISOString() } : {}),
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

export const runRequestSchema: z.ZodType<RunRequestBody> = z.strictObject(
  {
    subscriptions: idList("subscriptions", (value) => isGuid(value) || `"${value.slice(0, 64)}" is not a subscription id`).optional(),
    resourceIds: idList("resourceIds", (value) => tryParseResourceId(value) !== undefined || `"${value.slice(0, 64)}" is not an ARM resource id`).optional(),
    dryRun: z.boolean({ error: "dryRun must be true or false" }).optional(),
  },
  { error: (issue) => (issue.code === "unrecognized_keys" ? `unknown field "${issue.keys[0]?.slice(0, 64)}"` : "the body must be a JSON object") },
);
