/**
 * Settings come from the environment under the same names for the Function App and the CLI.
 * Parsing is strict: an invalid value is refused at start with a message naming the setting.
 */
import { SettingsError } from "../errors.js";
import { isGuid, parseResourceId } from "../azure/ids.js";
import { isOptedOut } from "../model.js";

export type Profile = "machines" | "sql";
export type SqlMode = "ama" | "extension-only";

export interface Settings {
  readonly armEndpoint: string;
  /** Static bearer token; when absent DefaultAzureCredential is used. Never logged. */
  readonly armToken?: string;
  /** The configured scope; empty = every subscription the credential can list. */
  readonly subscriptions: readonly string[];
  readonly profiles: ReadonlySet<Profile>;
  readonly customWorkspaceId?: string;
  readonly dataCollectionRuleId?: string;
  readonly optOutTag: string;
  /** Tags added to every resource the service creates (never to resources that exist). */
  readonly createdResourceTags: Readonly<Record<string, string>>;
  readonly removeLegacyMma: boolean;
  /** As the built-in AMA policies' `scopeToSupportedImages`: only marketplace images on their lists. */
  readonly scopeToSupportedImages: boolean;
  readonly sqlMode: SqlMode;
  readonly dryRun: boolean;
  readonly sweepSchedule: string;
  readonly fullReconcileHours: number;
  /** Events for one subscription are collected this long and reconciled together (0 = at once). */
  readonly eventBatchSeconds: number;
  /** Long-running operation poll interval when ARM sends no Retry-After (ARM's header always wins). */
  readonly pollIntervalMs: number;
  /** First wait after a 409 "another operation is in progress" on a machine (doubles, up to 8x). */
  readonly conflictRetryDelayMs: number;
  /** pino level when LOG_LEVEL is set (each entry point has its own default). */
  readonly logLevel?: (typeof LOG_LEVELS)[number];
}

export type Environment = Readonly<Record<string, string | undefined>>;

const PROFILES: readonly Profile[] = ["machines", "sql"];
const SQL_MODES: readonly SqlMode[] = ["ama", "extension-only"];

export function loadSettings(env: Environment = process.env): Settings {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const armToken = read("ARM_TOKEN");
  const logLevel = read("LOG_LEVEL");
  const customWorkspaceId = optionalResourceId(read("LOG_ANALYTICS_WORKSPACE_ID"), "LOG_ANALYTICS_WORKSPACE_ID", "Microsoft.OperationalInsights/workspaces");
  const dataCollectionRuleId = optionalResourceId(read("DATA_COLLECTION_RULE_ID"), "DATA_COLLECTION_RULE_ID", "Microsoft.Insights/dataCollectionRules");
  const optOutTag = parseOptOutTag(read("OPT_OUT_TAG") ?? "ama-remediation");
  return {
    armEndpoint: parseEndpoint(read("ARM_ENDPOINT") ?? "https://management.azure.com"),
    ...(armToken ? { armToken } : {}),
    subscriptions: parseSubscriptions(read("REMEDIATION_SUBSCRIPTIONS"), "REMEDIATION_SUBSCRIPTIONS"),
    profiles: parseProfiles(read("REMEDIATION_PROFILES") ?? PROFILES.join(",")),
    ...(customWorkspaceId ? { customWorkspaceId } : {}),
    ...(dataCollectionRuleId ? { dataCollectionRuleId } : {}),
    optOutTag,
    createdResourceTags: parseCreatedResourceTags(read("CREATED_RESOURCE_TAGS"), optOutTag),
    removeLegacyMma: parseBoolean(read("REMOVE_LEGACY_MMA"), "REMOVE_LEGACY_MMA"),
    scopeToSupportedImages: parseBoolean(read("SCOPE_TO_SUPPORTED_IMAGES") ?? "false", "SCOPE_TO_SUPPORTED_IMAGES"),
    sqlMode: parseChoice(read("SQL_MODE") ?? "ama", SQL_MODES, "SQL_MODE"),
    dryRun: parseBoolean(read("DRY_RUN"), "DRY_RUN"),
    sweepSchedule: parseSchedule(read("SWEEP_SCHEDULE") ?? "0 */15 * * * *"),
    fullReconcileHours: parsePositiveNumber(read("FULL_RECONCILE_HOURS") ?? "24", "FULL_RECONCILE_HOURS"),
    eventBatchSeconds: parseNonNegativeNumber(read("EVENT_BATCH_SECONDS") ?? "10", "EVENT_BATCH_SECONDS"),
    pollIntervalMs: parsePositiveNumber(read("ARM_POLL_INTERVAL_MS") ?? "5000", "ARM_POLL_INTERVAL_MS"),
    conflictRetryDelayMs: parsePositiveNumber(read("ARM_CONFLICT_RETRY_DELAY_MS") ?? "10000", "ARM_CONFLICT_RETRY_DELAY_MS"),
    ...(logLevel ? { logLevel: parseChoice(logLevel, LOG_LEVELS, "LOG_LEVEL") } : {}),
  };
}

export function parseSubscriptions(value: string | undefined, name: string): string[] {
  if (!value) return [];
  const ids = value.split(",").map((id) => id.trim()).filter(Boolean);
  for (const id of ids) {
    if (!isGuid(id)) throw new SettingsError(`${name}: "${truncate(id)}" is not a subscription id (GUID)`, name);
  }
  return [...new Set(ids.map((id) => id.toLowerCase()))];
}

function parseEndpoint(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SettingsError(`ARM_ENDPOINT: "${truncate(value)}" is not a URL`, "ARM_ENDPOINT");
  }
  // Bearer tokens must never travel in clear text.
  if (url.protocol !== "https:") throw new SettingsError("ARM_ENDPOINT: must be an https:// URL", "ARM_ENDPOINT");
  return url.origin;
}

function parseProfiles(value: string): Set<Profile> {
  const names = value.split(",").map((name) => name.trim().toLowerCase()).filter(Boolean);
  const profiles = new Set<Profile>();
  for (const name of names) profiles.add(parseChoice(name, PROFILES, "REMEDIATION_PROFILES"));
  return profiles;
}

function optionalResourceId(value: string | undefined, name: string, expectedType: string): string | undefined {
  if (!value) return undefined;
  let parsed;
  try {
    parsed = parseResourceId(value);
  } catch (error) {
    throw new SettingsError(`${name}: ${(error as Error).message}`, name);
  }
  if (parsed.resourceType.toLowerCase() !== expectedType.toLowerCase() || !parsed.resourceGroup) {
    throw new SettingsError(`${name}: expected a ${expectedType} resource id, got ${parsed.resourceType}`, name);
  }
  return parsed.id;
}

/**
 * Azure's tag limits (Microsoft Learn, "Use tags to organize your Azure resources", Limitations): at most
 * 50 name/value pairs per resource, names up to 512 characters without < > % & \\ ? /, values up to 256.
 */
const TAG_NAME_MAX_LENGTH = 512;
const TAG_VALUE_MAX_LENGTH = 256;
const TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;
/** One of Azure's 50 tags per resource is kept for the `createdBy` tag the service sets on its own resources. */
export const CREATED_RESOURCE_TAGS_MAX = 49;

/** Why a tag name is not one Azure accepts, or undefined when it is. */
function tagNameProblem(name: string): string | undefined {
  if (name.trim() === "") return "a tag name is empty";
  if (name.length > TAG_NAME_MAX_LENGTH) return `tag name "${truncate(name)}" is longer than ${TAG_NAME_MAX_LENGTH} characters`;
  if (TAG_NAME_FORBIDDEN.test(name)) return `tag name "${truncate(name)}" contains one of < > % & \\ ? /`;
  return undefined;
}

function parseOptOutTag(value: string): string {
  const problem = tagNameProblem(value);
  if (problem) throw new SettingsError(`OPT_OUT_TAG: not a valid Azure tag name (${problem})`, "OPT_OUT_TAG");
  return value;
}

/** `CREATED_RESOURCE_TAGS`: a JSON object of tag name -> string value, each within Azure's limits. */
function parseCreatedResourceTags(value: string | undefined, optOutTag: string): Record<string, string> {
  const name = "CREATED_RESOURCE_TAGS";
  const refuse = (why: string): never => {
    throw new SettingsError(`${name}: ${why}`, name);
  };
  if (!value) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return refuse(`"${truncate(value)}" is not JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return refuse('expected a JSON object of tag names to string values, e.g. {"costCenter":"security-ops"}');
  const entries = Object.entries(parsed);
  if (entries.length > CREATED_RESOURCE_TAGS_MAX) refuse(`${entries.length} tags; at most ${CREATED_RESOURCE_TAGS_MAX} (Azure allows 50 per resource and the service adds its own createdBy tag)`);
  const seen = new Set<string>();
  for (const [tagName, tagValue] of entries) {
    const problem = tagNameProblem(tagName);
    if (problem) refuse(problem);
    // Azure compares tag names case-insensitively: two spellings of one name would collide on every resource.
    if (seen.has(tagName.toLowerCase())) refuse(`tag name "${truncate(tagName)}" appears twice (tag names are case-insensitive)`);
    seen.add(tagName.toLowerCase());
    if (typeof tagValue !== "string") refuse(`tag "${truncate(tagName)}" has a ${tagValue === null ? "null" : typeof tagValue} value; values must be strings`);
    if ((tagValue as string).length > TAG_VALUE_MAX_LENGTH) refuse(`tag "${truncate(tagName)}" has a value longer than ${TAG_VALUE_MAX_LENGTH} characters`);
    // Created resources carrying the opt-out tag would be refused to this very service on the next run.
    if (isOptedOut({ [tagName]: tagValue as string }, optOutTag)) refuse(`tag "${truncate(tagName)}" is the opt-out tag (OPT_OUT_TAG) with value skip`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

function parseBoolean(value: string | undefined, name: string): boolean {
  if (value === undefined) return false;
  const lower = value.toLowerCase();
  if (lower === "true" || lower === "1") return true;
  if (lower === "false" || lower === "0") return false;
  throw new SettingsError(`${name}: expected true or false, got "${truncate(value)}"`, name);
}

function parseChoice<T extends string>(value: string, choices: readonly T[], name: string): T {
  const match = choices.find((choice) => choice === value.toLowerCase());
  if (!match) throw new SettingsError(`${name}: "${truncate(value)}" is not one of ${choices.join(", ")}`, name);
  return match;
}

function parsePositiveNumber(value: string, name: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new SettingsError(`${name}: expected a positive number, got "${truncate(value)}"`, name);
  return number;
}

function parseNonNegativeNumber(value: string, name: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0 || number > 900) throw new SettingsError(`${name}: expected a number from 0 to 900, got "${truncate(value)}"`, name);
  return number;
}

/** NCRONTAB field ranges, second first (day of week 0-6, Sunday = 0; names allowed for month and day of week). */
const SCHEDULE_FIELDS = [
  { name: "second", min: 0, max: 59 },
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
  { name: "day of week", min: 0, max: 6, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
] as const;

/** NCRONTAB as the Functions host reads it: six fields, second first, each value within its range. */
function parseSchedule(value: string): string {
  const fields = value.trim().split(/\s+/);
  const refuse = (why: string): never => {
    throw new SettingsError(`SWEEP_SCHEDULE: "${truncate(value)}" is not a six-field NCRONTAB expression (${why})`, "SWEEP_SCHEDULE");
  };
  if (fields.length !== 6) refuse(`${fields.length} fields`);
  fields.forEach((field, index) => {
    const spec = SCHEDULE_FIELDS[index] as (typeof SCHEDULE_FIELDS)[number];
    const number = (text: string): number => {
      const named = "names" in spec ? (spec.names as readonly string[]).indexOf(text.toLowerCase()) : -1;
      const parsed = named >= 0 ? named + spec.min : /^\d+$/.test(text) ? Number(text) : Number.NaN;
      if (!(parsed >= spec.min && parsed <= spec.max)) refuse(`${spec.name} "${text}" is outside ${spec.min}-${spec.max}`);
      return parsed;
    };
    for (const part of field.split(",")) {
      const [range, step, extra] = part.split("/");
      if (extra !== undefined || range === undefined || range === "") refuse(`${spec.name} "${part}"`);
      if (step !== undefined && !(/^\d+$/.test(step) && Number(step) > 0)) refuse(`${spec.name} step "${step}"`);
      if (range === "*") continue;
      const [low, high, more] = (range as string).split("-");
      if (more !== undefined) refuse(`${spec.name} "${part}"`);
      if (high !== undefined && number(low as string) > number(high)) refuse(`${spec.name} range "${range}" runs backwards`);
      if (high === undefined) number(low as string);
    }
  });
  return value.trim();
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value;
}
