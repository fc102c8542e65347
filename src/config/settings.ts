/**
 * Settings come from the environment under the same names for the Function App and the CLI.
 * Each setting is one zod schema over its raw string, in `ENVIRONMENT` below (the list the docs' settings
 * tables are checked against). Parsing is strict: an invalid value is refused at start with a message
 * naming the setting, so a misconfigured app fails its first invocation instead of acting on a guess.
 */
import { z } from "zod";
import { SettingsError } from "../errors.js";
import { carriesOptOut } from "../model.js";
import { appInsightsConnectionString, attemptsPerDay, batchSeconds, choice, commaList, flag, httpsOrigin, ncrontab, positiveNumber, quoted, resourceIdOf, subscriptionIds } from "./settingSchemas.js";
import { createdResourceTags, tagName } from "./tagSchemas.js";

export type Profile = "machines" | "sql";
/** `auto`: per subscription, the architecture its assigned Defender for SQL initiative uses (evaluate's sqlArchitecture). */
export type SqlMode = "ama" | "extension-only" | "auto";

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
  /** A saved plan older than this is refused whole by apply: too much may have moved since it was reviewed. */
  readonly planMaxAgeHours: number;
  /** Events for one subscription are collected this long and reconciled together (0 = at once). */
  readonly eventBatchSeconds: number;
  /** Reinstalls of a machine's Failed agent extension that events may trigger per UTC day; past it the machine is reported. */
  readonly extensionReinstallAttemptsPerDay: number;
  /** Between two looks at a long-running write being confirmed, when ARM sent no Retry-After (its header always wins). */
  readonly pollIntervalMs: number;
  /** A long-running write Resource Graph has not shown done after this long is asked about through its operation. */
  readonly operationCheckAfterMs: number;
  /** A long-running write not confirmed after this long is reported unconfirmed and left to the next run. */
  readonly operationTimeoutMs: number;
  /** First wait after a 409 "another operation is in progress" on a machine (doubles, up to 8x). */
  readonly conflictRetryDelayMs: number;
  /** pino level when LOG_LEVEL is set (each entry point has its own default). */
  readonly logLevel?: (typeof LOG_LEVELS)[number];
}

export type Environment = Readonly<Record<string, string | undefined>>;

const PROFILES = ["machines", "sql"] as const satisfies readonly Profile[];
const SQL_MODES = ["ama", "extension-only", "auto"] as const satisfies readonly SqlMode[];
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Every setting `loadSettings` reads, by its environment name; a default is parsed like a value given. */
const ENVIRONMENT = z.object({
  ARM_ENDPOINT: httpsOrigin.prefault("https://management.azure.com"),
  ARM_TOKEN: z.string().optional(),
  REMEDIATION_SUBSCRIPTIONS: subscriptionIds.prefault(""),
  REMEDIATION_PROFILES: commaList(choice(PROFILES)).prefault(PROFILES.join(",")),
  LOG_ANALYTICS_WORKSPACE_ID: resourceIdOf("Microsoft.OperationalInsights/workspaces").optional(),
  DATA_COLLECTION_RULE_ID: resourceIdOf("Microsoft.Insights/dataCollectionRules").optional(),
  OPT_OUT_TAG: tagName.prefault("ama-remediation"),
  CREATED_RESOURCE_TAGS: createdResourceTags.prefault("{}"),
  REMOVE_LEGACY_MMA: flag.prefault("false"),
  SCOPE_TO_SUPPORTED_IMAGES: flag.prefault("false"),
  SQL_MODE: choice(SQL_MODES).prefault("auto"),
  DRY_RUN: flag.prefault("false"),
  SWEEP_SCHEDULE: ncrontab.prefault("0 */15 * * * *"),
  FULL_RECONCILE_HOURS: positiveNumber.prefault("24"),
  PLAN_MAX_AGE_HOURS: positiveNumber.prefault("72"),
  EVENT_BATCH_SECONDS: batchSeconds.prefault("10"),
  EXTENSION_REINSTALL_ATTEMPTS_PER_DAY: attemptsPerDay.prefault("3"),
  ARM_POLL_INTERVAL_MS: positiveNumber.prefault("5000"),
  ARM_OPERATION_CHECK_AFTER_MS: positiveNumber.prefault("600000"),
  ARM_OPERATION_TIMEOUT_MS: positiveNumber.prefault("1200000"),
  ARM_CONFLICT_RETRY_DELAY_MS: positiveNumber.prefault("10000"),
  // Unset leaves the level to each entry point (the Function App and the CLI differ).
  LOG_LEVEL: choice(LOG_LEVELS).optional(),
  // Checked here so a bad value fails like any setting; read by src/telemetry (never kept in Settings: never logged).
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString.optional(),
}).superRefine((values, context) => {
  // Created resources carrying the opt-out tag would be refused to this very service on the next run.
  const optOut = Object.entries(values.CREATED_RESOURCE_TAGS).find(([name, value]) => carriesOptOut({ [name]: value }, values.OPT_OUT_TAG));
  if (optOut) context.addIssue({ code: "custom", path: ["CREATED_RESOURCE_TAGS"], input: optOut, message: `tag ${quoted(optOut[0])} is the opt-out tag (OPT_OUT_TAG) with an opt-out value (${quoted(optOut[1])})` });
});

/** The environment name of every setting loadSettings reads; the docs' settings tables are checked against it. */
export const SETTING_NAMES = ENVIRONMENT.keyof().options;

export function loadSettings(env: Environment = process.env): Settings {
  // A blank value counts as unset: the deployment template writes optional settings as empty strings.
  const given = Object.fromEntries(SETTING_NAMES.map((name) => [name, env[name]?.trim() || undefined]));
  const result = ENVIRONMENT.safeParse(given);
  if (!result.success) throw settingsError(result.error);
  const values = result.data;
  return {
    armEndpoint: values.ARM_ENDPOINT,
    ...(values.ARM_TOKEN ? { armToken: values.ARM_TOKEN } : {}),
    subscriptions: values.REMEDIATION_SUBSCRIPTIONS,
    profiles: new Set(values.REMEDIATION_PROFILES),
    ...(values.LOG_ANALYTICS_WORKSPACE_ID ? { customWorkspaceId: values.LOG_ANALYTICS_WORKSPACE_ID } : {}),
    ...(values.DATA_COLLECTION_RULE_ID ? { dataCollectionRuleId: values.DATA_COLLECTION_RULE_ID } : {}),
    optOutTag: values.OPT_OUT_TAG,
    createdResourceTags: values.CREATED_RESOURCE_TAGS,
    removeLegacyMma: values.REMOVE_LEGACY_MMA,
    scopeToSupportedImages: values.SCOPE_TO_SUPPORTED_IMAGES,
    sqlMode: values.SQL_MODE,
    dryRun: values.DRY_RUN,
    sweepSchedule: values.SWEEP_SCHEDULE,
    fullReconcileHours: values.FULL_RECONCILE_HOURS,
    planMaxAgeHours: values.PLAN_MAX_AGE_HOURS,
    eventBatchSeconds: values.EVENT_BATCH_SECONDS,
    extensionReinstallAttemptsPerDay: values.EXTENSION_REINSTALL_ATTEMPTS_PER_DAY,
    pollIntervalMs: values.ARM_POLL_INTERVAL_MS,
    operationCheckAfterMs: values.ARM_OPERATION_CHECK_AFTER_MS,
    operationTimeoutMs: values.ARM_OPERATION_TIMEOUT_MS,
    conflictRetryDelayMs: values.ARM_CONFLICT_RETRY_DELAY_MS,
    ...(values.LOG_LEVEL ? { logLevel: values.LOG_LEVEL } : {}),
  };
}

/** Subscription ids from a comma-separated list under `name` (a setting or a CLI flag), as the scope takes them. */
export function parseSubscriptions(value: string | undefined, name: string): string[] {
  const result = subscriptionIds.safeParse(value ?? "");
  if (!result.success) throw settingsError(result.error, name);
  return result.data;
}

/**
 * One line naming each bad setting with its first problem, so one restart shows everything to fix;
 * `field` is the first of them. `name` names a value parsed on its own (the path is then empty).
 */
function settingsError(error: z.ZodError, name?: string): SettingsError {
  const problems = new Map<string, string>();
  for (const issue of error.issues) {
    const setting = name ?? String(issue.path[0]);
    if (!problems.has(setting)) problems.set(setting, issue.message);
  }
  const message = [...problems].map(([setting, problem]) => `${setting}: ${problem}`).join("; ");
  return new SettingsError(message, problems.keys().next().value);
}
