/**
 * Time-to-compliant end to end against the local Azure and Azurite: a sweep that cannot fix a machine
 * remembers when it first saw the drift, the run that fixes it measures from there, GET /api/runs/{id}
 * and the audit carry the timing, and GET /api/metrics summarises the window.
 */
import { describe, expect, it } from "vitest";
import { handleMetricsRequest } from "../../src/functions/metricsApi.js";
import { handleRunsRequest } from "../../src/functions/runsApi.js";
import type { ReportResource } from "../../src/report/buildReport.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { useHarness } from "../service/harness.js";
import { bodyText, httpRequest, jsonOf, type RequestOptions } from "./http.js";

const harness = useHarness();

function metrics(query: Record<string, string> = {}, method = "GET") {
  return handleMetricsRequest(harness().service, httpRequest(method, "/api/metrics", { query }));
}

async function sweepAndReport(): Promise<{ runId: string; startedAt: number; report: ReportResource[] }> {
  const send = (method: string, path: string, options: RequestOptions = {}) => handleRunsRequest(harness().service, httpRequest(method, path, options));
  const startedAt = Date.now();
  const accepted = await send("POST", "/api/runs", { body: JSON.stringify({ dryRun: false }) });
  expect(accepted.status, bodyText(accepted)).toBe(202);
  const { runId } = jsonOf(accepted) as { runId: string };
  await harness().drain();
  const response = await send("GET", `/api/runs/${runId}`, { params: { runId } });
  expect(response.status).toBe(200);
  return { runId, startedAt, report: jsonOf(response).report as ReportResource[] };
}

describe("time-to-compliant", () => {
  it("a machine a sweep could not fix is measured, once fixed, from when that sweep first saw it; runs, audit and /api/metrics carry it", async () => {
    const { azure, estate, service } = harness();
    const stuck = machineWith(estate, "no-identity", "windows");
    azure.setFaults({ forbidden: [{ scope: stuck.id, actions: ["Microsoft.Compute/virtualMachines/write"] }] });
    const first = await sweepAndReport();
    azure.setFaults({});

    const failedThen = first.report.find((entry) => entry.id.toLowerCase() === stuck.id.toLowerCase());
    expect(failedThen?.status).toBe("failed");
    expect(failedThen?.timing).toEqual({ cause: "sweep", driftBeganAt: expect.any(String), startedAt: failedThen?.timing?.driftBeganAt });
    const firstSeen = Date.parse(failedThen?.timing?.driftBeganAt as string);
    expect(firstSeen).toBeGreaterThanOrEqual(first.startedAt);
    const fixedThen = first.report.filter((entry) => entry.status === "remediated" && entry.kind !== "shared");
    expect(fixedThen.length).toBeGreaterThan(0);
    for (const entry of fixedThen) {
      const timing = entry.timing;
      expect(timing?.verifiedAt, entry.id).toBeDefined();
      expect(timing?.secondsToCompliant).toBeCloseTo((Date.parse(timing?.verifiedAt as string) - Date.parse(timing?.driftBeganAt as string)) / 1000, 3);
    }
    expect(first.report.filter((entry) => entry.status === "compliant").every((entry) => entry.timing === undefined)).toBe(true);

    const second = await sweepAndReport();
    const fixedNow = second.report.find((entry) => entry.id.toLowerCase() === stuck.id.toLowerCase());
    expect(fixedNow?.status).toBe("remediated");
    expect(fixedNow?.timing).toMatchObject({ cause: "sweep", driftBeganAt: failedThen?.timing?.driftBeganAt });
    expect(Date.parse(fixedNow?.timing?.startedAt as string)).toBeGreaterThanOrEqual(second.startedAt);
    expect(fixedNow?.timing?.secondsToCompliant).toBeGreaterThan((second.startedAt - firstSeen) / 1000);

    const audit = await service.state.audit.listForRun(second.runId);
    const machineWrites = audit.filter((entry) => entry.targetId.toLowerCase().startsWith(stuck.id.toLowerCase()));
    expect(machineWrites.length).toBeGreaterThan(0);
    for (const entry of machineWrites) expect(entry.drift).toEqual({ cause: "sweep", since: failedThen?.timing?.driftBeganAt });

    const response = await metrics({ hours: "1" });
    expect(response.status).toBe(200);
    const summary = jsonOf(response);
    const verified = [...fixedThen, fixedNow].map((entry) => entry?.timing?.secondsToCompliant as number).sort((a, b) => a - b);
    expect(summary).toMatchObject({ hours: 1, timeToCompliant: { sweep: { count: verified.length, max: verified.at(-1) } } });
    expect(Object.keys(summary.timeToCompliant)).toEqual(["sweep"]);
    const machinesIn = (report: ReportResource[], status: string) => report.filter((entry) => entry.kind !== "shared" && entry.status === status).length;
    expect(summary.machines).toEqual(
      Object.fromEntries(["compliant", "remediated", "planned", "failed", "skipped"].map((status) => [status, machinesIn(first.report, status) + machinesIn(second.report, status)])),
    );
  }, 180_000);

  it("a window before any run is empty", async () => {
    const response = await handleMetricsRequest(harness().service, httpRequest("GET", "/api/metrics"), new Date("2020-01-01T00:00:00.000Z"));
    expect(jsonOf(response)).toEqual({
      from: "2019-12-31T00:00:00.000Z",
      to: "2020-01-01T00:00:00.000Z",
      hours: 24,
      timeToCompliant: {},
      machines: { compliant: 0, remediated: 0, planned: 0, failed: 0, skipped: 0 },
    });
  });
});

describe("GET /api/metrics input", () => {
  it.each(["0", "169", "1.5", "-3", "24h", "", "99999"])("refuses hours=%j with a problem naming the parameter", async (hours) => {
    const response = await metrics({ hours });
    expect(response.status).toBe(400);
    expect(jsonOf(response)).toMatchObject({ status: 400, field: "hours", detail: "hours must be a whole number from 1 to 168" });
  });

  it("accepts 1 to 168 and ignores the function key's code parameter", async () => {
    for (const hours of ["1", "168"]) expect((await metrics({ hours, code: "a-function-key" })).status).toBe(200);
  });

  it("answers GET only", async () => {
    const response = await metrics({}, "POST");
    expect(response.status).toBe(405);
    expect(jsonOf(response).detail).toBe("use GET");
  });
});
