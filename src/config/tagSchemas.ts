/**
 * Azure's tag limits (Microsoft Learn, "Use tags to organize your Azure resources", Limitations): at most
 * 50 name/value pairs per resource, names up to 512 characters without < > % & \ ? /, values up to 256.
 * A tag Azure would refuse is refused at start instead of failing every create that carries it.
 */
import { z } from "zod";
import { quoted } from "./settingSchemas.js";

const TAG_NAME_MAX_LENGTH = 512;
const TAG_VALUE_MAX_LENGTH = 256;
/** One of Azure's 50 tags per resource is kept for the `createdBy` tag the service sets on its own resources. */
const CREATED_RESOURCE_TAGS_MAX = 49;

/** A tag name Azure accepts. `abort`: one problem per name is enough to fix it. */
export const tagName = z
  .string()
  .refine((name) => name.trim() !== "", { error: "a tag name is empty", abort: true })
  .max(TAG_NAME_MAX_LENGTH, { error: (issue) => `not a valid Azure tag name: ${quoted(issue.input)} is longer than ${TAG_NAME_MAX_LENGTH} characters`, abort: true })
  .regex(/^[^<>%&\\?/]*$/, { error: (issue) => `not a valid Azure tag name: ${quoted(issue.input)} contains one of < > % & \\ ? /` });

/** The tag a value belongs to, from the issue's path (the last step is the tag name). */
const tagOf = (issue: { path?: PropertyKey[] | undefined }): string => quoted(String(issue.path?.at(-1)));

const tagValue = z
  .string({ error: (issue) => `tag ${tagOf(issue)} has a ${issue.input === null ? "null" : typeof issue.input} value; values must be strings` })
  .max(TAG_VALUE_MAX_LENGTH, { error: (issue) => `tag ${tagOf(issue)} has a value longer than ${TAG_VALUE_MAX_LENGTH} characters` });

/** The second spelling of a name already given: Azure compares tag names case-insensitively. */
function repeatedName(names: readonly string[]): string | undefined {
  const seen = new Set<string>();
  return names.find((name) => seen.size === seen.add(name.toLowerCase()).size);
}

/** `CREATED_RESOURCE_TAGS`: a JSON object of tag name -> string value, each within Azure's limits. */
export const createdResourceTags = z
  .string()
  .transform((value, context): unknown => {
    try {
      return JSON.parse(value);
    } catch {
      context.addIssue({ code: "custom", input: value, message: `${quoted(value)} is not JSON` });
      return z.NEVER;
    }
  })
  .pipe(
    z.record(tagName, tagValue, {
      // A bad name is reported as its own problem, not as zod's generic "invalid key".
      error: (issue) => (issue.code === "invalid_key" ? issue.issues[0]?.message : 'expected a JSON object of tag names to string values, e.g. {"costCenter":"security-ops"}'),
    }),
  )
  .refine((tags) => Object.keys(tags).length <= CREATED_RESOURCE_TAGS_MAX, {
    error: (issue) =>
      `${Object.keys(issue.input as object).length} tags; at most ${CREATED_RESOURCE_TAGS_MAX} (Azure allows 50 per resource and the service adds its own createdBy tag)`,
  })
  .refine((tags) => repeatedName(Object.keys(tags)) === undefined, {
    error: (issue) => `tag name ${quoted(repeatedName(Object.keys(issue.input as object)))} appears twice (tag names are case-insensitive)`,
  });
