/**
 * The manual-run HTTP API against Azurite and the ARM emulator: POST a run, drain the queue through the
 * host's queue handler, GET its status and report. Tests run in order: the dry run comes first, while
 * the estate still needs work.
 */
import { InvocationContext } from "@azure/functions";
import { describe, expect, it } from "vitest";
import { handleRunsRequest, runsApi } from "../../src/functions/runsApi.js";
import type { ReportResource } from "../../src/report/buildReport.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { useHarness } from "../service/harness.js";
import { HOST, bodyText, headerOf, httpRequest, jsonOf, type RequestOptions } from "./http.js";

const harness = useHarness();
const OUTSIDE_SUBSCRIPTION = "0b7f5e2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";

function send(method: string, path: string, options: RequestOptions = {}) {
  return handleRunsRequest(harness().service, httpRequest(method, path, options));
}

function getRun(runId: string) {
  return send("GET", `/api/runs/${runId}`, { params: { runId } });
}

async function postRun(body?: unknown): Promise<string> {
  const response = await send("POST", "/api/runs", body === undefined ? {} : { body: JSON.stringify(body) });
  expect(response.status, bodyText(response)).toBe(202);
  return jsonOf(response).runId as string;
}

function configuredSubscriptions(): string[] {
  return harness().estate.subscriptions.map((subscription) => subscription.subscriptionId);
}

describe("POST /api/runs", () => {
  it("with dryRun returns 202 with runId, statusUrl and Location; the finished run reports a plan for every machine and Azure is untouched", async () => {
    const { azure, estate, service } = harness();
    azure.resetRequests();

    const response = await send("POST", "/api/runs", { body: JSON.stringify({ dryRun: true }), contentType: "application/json; charset=utf-8" });

    expect(response.status).toBe(202);
    expect(headerOf(response, "content-type")).toMatch(/^application\/json/);
    const accepted = jsonOf(response);
    expect(accepted).toEqual({ runId: expect.stringMatching(/^[0-9a-f-]{36}$/), statusUrl: `${HOST}/api/runs/${accepted.runId}`, status: "queued" });
    expect(headerOf(response, "location")).toBe(accepted.statusUrl);

    await harness().drain();

    const status = await getRun(accepted.runId);
    expect(status.status).toBe(200);
    const run = jsonOf(status);
    expect(run).toMatchObject({ runId: accepted.runId, trigger: "http", status: "succeeded", dryRun: true, poison: [] });
    expect(run.workItems).toEqual({ total: 1, done: 1, poisoned: 0 }); // the whole scope in one Resource Graph batch
    expect([...run.scope.subscriptions].sort()).toEqual([...configuredSubscriptions()].sort());
    expect(run.counts.planned).toBeGreaterThan(0);
    expect(run.counts.remediated).toBe(0);
    expect(run.counts.failed).toBe(0);

    const report = run.report as ReportResource[];
    const reported = new Map(report.filter((entry) => entry.id !== undefined).map((entry) => [entry.id.toLowerCase(), entry]));
    for (const machine of estate.machines) {
      const entry = reported.get(machine.id.toLowerCase());
      expect(entry, machine.id).toBeDefined();
      if (entry?.status === "planned") expect(entry.actions.length, machine.id).toBeGreaterThan(0);
    }
    const actions = report.flatMap((entry) => entry.actions ?? []);
    expect(actions.length).toBeGreaterThan(0);
    expect(new Set(actions.map((action) => action.outcome))).toEqual(new Set(["planned"]));
    expect(reported.get(machineWith(estate, "no-identity", "windows").id.toLowerCase())?.actions.map((action) => action.action)).toEqual(
      expect.arrayContaining(["updateMachineIdentity", "installExtension", "associateDataCollectionRule"]),
    );

    expect(harness().writes()).toEqual([]);
    expect(await service.state.audit.listForRun(accepted.runId)).toEqual([]);
  });

  it("with dryRun and resourceIds plans only the named machine", async () => {
    const { azure, estate } = harness();
    const machine = machineWith(estate, "mma-only", "windows");
    azure.resetRequests();
    const runId = await postRun({ dryRun: true, resourceIds: [machine.id] });
    await harness().drain();
    const run = jsonOf(await getRun(runId));
    expect(run).toMatchObject({ status: "succeeded", scope: { resourceIds: [machine.id] }, workItems: { total: 1, done: 1 } });
    const machines = (run.report as ReportResource[]).filter((entry) => entry.kind === "virtualMachine" || entry.kind === "arcMachine");
    expect(machines.map((entry) => entry.id)).toEqual([machine.id]);
    expect(machines[0]?.status).toBe("planned");
    expect(harness().writes()).toEqual([]);
  });

  it("with no body starts a full run of the configured scope, which remediates the estate", async () => {
    const { azure } = harness();
    const response = await send("POST", "/api/runs");
    expect(response.status).toBe(202);
    const { runId } = jsonOf(response);
    const queued = jsonOf(await getRun(runId));
    expect(queued).toMatchObject({ status: "queued", dryRun: false, workItems: { total: 1, done: 0, poisoned: 0 } });
    expect([...queued.scope.subscriptions].sort()).toEqual([...configuredSubscriptions()].sort());

    await harness().drain();

    const run = jsonOf(await getRun(runId));
    expect(run.status).toBe("succeeded");
    expect(run.counts.remediated).toBeGreaterThan(0);
    expect(run.counts.failed).toBe(0);
    expect(harness().writes().length).toBeGreaterThan(0);

    // Converged: a dry run now plans nothing.
    azure.resetRequests();
    const check = await postRun({ dryRun: true });
    await harness().drain();
    expect(jsonOf(await getRun(check)).counts).toMatchObject({ planned: 0, failed: 0 });
  });

  it("through the registered runsApi handler (service from the app settings)", async () => {
    Object.assign(process.env, harness().env);
    const response = await runsApi(httpRequest("POST", "/api/runs", { body: JSON.stringify({ dryRun: true }) }), new InvocationContext({ functionName: "runs" }));
    expect(response.status).toBe(202);
    await harness().drain();
    expect(jsonOf(await getRun(jsonOf(response).runId)).status).toBe("succeeded");
  });
});

describe("GET /api/runs", () => {
  it("?limit=2 lists the two newest runs, newest first", async () => {
    const { estate } = harness();
    const machine = machineWith(estate, "no-identity", "windows");
    const older = await postRun({ dryRun: true, resourceIds: [machine.id] });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const newer = await postRun({ dryRun: true, resourceIds: [machine.id] });

    const response = await send("GET", "/api/runs", { query: { limit: "2" } });

    expect(response.status).toBe(200);
    const { runs } = jsonOf(response);
    expect(runs.map((run: { runId: string }) => run.runId)).toEqual([newer, older]);
    expect(Date.parse(runs[0].createdAt)).toBeGreaterThanOrEqual(Date.parse(runs[1].createdAt));
    await harness().drain();
  });

  it("without limit lists at most 20", async () => {
    const response = await send("GET", "/api/runs");
    expect(response.status).toBe(200);
    const { runs } = jsonOf(response);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBeLessThanOrEqual(20);
  });
});

describe("validation: 4xx problem+json, no run, no work, no ARM request", () => {
  const vm = () => machineWith(harness().estate, "no-identity", "windows");

  async function expectRefused(response: Awaited<ReturnType<typeof send>>, status: number, field?: string): Promise<void> {
    expect(response.status, bodyText(response)).toBe(status);
    expect(headerOf(response, "content-type")).toBe("application/problem+json");
    const problem = jsonOf(response);
    expect(problem).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
    if (field !== undefined) expect(problem.field).toBe(field);
    expect(bodyText(response)).not.toMatch(/\n\s+at /); // no stack trace
  }

  it.each<[string, () => RequestOptions, string]>([
    ["bad JSON", () => ({ body: '{"dryRun": tru' }), "body"],
    ["an array body", () => ({ body: "[]" }), "body"],
    ["a string body", () => ({ body: '"run"' }), "body"],
    ["a null body", () => ({ body: "null" }), "body"],
    ["an unknown field", () => ({ body: JSON.stringify({ dryrun: true }) }), "dryrun"],
    ["dryRun not a boolean", () => ({ body: JSON.stringify({ dryRun: "false" }) }), "dryRun"],
    ["subscriptions not an array", () => ({ body: JSON.stringify({ subscriptions: harness().estate.subscriptions[0]?.subscriptionId }) }), "subscriptions"],
    ["subscriptions not GUIDs", () => ({ body: JSON.stringify({ subscriptions: ["contoso-production"] }) }), "subscriptions"],
    ["a subscription outside REMEDIATION_SUBSCRIPTIONS", () => ({ body: JSON.stringify({ subscriptions: [OUTSIDE_SUBSCRIPTION] }) }), "subscriptions"],
    ["resourceIds not ARM ids", () => ({ body: JSON.stringify({ resourceIds: ["vm-win-noidentity"] }) }), "resourceIds"],
    ["resourceIds holding a number", () => ({ body: JSON.stringify({ resourceIds: [42] }) }), "resourceIds"],
    ["a resourceId outside the scope", () => ({ body: JSON.stringify({ resourceIds: [vm().id.replace(vm().subscriptionId, OUTSIDE_SUBSCRIPTION)] }) }), "resourceIds"],
    ["a resourceId that is not a machine", () => ({ body: JSON.stringify({ resourceIds: [`/subscriptions/${vm().subscriptionId}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stdata001`] }) }), "resourceIds"],
    ["over 1000 resourceIds", () => ({ body: JSON.stringify({ resourceIds: Array.from({ length: 1001 }, (_, index) => `/subscriptions/${index}`) }) }), "resourceIds"],
  ])("POST with %s → 400 naming the field", async (_name, options, field) => {
    const { azure, service } = harness();
    const runsBefore = (await service.state.runs.listRecent(100)).length;
    azure.resetRequests();
    await expectRefused(await send("POST", "/api/runs", options()), 400, field);
    expect((await service.state.runs.listRecent(100)).length).toBe(runsBefore);
    expect((await service.state.workQueue.approximateLength()).work).toBe(0);
    expect(azure.requests).toEqual([]);
  });

  it.each<[string, () => string]>([
    ["a '..' segment", () => `/subscriptions/${vm().subscriptionId}/resourceGroups/../providers/Microsoft.Compute/virtualMachines/vm-win-noidentity`],
    ["a '..' segment into another subscription", () => `/subscriptions/${vm().subscriptionId}/../${OUTSIDE_SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm`],
    ["an empty segment", () => vm().id.replace("/resourceGroups/", "/resourceGroups//")],
  ])(
    "POST with a path-traversal resourceId (%s) → 400 naming resourceIds",
    async (_name, id) => {
      const { azure, service } = harness();
      const runsBefore = (await service.state.runs.listRecent(100)).length;
      azure.resetRequests();
      const response = await send("POST", "/api/runs", { body: JSON.stringify({ resourceIds: [id()] }) });
      expect(response.status).toBe(400);
      expect((await service.state.runs.listRecent(100)).length).toBe(runsBefore);
      expect(azure.requests).toEqual([]);
      expect(jsonOf(response).field).toBe("resourceIds");
    },
  );

  it("POST with an empty resourceIds list → 400 (not a tenant-wide run)", async () => {
    const { service } = harness();
    const runsBefore = (await service.state.runs.listRecent(100)).length;
    const response = await send("POST", "/api/runs", { body: JSON.stringify({ resourceIds: [] }) });
    try {
      await expectRefused(response, 400, "resourceIds");
      expect((await service.state.runs.listRecent(100)).length).toBe(runsBefore);
    } finally {
      if (response.status === 202) await harness().drain();
    }
  });

  it("POST with a body that is not JSON → 415", async () => {
    await expectRefused(await send("POST", "/api/runs", { body: "dryRun=true", contentType: "application/x-www-form-urlencoded" }), 415);
    await expectRefused(await send("POST", "/api/runs", { body: "{}", contentType: null }), 415);
  });

  it("POST with a body over 64 KB → 413 (before anything else is looked at)", async () => {
    const big = JSON.stringify({ resourceIds: Array.from({ length: 700 }, (_, index) => `${vm().id}-${index}`) });
    expect(Buffer.byteLength(big)).toBeGreaterThan(64 * 1024);
    await expectRefused(await send("POST", "/api/runs", { body: big }), 413);
    await expectRefused(await send("POST", "/api/runs", { body: big, contentType: "text/plain" }), 413);
  });

  it("GET an unknown run → 404", async () => {
    const runId = crypto.randomUUID();
    await expectRefused(await getRun(runId), 404, "runId");
  });

  it.each(["not a run id!", "..", "a".repeat(65), "run/../x"])("GET a malformed run id (%j) → 400", async (runId) => {
    await expectRefused(await getRun(runId), 400, "runId");
  });

  it.each(["0", "101", "-1", "2.5", "ten"])("GET /api/runs?limit=%s → 400", async (limit) => {
    await expectRefused(await send("GET", "/api/runs", { query: { limit } }), 400, "limit");
  });

  it.each([
    ["DELETE", "/api/runs", {}, "GET, POST"],
    ["PUT", "/api/runs", {}, "GET, POST"],
    ["PATCH", "/api/runs", {}, "GET, POST"],
    ["DELETE", "/api/runs/x", { runId: "x" }, "GET"],
    ["POST", "/api/runs/x", { runId: "x" }, "GET"],
  ])("%s %s → 405 with Allow", async (method, path, params, allow) => {
    const { azure } = harness();
    azure.resetRequests();
    const response = await send(method, path, { params });
    await expectRefused(response, 405);
    expect(headerOf(response, "allow")).toBe(allow);
    expect(azure.requests).toEqual([]);
  });
});
