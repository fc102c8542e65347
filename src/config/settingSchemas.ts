/**
 * zod schemas for the kinds of value a setting holds, each over the raw environment string. Their messages
 * quote what was given and say what was expected; settings.ts puts the setting's name in front.
 */
import { z } from "zod";
import { isGuid, parseResourceId } from "../azure/ids.js";
import { ncrontabProblem } from "./ncrontab.js";

/**
 * A value as a message shows it: a JSON string, so a newline or quote in it cannot break the one-line
 * message, and cut short so a pasted secret or blob does not fill the log.
 */
export function quoted(value: unknown): string {
  const text = String(value);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** `true`/`1` or `false`/`0`, in any case. */
export const flag = z.stringbool({ truthy: ["true", "1"], falsy: ["false", "0"], error: (issue) => `expected true or false, got ${quoted(issue.input)}` });

/** One of `choices`, in any case, as its lower-case spelling. */
export function choice<const T extends readonly [string, ...string[]]>(choices: T) {
  return z
    .string()
    .toLowerCase()
    .pipe(z.enum(choices, { error: (issue) => `${quoted(issue.input)} is not one of ${choices.join(", ")}` }));
}

/** A comma-separated list; blanks between commas are ignored. */
export function commaList<T extends z.ZodType<unknown, string>>(item: T) {
  return z
    .string()
    .transform((value) => value.split(",").map((part) => part.trim()).filter(Boolean))
    .pipe(z.array(item));
}

/**
 * A number checked by a zod number schema; the string is checked as the number `Number()` reads
 * (so the message can quote the string as given, which zod's coercion loses).
 */
function numberWithin(number: z.ZodNumber, expected: string) {
  return z
    .string()
    .refine((value) => number.safeParse(Number(value)).success, { error: (issue) => `expected ${expected}, got ${quoted(issue.input)}` })
    .transform(Number);
}

export const positiveNumber = numberWithin(z.number().positive(), "a positive number");

/** The event batching window: 0 (at once) to 15 minutes. */
export const batchSeconds = numberWithin(z.number().min(0).max(900), "a number from 0 to 900");

/** Reinstalls of a Failed agent extension per machine and day from events (0 = leave them to the sweeps). */
export const attemptsPerDay = numberWithin(z.number().int().min(0).max(100), "a whole number from 0 to 100");

/**
 * An Application Insights connection string: `key=value` pairs separated by semicolons, at most 4,096
 * characters, `InstrumentationKey` (a GUID) required (learn.microsoft.com, "Connection strings in
 * Application Insights"). The message never quotes the value: it is treated as a secret.
 */
export const appInsightsConnectionString = z.string().refine(
  (value) => {
    const pairs = value.split(";").filter((part) => part.trim() !== "").map((part) => /^\s*([A-Za-z]+)\s*=\s*(\S.*?)\s*$/.exec(part));
    const instrumentationKey = pairs.find((pair) => pair?.[1]?.toLowerCase() === "instrumentationkey")?.[2];
    return value.length <= 4096 && pairs.every((pair) => pair !== null) && instrumentationKey !== undefined && isGuid(instrumentationKey);
  },
  { error: "expected an Application Insights connection string (InstrumentationKey=<GUID>;IngestionEndpoint=...; at most 4,096 characters)" },
);

/** Lower-cased and de-duplicated: ARM compares subscription ids case-insensitively. */
export const subscriptionIds = commaList(z.string().refine(isGuid, { error: (issue) => `${quoted(issue.input)} is not a subscription id (GUID)` })).transform((ids) => [
  ...new Set(ids.map((id) => id.toLowerCase())),
]);

/** An https URL, as its origin. Bearer tokens must never travel in clear text. */
export const httpsOrigin = z
  .url({ error: (issue) => `${quoted(issue.input)} is not a URL`, abort: true })
  .refine((value) => new URL(value).protocol === "https:", { error: "must be an https:// URL" })
  .transform((value) => new URL(value).origin);

/** A resource id of `resourceType` inside a resource group, in the canonical form `parseResourceId` gives. */
export function resourceIdOf(resourceType: string) {
  return z.string().transform((value, context) => {
    try {
      const parsed = parseResourceId(value);
      const problem =
        parsed.resourceType.toLowerCase() !== resourceType.toLowerCase()
          ? `expected a ${resourceType} resource id, got ${parsed.resourceType}`
          : !parsed.resourceGroup && `expected a ${resourceType} resource id inside a resource group`;
      if (!problem) return parsed.id;
      context.addIssue({ code: "custom", input: value, message: problem });
    } catch (error) {
      context.addIssue({ code: "custom", input: value, message: (error as Error).message });
    }
    return z.NEVER;
  });
}

/** A six-field NCRONTAB expression (ncrontab.ts). */
export const ncrontab = z.string().superRefine((value, context) => {
  const problem = ncrontabProblem(value);
  if (problem) context.addIssue({ code: "custom", input: value, message: `${quoted(value)} is not a six-field NCRONTAB expression (${problem})` });
});
