/**
 * loadSettings: defaults, the forms each setting accepts, and one-line refusals naming the setting;
 * CREATED_RESOURCE_TAGS is refused at start, naming the setting, unless Azure would take every tag in it.
 */
import { describe, expect, it } from "vitest";
import { loadSettings, parseSubscriptions, SETTING_NAMES } from "../../src/config/settings.js";
import { SettingsError } from "../../src/errors.js";

const SUB = "8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f";
const WORKSPACE = `/subscriptions/${SUB}/resourceGroups/rg-ops/providers/Microsoft.OperationalInsights/workspaces/law-ops`;
const load = (tags: string, extra: Record<string, string> = {}) => loadSettings({ CREATED_RESOURCE_TAGS: tags, ...extra });
const manyTags = (count: number) => JSON.stringify(Object.fromEntries(Array.from({ length: count }, (_, index) => [`tag${index}`, "x"])));

describe("CREATED_RESOURCE_TAGS", () => {
  it("unset: no tags", () => {
    expect(loadSettings({}).createdResourceTags).toEqual({});
  });

  it.each([
    { case: "two tags", value: '{"costCenter":"security-ops","owner":"platform"}', tags: { costCenter: "security-ops", owner: "platform" } },
    { case: "an empty value", value: '{"reviewed":""}', tags: { reviewed: "" } },
    { case: "49 tags (one left for the service's createdBy)", value: manyTags(49), tags: JSON.parse(manyTags(49)) as Record<string, string> },
    { case: "a 512-character name and a 256-character value", value: JSON.stringify({ ["n".repeat(512)]: "v".repeat(256) }), tags: { ["n".repeat(512)]: "v".repeat(256) } },
    { case: "the opt-out tag with another value", value: '{"ama-remediation":"managed"}', tags: { "ama-remediation": "managed" } },
  ])("accepts $case", ({ value, tags }) => {
    expect(load(value).createdResourceTags).toEqual(tags);
  });

  it.each([
    { case: "not JSON", value: "costCenter=security-ops", why: "is not JSON" },
    { case: "an array", value: '["costCenter"]', why: "expected a JSON object" },
    { case: "null", value: "null", why: "expected a JSON object" },
    { case: "a number value", value: '{"costCenter":42}', why: 'tag "costCenter" has a number value' },
    { case: "a null value", value: '{"costCenter":null}', why: 'tag "costCenter" has a null value' },
    { case: "more than 49 tags", value: manyTags(50), why: "50 tags; at most 49" },
    { case: "a name over 512 characters", value: JSON.stringify({ ["n".repeat(513)]: "x" }), why: "longer than 512 characters" },
    { case: "a value over 256 characters", value: JSON.stringify({ owner: "v".repeat(257) }), why: "value longer than 256 characters" },
    ...["<", ">", "%", "&", "\\", "?", "/"].map((character) => ({ case: `a name with ${character}`, value: JSON.stringify({ [`cost${character}center`]: "x" }), why: "contains one of < > % & \\ ? /" })),
    { case: "an empty name", value: '{" ":"x"}', why: "a tag name is empty" },
    { case: "one name in two casings", value: '{"Owner":"a","owner":"b"}', why: "appears twice" },
    { case: "the opt-out tag set to skip", value: '{"AMA-Remediation":"skip"}', why: "is the opt-out tag" },
    { case: "the opt-out tag with an end date", value: '{"ama-remediation":"skip-until=2030-01-01"}', why: 'is the opt-out tag (OPT_OUT_TAG) with an opt-out value ("skip-until=2030-01-01")' },
    { case: "the opt-out tag with an unreadable end date", value: '{"ama-remediation":"Skip-Until=soon"}', why: "is the opt-out tag" },
  ])("refuses $case", ({ value, why }) => {
    let thrown: unknown;
    try {
      load(value);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SettingsError);
    expect(thrown).toMatchObject({ field: "CREATED_RESOURCE_TAGS", message: expect.stringMatching(/^CREATED_RESOURCE_TAGS: /) });
    expect((thrown as Error).message).toContain(why);
  });

  it("checks the opt-out tag that is configured, not the default", () => {
    expect(() => load('{"keep-out":"skip"}', { OPT_OUT_TAG: "keep-out" })).toThrow(/is the opt-out tag/);
    expect(load('{"ama-remediation":"skip"}', { OPT_OUT_TAG: "keep-out" }).createdResourceTags).toEqual({ "ama-remediation": "skip" });
  });
});

describe("OPT_OUT_TAG", () => {
  it("is held to the same tag-name rules", () => {
    expect(() => loadSettings({ OPT_OUT_TAG: "skip/me" })).toThrow(/^OPT_OUT_TAG: not a valid Azure tag name/);
  });
});

describe("loadSettings", () => {
  it("defaults every setting when the environment is empty or blank", () => {
    const defaults = {
      armEndpoint: "https://management.azure.com",
      subscriptions: [],
      profiles: new Set(["machines", "sql"]),
      optOutTag: "ama-remediation",
      createdResourceTags: {},
      removeLegacyMma: false,
      scopeToSupportedImages: false,
      sqlMode: "auto",
      dryRun: false,
      sweepSchedule: "0 */15 * * * *",
      fullReconcileHours: 24,
      planMaxAgeHours: 72,
      eventBatchSeconds: 10,
      extensionReinstallAttemptsPerDay: 3,
      pollIntervalMs: 5000,
      operationCheckAfterMs: 600000,
      operationTimeoutMs: 1200000,
      conflictRetryDelayMs: 10000,
    };
    expect(loadSettings({})).toEqual(defaults);
    expect(loadSettings(Object.fromEntries(SETTING_NAMES.map((name) => [name, "  "])))).toEqual(defaults);
  });

  it("reads each setting in the forms an operator writes it", () => {
    const settings = loadSettings({
      ARM_ENDPOINT: "HTTPS://Management.UsGovCloudApi.net/",
      ARM_TOKEN: " token ",
      REMEDIATION_SUBSCRIPTIONS: ` ${SUB.toUpperCase()}, ,${SUB}`,
      REMEDIATION_PROFILES: "SQL",
      LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE,
      REMOVE_LEGACY_MMA: "TRUE",
      SCOPE_TO_SUPPORTED_IMAGES: "1",
      SQL_MODE: "Extension-Only",
      DRY_RUN: "0",
      SWEEP_SCHEDULE: " 0 30 */2 * jan-mar mon,fri ",
      FULL_RECONCILE_HOURS: "0.5",
      EVENT_BATCH_SECONDS: "0",
      LOG_LEVEL: "Debug",
    });
    expect(settings).toMatchObject({
      armEndpoint: "https://management.usgovcloudapi.net",
      armToken: "token",
      subscriptions: [SUB],
      profiles: new Set(["sql"]),
      customWorkspaceId: WORKSPACE,
      removeLegacyMma: true,
      scopeToSupportedImages: true,
      sqlMode: "extension-only",
      dryRun: false,
      sweepSchedule: "0 30 */2 * jan-mar mon,fri",
      fullReconcileHours: 0.5,
      eventBatchSeconds: 0,
      logLevel: "debug",
    });
  });

  it.each([
    { env: { ARM_ENDPOINT: "http://management.azure.com" }, message: "ARM_ENDPOINT: must be an https:// URL" },
    { env: { ARM_ENDPOINT: "management.azure.com" }, message: 'ARM_ENDPOINT: "management.azure.com" is not a URL' },
    { env: { REMEDIATION_SUBSCRIPTIONS: `${SUB},not-a-guid` }, message: 'REMEDIATION_SUBSCRIPTIONS: "not-a-guid" is not a subscription id (GUID)' },
    { env: { REMEDIATION_PROFILES: "machines,containers" }, message: 'REMEDIATION_PROFILES: "containers" is not one of machines, sql' },
    {
      env: { LOG_ANALYTICS_WORKSPACE_ID: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa` },
      message: "LOG_ANALYTICS_WORKSPACE_ID: expected a Microsoft.OperationalInsights/workspaces resource id, got Microsoft.Storage/storageAccounts",
    },
    {
      env: { DATA_COLLECTION_RULE_ID: `/subscriptions/${SUB}/providers/Microsoft.Insights/dataCollectionRules/dcr` },
      message: "DATA_COLLECTION_RULE_ID: expected a Microsoft.Insights/dataCollectionRules resource id inside a resource group",
    },
    { env: { REMOVE_LEGACY_MMA: "maybe" }, message: 'REMOVE_LEGACY_MMA: expected true or false, got "maybe"' },
    { env: { SQL_MODE: "legacy" }, message: 'SQL_MODE: "legacy" is not one of ama, extension-only, auto' },
    { env: { SWEEP_SCHEDULE: "*/15 * * * *" }, message: 'SWEEP_SCHEDULE: "*/15 * * * *" is not a six-field NCRONTAB expression (5 fields)' },
    { env: { SWEEP_SCHEDULE: "0 0 5-2 * * *" }, message: 'SWEEP_SCHEDULE: "0 0 5-2 * * *" is not a six-field NCRONTAB expression (hour range "5-2" runs backwards)' },
    { env: { SWEEP_SCHEDULE: "0 0 0 1 13 *" }, message: 'SWEEP_SCHEDULE: "0 0 0 1 13 *" is not a six-field NCRONTAB expression (month "13" is outside 1-12)' },
    { env: { SWEEP_SCHEDULE: "0 */0 * * * *" }, message: 'SWEEP_SCHEDULE: "0 */0 * * * *" is not a six-field NCRONTAB expression (minute step "0")' },
    { env: { FULL_RECONCILE_HOURS: "Infinity" }, message: 'FULL_RECONCILE_HOURS: expected a positive number, got "Infinity"' },
    { env: { EVENT_BATCH_SECONDS: "901" }, message: 'EVENT_BATCH_SECONDS: expected a number from 0 to 900, got "901"' },
    { env: { ARM_POLL_INTERVAL_MS: "abc" }, message: 'ARM_POLL_INTERVAL_MS: expected a positive number, got "abc"' },
    { env: { ARM_CONFLICT_RETRY_DELAY_MS: "0" }, message: 'ARM_CONFLICT_RETRY_DELAY_MS: expected a positive number, got "0"' },
    { env: { LOG_LEVEL: "loud" }, message: 'LOG_LEVEL: "loud" is not one of fatal, error, warn, info, debug, trace, silent' },
  ])("refuses $message", ({ env, message }) => {
    expect(() => loadSettings(env)).toThrow(new SettingsError(message, Object.keys(env)[0]));
  });

  it("names every bad setting in one line, so one restart shows all there is to fix", () => {
    expect(() => loadSettings({ SQL_MODE: "legacy", DRY_RUN: "sometimes", EVENT_BATCH_SECONDS: "-1" })).toThrow(
      new SettingsError('SQL_MODE: "legacy" is not one of ama, extension-only, auto; DRY_RUN: expected true or false, got "sometimes"; EVENT_BATCH_SECONDS: expected a number from 0 to 900, got "-1"', "SQL_MODE"),
    );
  });

  it("quotes at most 80 characters of a bad value, on one line whatever it holds", () => {
    expect(() => loadSettings({ SQL_MODE: "x".repeat(500) })).toThrow(`SQL_MODE: "${"x".repeat(80)}…" is not one of`);
    expect(() => loadSettings({ REMEDIATION_SUBSCRIPTIONS: 'a"b\nc' })).toThrow('REMEDIATION_SUBSCRIPTIONS: "a\\"b\\nc" is not a subscription id (GUID)');
  });
});

describe("parseSubscriptions", () => {
  it("names the flag or setting it reads for", () => {
    expect(parseSubscriptions(`${SUB.toUpperCase()},${SUB}`, "--subscription")).toEqual([SUB]);
    expect(parseSubscriptions(undefined, "--subscription")).toEqual([]);
    expect(() => parseSubscriptions("Contoso Production", "--subscription")).toThrow(
      expect.objectContaining({ field: "--subscription", message: '--subscription: "Contoso Production" is not a subscription id (GUID)' }),
    );
  });
});
