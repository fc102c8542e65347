/**
 * Bad-input corpus, CLI arguments and settings (main(argv, env), what bin.js runs): exit 2, exactly one
 * line on stderr naming the problem, nothing on stdout, no stack trace, not one ARM request.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { demoEstate, machineWith } from "../../local-azure/src/estate.js";
import { startEngineHarness, type EngineHarness } from "../support/engineHarness.js";
import { expectNoStack } from "./support.js";
import { captureOutput, type CapturedRun } from "../support/captureOutput.js";

let h: EngineHarness;
let dir: string;
const estate = demoEstate();
const OUTSIDE = "99999999-9999-4999-8999-999999999999";
const SUB = estate.subscriptions[0]?.subscriptionId as string;
const WORKSPACE = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws`;

beforeAll(async () => {
  h = await startEngineHarness();
  h.load(estate);
  dir = await mkdtemp(join(tmpdir(), "ama-remediator-badcli-"));
});
afterAll(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

function cli(argv: readonly string[], env: Record<string, string>): Promise<CapturedRun> {
  return captureOutput(() => main(argv, h.env(env)));
}

async function expectUsageError(argv: readonly string[], env: Record<string, string>, message: RegExp): Promise<void> {
  h.azure.resetRequests();
  const result = await cli(argv, env);
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe("");
  expect(result.stderr).toMatch(/^ama-remediator: [^\n]+\n$/); // exactly one line
  expect(result.stderr).toMatch(message);
  expect(result.stderr.length).toBeLessThan(400);
  expectNoStack(result.stderr);
  expect(h.azure.requests).toEqual([]);
}

let fileCount = 0;
async function file(content: string): Promise<string> {
  const path = join(dir, `input-${fileCount++}.json`);
  await writeFile(path, content);
  return path;
}

describe("arguments", () => {
  it.each<[string, string[], RegExp]>([
    ["no command", [], /a command is required/],
    ["an unknown command", ["remediate"], /unknown command "remediate"/],
    ["a command in upper case", ["SWEEP"], /unknown command "SWEEP"/],
    ["a command with a newline in it", ["sweep\nrm -rf /"], /unknown command "sweep rm -rf \/"/],
    ["an unknown long flag", ["sweep", "--force"], /--force/],
    ["an unknown short flag", ["sweep", "-f"], /-f/],
    ["a flag with a value that takes none", ["sweep", "--dry-run=false"], /--dry-run/],
    ["--json with a value", ["sweep", "--json=yes"], /--json/],
    ["a positional argument", ["sweep", "everything"], /everything|positional/i],
    ["--file on sweep", ["sweep", "--file", "x.json"], /--file/],
    ["--subscription without a value", ["sweep", "--subscription"], /--subscription/],
    ["a --subscription that is a name", ["sweep", "--subscription", "Contoso Production"], /--subscription: "Contoso Production" is not a subscription id/],
    ["a braced --subscription GUID", ["sweep", "--subscription", `{${SUB}}`], /is not a subscription id/],
    ["a --subscription that is a resource id", ["sweep", "--subscription", `/subscriptions/${SUB}`], /is not a subscription id/],
    ["a --subscription outside REMEDIATION_SUBSCRIPTIONS", ["sweep", "--subscription", OUTSIDE], /outside the configured scope/],
    ["one good and one bad --subscription", ["sweep", "--subscription", SUB, "--subscription", "nope"], /"nope" is not a subscription id/],
    ["a --subscription with a newline", ["sweep", "--subscription", "abc\ndef"], /is not a subscription id/],
  ])("%s", async (_name, argv, message) => {
    await expectUsageError(argv, {}, message);
  });
});

describe("settings", () => {
  it.each<[string, Record<string, string>, RegExp]>([
    ["SQL_MODE=foo", { SQL_MODE: "foo" }, /SQL_MODE: "foo" is not one of ama, extension-only/],
    ["ARM_ENDPOINT=http://…", { ARM_ENDPOINT: "http://management.azure.com" }, /ARM_ENDPOINT: must be an https:\/\/ URL/],
    ["ARM_ENDPOINT=ftp://…", { ARM_ENDPOINT: "ftp://management.azure.com" }, /ARM_ENDPOINT: must be an https:\/\/ URL/],
    ["ARM_ENDPOINT not a URL", { ARM_ENDPOINT: "management.azure.com" }, /ARM_ENDPOINT: "management.azure.com" is not a URL/],
    ["ARM_ENDPOINT javascript:", { ARM_ENDPOINT: "javascript:alert(1)" }, /ARM_ENDPOINT/],
    ["SWEEP_SCHEDULE with five fields", { SWEEP_SCHEDULE: "*/15 * * * *" }, /SWEEP_SCHEDULE: .* is not a six-field NCRONTAB expression/],
    ["SWEEP_SCHEDULE with seven fields", { SWEEP_SCHEDULE: "0 */15 * * * * *" }, /SWEEP_SCHEDULE/],
    ["SWEEP_SCHEDULE in words", { SWEEP_SCHEDULE: "every fifteen minutes" }, /SWEEP_SCHEDULE/],
    ["SWEEP_SCHEDULE with a shell injection", { SWEEP_SCHEDULE: "0 */15 * * * *; rm -rf /" }, /SWEEP_SCHEDULE/],
    ["LOG_ANALYTICS_WORKSPACE_ID not an id", { LOG_ANALYTICS_WORKSPACE_ID: "DefaultWorkspace" }, /LOG_ANALYTICS_WORKSPACE_ID/],
    ["LOG_ANALYTICS_WORKSPACE_ID the workspace GUID (customer id)", { LOG_ANALYTICS_WORKSPACE_ID: "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b" }, /LOG_ANALYTICS_WORKSPACE_ID/],
    ["LOG_ANALYTICS_WORKSPACE_ID a storage account", { LOG_ANALYTICS_WORKSPACE_ID: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa` }, /LOG_ANALYTICS_WORKSPACE_ID: expected a Microsoft.OperationalInsights\/workspaces resource id/],
    ["LOG_ANALYTICS_WORKSPACE_ID with '..'", { LOG_ANALYTICS_WORKSPACE_ID: WORKSPACE.replace("/resourceGroups/rg", "/resourceGroups/..") }, /LOG_ANALYTICS_WORKSPACE_ID/],
    ["LOG_ANALYTICS_WORKSPACE_ID without a resource group", { LOG_ANALYTICS_WORKSPACE_ID: `/subscriptions/${SUB}/providers/Microsoft.OperationalInsights/workspaces/ws` }, /LOG_ANALYTICS_WORKSPACE_ID/],
    ["LOG_ANALYTICS_WORKSPACE_ID a workspace URL", { LOG_ANALYTICS_WORKSPACE_ID: `https://portal.azure.com/#resource${WORKSPACE}` }, /LOG_ANALYTICS_WORKSPACE_ID/],
    ["DATA_COLLECTION_RULE_ID a workspace", { DATA_COLLECTION_RULE_ID: WORKSPACE }, /DATA_COLLECTION_RULE_ID/],
    ["REMOVE_LEGACY_MMA=maybe", { REMOVE_LEGACY_MMA: "maybe" }, /REMOVE_LEGACY_MMA: expected true or false, got "maybe"/],
    ["REMOVE_LEGACY_MMA=yes", { REMOVE_LEGACY_MMA: "yes" }, /REMOVE_LEGACY_MMA/],
    ["DRY_RUN=sometimes", { DRY_RUN: "sometimes" }, /DRY_RUN/],
    ["SCOPE_TO_SUPPORTED_IMAGES=2", { SCOPE_TO_SUPPORTED_IMAGES: "2" }, /SCOPE_TO_SUPPORTED_IMAGES/],
    ["REMEDIATION_SUBSCRIPTIONS a name", { REMEDIATION_SUBSCRIPTIONS: "Contoso Production" }, /REMEDIATION_SUBSCRIPTIONS/],
    ["REMEDIATION_SUBSCRIPTIONS with one bad id", { REMEDIATION_SUBSCRIPTIONS: `${SUB},not-a-guid` }, /REMEDIATION_SUBSCRIPTIONS: "not-a-guid"/],
    ["REMEDIATION_PROFILES=containers", { REMEDIATION_PROFILES: "machines,containers" }, /REMEDIATION_PROFILES/],
    ["FULL_RECONCILE_HOURS=0", { FULL_RECONCILE_HOURS: "0" }, /FULL_RECONCILE_HOURS/],
    ["FULL_RECONCILE_HOURS=-1", { FULL_RECONCILE_HOURS: "-1" }, /FULL_RECONCILE_HOURS/],
    ["FULL_RECONCILE_HOURS=Infinity", { FULL_RECONCILE_HOURS: "Infinity" }, /FULL_RECONCILE_HOURS/],
    ["EVENT_BATCH_SECONDS=1000", { EVENT_BATCH_SECONDS: "1000" }, /EVENT_BATCH_SECONDS/],
    ["ARM_POLL_INTERVAL_MS=abc", { ARM_POLL_INTERVAL_MS: "abc" }, /ARM_POLL_INTERVAL_MS/],
    ["ARM_CONFLICT_RETRY_DELAY_MS=0", { ARM_CONFLICT_RETRY_DELAY_MS: "0" }, /ARM_CONFLICT_RETRY_DELAY_MS/],
    ["OPT_OUT_TAG with a slash", { OPT_OUT_TAG: "skip/me" }, /OPT_OUT_TAG/],
    ["OPT_OUT_TAG of 600 characters", { OPT_OUT_TAG: "t".repeat(600) }, /OPT_OUT_TAG/],
  ])("%s", async (_name, env, message) => {
    await expectUsageError(["sweep"], env, message);
  });

  it.each<[string, string]>([
    ["second 99", "99 */15 * * * *"],
    ["hour 25", "0 0 25 * * *"],
    ["month 13", "0 0 0 1 13 *"],
  ])("SWEEP_SCHEDULE with %s → exit 2", async (_name, schedule) => {
    await expectUsageError(["sweep"], { SWEEP_SCHEDULE: schedule }, /SWEEP_SCHEDULE/);
  });

  it("LOG_LEVEL=loud → exit 2 naming LOG_LEVEL", async () => {
    await expectUsageError(["sweep"], { LOG_LEVEL: "loud" }, /LOG_LEVEL/);
  });
});

describe("event input", () => {
  const event = () => ({
    topic: `/subscriptions/${SUB}`,
    subject: machineWith(estate, "no-identity").id,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: new Date().toISOString(),
    id: crypto.randomUUID(),
    dataVersion: "2",
    metadataVersion: "1",
    data: { resourceUri: machineWith(estate, "no-identity").id, operationName: "Microsoft.Compute/virtualMachines/write", status: "Succeeded", subscriptionId: SUB },
  });

  it.each<[string, () => string, RegExp]>([
    ["a file that is not JSON", () => "this is not json", /event 0: body is not JSON/],
    ["an empty file", () => "", /event 0: body is not JSON/],
    ["a 2 MB event", () => JSON.stringify([{ ...event(), data: { ...event().data, padding: "x".repeat(2 * 1024 * 1024) } }]), /over Event Grid's 1 MB limit/],
    ["an event whose resourceUri climbs out with '..'", () => JSON.stringify([{ ...event(), data: { ...event().data, resourceUri: `/subscriptions/${SUB}/../../etc/passwd` } }]), /not an ARM resource id/],
    ["an event whose topic is another subscription", () => JSON.stringify([{ ...event(), topic: `/subscriptions/${OUTSIDE}` }]), /does not match/],
    ["a good event followed by garbage", () => JSON.stringify([event(), { garbage: true }]), /event 1:/],
  ])("%s", async (_name, content, message) => {
    await expectUsageError(["event", "--file", await file(content())], {}, message);
  });

  it("a file that does not exist", async () => {
    await expectUsageError(["event", "--file", join(dir, "missing.json")], {}, /cannot read/);
  });

  it("a directory instead of a file", async () => {
    await expectUsageError(["event", "--file", dir], {}, /cannot read/);
  });
});
