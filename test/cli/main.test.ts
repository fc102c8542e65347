/**
 * `ama-remediator sweep|event` in-process (main(argv, env) is what bin.js runs), against the emulator:
 * exit codes, the --json contract, one-line errors for bad usage and bad input, and events in both
 * delivery schemas.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { demoEstate, machineWith, type EstateMachine } from "../../local-azure/src/estate.js";
import { idKey } from "../../src/azure/ids.js";
import { hasAmaSucceeded, startEngineHarness, subscriptionNamed, type EngineHarness } from "../support/engineHarness.js";
import { asCloudEvent, resourceWriteEvent } from "../../local-azure/src/events.js";
import { captureOutput, type CapturedRun } from "../support/captureOutput.js";
import { builtInDefinitionId } from "../../local-azure/src/policyDeny.js";

let h: EngineHarness;
let dir: string;
const estate = demoEstate();
const production = subscriptionNamed(estate, "Contoso Production");
const OUTSIDE = "99999999-9999-4999-8999-999999999999";

beforeAll(async () => {
  h = await startEngineHarness();
  dir = await mkdtemp(join(tmpdir(), "ama-remediator-cli-"));
});
afterAll(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

type CliResult = CapturedRun;

function cli(argv: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return captureOutput(() => main(argv, h.env(env)));
}

interface JsonReport {
  summary: Record<"compliant" | "remediated" | "planned" | "failed" | "skipped", number> & { deniedByPolicy: { writes: number; policies: { policyAssignmentId: string; policyAssignmentName: string; writes: number }[] } };
  resources: { id: string; status: string; actions: unknown[] }[];
}

/** stdout must be exactly one JSON document. */
function json(result: CliResult): JsonReport {
  expect(result.stdout.trim().split("\n")).toHaveLength(1);
  return JSON.parse(result.stdout) as JsonReport;
}

let fileCount = 0;
async function file(content: unknown): Promise<string> {
  const path = join(dir, `event-${fileCount++}.json`);
  await writeFile(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

function eventGridEvent(resourceUri: string, overrides: Record<string, unknown> = {}) {
  return resourceWriteEvent(resourceUri, overrides);
}

function cloudEvent(resourceUri: string) {
  return asCloudEvent(eventGridEvent(resourceUri));
}

const machinesIn = (report: JsonReport) => report.resources.filter((resource) => resource.id.includes("/virtualMachines/") || resource.id.includes("/machines/")).filter((resource) => !resource.id.includes("/providers/Microsoft.Insights/"));
const hasAma = (machine: EstateMachine) => hasAmaSucceeded(h.azure, machine.id);

describe("sweep", () => {
  it("--json: exit 0, one JSON document with summary and resources; a second sweep remediates nothing", async () => {
    h.load(estate);
    const first = await cli(["sweep", "--json"]);
    expect(first).toMatchObject({ code: 0, stderr: "" });
    const report = json(first);
    const { deniedByPolicy, ...counts } = report.summary;
    expect(Object.keys(counts).sort()).toEqual(["compliant", "failed", "planned", "remediated", "skipped"]);
    expect(deniedByPolicy).toEqual({ writes: 0, policies: [] });
    expect(report.summary.remediated).toBeGreaterThan(0);
    expect(report.resources.length).toBe(Object.values(counts).reduce((sum, count) => sum + count, 0));
    for (const resource of report.resources) {
      expect(resource).toEqual(expect.objectContaining({ id: expect.stringMatching(/^\/subscriptions\//), status: expect.stringMatching(/^(compliant|remediated|planned|failed|skipped)$/), actions: expect.any(Array) }));
    }

    h.azure.resetRequests();
    const second = await cli(["sweep", "--json"]);
    expect(second.code).toBe(0);
    expect(json(second).summary).toMatchObject({ remediated: 0, planned: 0, failed: 0 });
    expect(h.writes()).toEqual([]);
  });

  it("a write a deny policy refused: exit 1; --json counts it and names the policy; the table says so too", async () => {
    const assignment = {
      id: `${production.id}/providers/Microsoft.Authorization/policyAssignments/require-costcenter-rg`,
      name: "require-costcenter-rg",
      type: "Microsoft.Authorization/policyAssignments",
      properties: { displayName: "Require costCenter on resource groups", policyDefinitionId: builtInDefinitionId("96670d01-0a4d-4649-9c89-2d3abc0a5025"), parameters: { tagName: { value: "costCenter" } } },
    };
    h.load(estate, assignment);
    const result = await cli(["sweep", "--json"]);
    expect(result.code).toBe(1);
    const { deniedByPolicy } = json(result).summary;
    expect(deniedByPolicy.writes).toBeGreaterThan(0);
    expect(deniedByPolicy.policies).toEqual([expect.objectContaining({ policyAssignmentId: assignment.id, policyAssignmentName: assignment.name, writes: deniedByPolicy.writes })]);

    h.load(estate, assignment);
    const table = await cli(["sweep"]);
    expect(table.code).toBe(1);
    expect(table.stdout).toContain(`denied by Azure Policy:\n  'Require costCenter on resource groups' (${assignment.id}): ${deniedByPolicy.writes} denied`);
  });

  it("--dry-run: plans, writes nothing", async () => {
    h.load(estate);
    const result = await cli(["sweep", "--dry-run", "--json"]);
    expect(result.code).toBe(0);
    expect(json(result).summary.planned).toBeGreaterThan(0);
    expect(h.azure.requestCounts()).toMatchObject({ writes: 0, deletes: 0 });
  });

  it("--dry-run --json carries the plan itself: every write with its body", async () => {
    h.load(estate);
    const document = JSON.parse((await cli(["sweep", "--dry-run", "--json"])).stdout) as JsonReport & { dryRun: boolean; plan: { version: number; items: { targetId: string; method: string; body?: unknown }[] } };
    expect(document.dryRun).toBe(true);
    expect(document.plan.version).toBe(1);
    const identity = machineWith(estate, "no-identity", "windows");
    expect(document.plan.items).toContainEqual(expect.objectContaining({ targetId: identity.id, method: "PATCH", body: { identity: { type: "SystemAssigned" } } }));
  });

  it("shows progress on stderr when stderr is a terminal, and only then", async () => {
    h.load(estate);
    const descriptor = Object.getOwnPropertyDescriptor(process.stderr, "isTTY");
    Object.defineProperty(process.stderr, "isTTY", { value: true, configurable: true });
    try {
      const result = await cli(["sweep", "--dry-run", "--json"]);
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/^… discovered \d+ machines in 3 subscriptions\n… planned \d+ writes \(dry run: nothing is applied\)\n/);
      json(result);
    } finally {
      if (descriptor) Object.defineProperty(process.stderr, "isTTY", descriptor);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
  });

  it("DRY_RUN=true in the environment: plans, writes nothing", async () => {
    h.load(estate);
    expect(json(await cli(["sweep", "--json"], { DRY_RUN: "true" })).summary.remediated).toBe(0);
    expect(h.azure.requestCounts()).toMatchObject({ writes: 0, deletes: 0 });
  });

  it("--subscription narrows the sweep to that subscription", async () => {
    h.load(estate);
    const report = json(await cli(["sweep", "--subscription", production.subscriptionId.toUpperCase(), "--json", "--dry-run"]));
    expect(new Set(report.resources.map((resource) => resource.id.split("/")[2]))).toEqual(new Set([production.subscriptionId]));
  });

  it("with no scope configured: every enabled subscription the credential can list", async () => {
    const disabled = "44444444-4444-4444-8444-444444444444";
    h.load(estate, { id: `/subscriptions/${disabled}`, name: disabled, type: "Microsoft.Resources/subscriptions", properties: { displayName: "Old", state: "Disabled" } });
    const report = json(await cli(["sweep", "--json", "--dry-run"], { REMEDIATION_SUBSCRIPTIONS: "" }));
    const seen = new Set(report.resources.map((resource) => resource.id.split("/")[2]));
    expect(seen).toEqual(new Set(estate.subscriptions.map((subscription) => subscription.subscriptionId)));
  });

  it("without --json: a readable table and the totals", async () => {
    h.load(estate);
    const result = await cli(["sweep", "--dry-run"]);
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")[0]).toMatch(/^STATUS\s+KIND\s+RESOURCE\s+ACTIONS \/ NOTES$/);
    expect(result.stdout).toMatch(/Dry run \(nothing changed\): \d+ compliant, 0 remediated, \d+ planned, 0 failed, \d+ skipped/);
    expect(result.stdout).toContain("vm-win-noidentity");
  });

  it("exit 1 when a resource failed, with the report still on stdout", async () => {
    h.load(estate);
    const denied = machineWith(estate, "no-identity", "windows");
    h.azure.setFaults({ forbidden: [{ scope: denied.id }] });
    const result = await cli(["sweep", "--json"]);
    expect(result.code).toBe(1);
    const report = json(result);
    expect(report.summary.failed).toBe(1);
    expect(report.resources.find((resource) => resource.id === denied.id)?.status).toBe("failed");
  });
});

describe("bad usage and bad input: exit 2, one line on stderr, no stack trace, nothing on stdout", () => {
  it.each<[string, string[], Record<string, string>, RegExp]>([
    ["no command", [], {}, /a command is required/],
    ["an unknown command", ["frobnicate"], {}, /unknown command "frobnicate"/],
    ["an unknown flag", ["sweep", "--bogus"], {}, /--bogus/],
    ["--file on sweep", ["sweep", "--file", "x.json"], {}, /--file/],
    ["a positional argument", ["sweep", "extra"], {}, /extra|positional/i],
    ["--subscription without a value", ["sweep", "--subscription"], {}, /--subscription/],
    ["a --subscription that is not a GUID", ["sweep", "--subscription", "prod"], {}, /--subscription: "prod" is not a subscription id/],
    ["a --subscription outside REMEDIATION_SUBSCRIPTIONS", ["sweep", "--subscription", OUTSIDE], {}, /outside the configured scope/],
    ["SQL_MODE=foo", ["sweep"], { SQL_MODE: "foo" }, /SQL_MODE: "foo" is not one of ama, extension-only/],
    ["ARM_ENDPOINT over http", ["sweep"], { ARM_ENDPOINT: "http://x" }, /ARM_ENDPOINT: must be an https:\/\/ URL/],
    ["ARM_ENDPOINT not a URL", ["sweep"], { ARM_ENDPOINT: "management" }, /ARM_ENDPOINT/],
    ["REMOVE_LEGACY_MMA=maybe", ["sweep"], { REMOVE_LEGACY_MMA: "maybe" }, /REMOVE_LEGACY_MMA/],
    ["REMEDIATION_SUBSCRIPTIONS with a bad id", ["sweep"], { REMEDIATION_SUBSCRIPTIONS: "abc" }, /REMEDIATION_SUBSCRIPTIONS/],
    ["REMEDIATION_PROFILES with an unknown profile", ["sweep"], { REMEDIATION_PROFILES: "machines,containers" }, /REMEDIATION_PROFILES/],
    ["LOG_ANALYTICS_WORKSPACE_ID that is not a workspace id", ["sweep"], { LOG_ANALYTICS_WORKSPACE_ID: `/subscriptions/${OUTSIDE}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa` }, /LOG_ANALYTICS_WORKSPACE_ID/],
    ["DATA_COLLECTION_RULE_ID that is not an ARM id", ["sweep"], { DATA_COLLECTION_RULE_ID: "dcr-central" }, /DATA_COLLECTION_RULE_ID/],
    ["an event file that does not exist", ["event", "--file", "/nonexistent/event.json"], {}, /cannot read \/nonexistent\/event.json/],
  ])("%s", async (_name, argv, env, message) => {
    h.load(estate);
    const result = await cli(argv, env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^ama-remediator: [^\n]+\n$/);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\bat .+:\d+:\d+/);
    expect(h.azure.requests).toEqual([]);
  });

  it.each<[string, () => unknown]>([
    ["malformed JSON", () => '[{"topic": '],
    ["an event without an id", () => { const { id: _id, ...rest } = eventGridEvent(machineWith(estate, "no-identity").id); return [rest]; }],
    ["a resourceUri that is not an ARM id", () => [eventGridEvent(machineWith(estate, "no-identity").id, { data: { resourceUri: "../../etc/passwd", operationName: "Microsoft.Compute/virtualMachines/write", status: "Succeeded" } })]],
    ["a number instead of an event", () => "42"],
  ])("event with %s", async (_name, content) => {
    h.load(estate);
    const result = await cli(["event", "--file", await file(content())]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^ama-remediator: event \d+: [^\n]+\n$/);
    expect(h.azure.requests).toEqual([]);
  });
});

describe("event", () => {
  it("an Event Grid delivery remediates the machine it names, and only that one", async () => {
    h.load(estate);
    const machine = machineWith(estate, "no-identity", "linux");
    const result = await cli(["event", "--json", "--file", await file([eventGridEvent(machine.id)])]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(machinesIn(json(result)).map((resource) => [resource.id, resource.status])).toEqual([[machine.id, "remediated"]]);
    expect(hasAma(machine)).toBe(true);
  });

  it("a CloudEvents 1.0 delivery (single object) remediates the Arc machine it names", async () => {
    h.load(estate);
    const machine = machineWith(estate, "arc-windows-connected");
    const result = await cli(["event", "--json", "--file", await file(cloudEvent(machine.id))]);
    expect(result.code).toBe(0);
    expect(machinesIn(json(result)).map((resource) => [resource.id, resource.status])).toEqual([[machine.id, "remediated"]]);
    expect(hasAma(machine)).toBe(true);
  });

  it("a batch naming a SQL VM and an extension delete remediates both machines", async () => {
    h.load(estate);
    const sqlVm = machineWith(estate, "sql-vm-windows");
    const other = machineWith(estate, "system-identity");
    const extensionDelete = eventGridEvent(`${other.id}/extensions/AzureMonitorWindowsAgent`, { eventType: "Microsoft.Resources.ResourceDeleteSuccess", id: "2" });
    (extensionDelete.data as Record<string, unknown>)["operationName"] = "Microsoft.Compute/virtualMachines/extensions/delete";
    const result = await cli(["event", "--json", "--file", await file([eventGridEvent(sqlVm.sqlVirtualMachineId as string), extensionDelete])]);
    expect(result.code).toBe(0);
    expect(machinesIn(json(result)).map((resource) => idKey(resource.id)).sort()).toEqual([idKey(sqlVm.id), idKey(other.id)].sort());
  });

  it.each<[string, () => unknown]>([
    ["a machine outside the configured subscriptions", () => [eventGridEvent(`/subscriptions/${OUTSIDE}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1`)]],
    ["an event type the service does not handle", () => [eventGridEvent(machineWith(estate, "no-identity").id, { eventType: "Microsoft.Resources.ResourceActionSuccess" })]],
    ["a resource type the service does not handle", () => [eventGridEvent(`${production.id}/resourceGroups/rg-workload-eastus/providers/Microsoft.Storage/storageAccounts/sa1`)]],
    ["a failed operation", () => [eventGridEvent(machineWith(estate, "no-identity").id, { eventType: "Microsoft.Resources.ResourceWriteFailure" })]],
  ])("%s: does nothing, exit 0", async (_name, content) => {
    h.load(estate);
    const result = await cli(["event", "--json", "--file", await file(content())]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(json(result)).toMatchObject({ summary: { compliant: 0, remediated: 0, planned: 0, failed: 0, skipped: 0 }, resources: [] });
    expect(h.azure.requests).toEqual([]);
  });

  it("without --json, says there was nothing to do", async () => {
    h.load(estate);
    const result = await cli(["event", "--file", await file([eventGridEvent(`/subscriptions/${OUTSIDE}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1`)])]);
    expect(result).toEqual({ code: 0, stdout: "nothing to do: no event names a machine in scope\n", stderr: "" });
  });

  it("--dry-run: plans the named machine, writes nothing", async () => {
    h.load(estate);
    const machine = machineWith(estate, "no-identity", "windows");
    const result = await cli(["event", "--dry-run", "--json", "--file", await file([eventGridEvent(machine.id)])]);
    expect(machinesIn(json(result)).map((resource) => resource.status)).toEqual(["planned"]);
    expect(h.azure.requestCounts()).toMatchObject({ writes: 0, deletes: 0 });
  });
});

describe("help", () => {
  it("prints usage and exits 0", async () => {
    const result = await cli(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: ama-remediator sweep/);
  });
});
