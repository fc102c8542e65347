/**
 * GET /api/runs/{runId}/report against Azurite and the ARM emulator: a run posted through the runs API,
 * drained through the host's queue handler, then its report page: HTML with its Content-Security-Policy,
 * the same machines as the run's JSON report, in their subscriptions' tables, and a failed write first.
 */
import { InvocationContext } from "@azure/functions";
import { describe, expect, it } from "vitest";
import { handleRunReportRequest, handleRunsRequest, runReportApi } from "../../src/functions/runsApi.js";
import type { ReportResource } from "../../src/report/buildReport.js";
import { REPORT_PAGE_CSP } from "../../src/report/reportPage.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { newVirtualMachine, useHarness } from "../service/harness.js";
import { bodyText, headerOf, httpRequest, jsonOf } from "./http.js";

const harness = useHarness();

async function finishedRun(body: unknown): Promise<{ runId: string; report: ReportResource[] }> {
  const posted = await handleRunsRequest(harness().service, httpRequest("POST", "/api/runs", { body: JSON.stringify(body) }));
  expect(posted.status, bodyText(posted)).toBe(202);
  const { runId } = jsonOf(posted) as { runId: string };
  await harness().drain();
  const run = jsonOf(await handleRunsRequest(harness().service, httpRequest("GET", `/api/runs/${runId}`, { params: { runId } })));
  expect(run.status).toBe("succeeded");
  return { runId, report: (run.report as (ReportResource | { kind: "subscription" })[]).filter((entry): entry is ReportResource => entry.kind !== "subscription") };
}

function getReport(runId: string, method = "GET") {
  return handleRunReportRequest(harness().service, httpRequest(method, `/api/runs/${runId}/report`, { params: { runId } }));
}

/** A subscription's section of the page, up to the next section. */
function subscriptionSection(html: string, subscriptionId: string): string {
  const start = html.indexOf(`<section class="subscription" data-subscription-id="${subscriptionId}">`);
  expect(start, subscriptionId).toBeGreaterThanOrEqual(0);
  const end = html.indexOf("<section", start + 1);
  return html.slice(start, end === -1 ? undefined : end);
}

describe("GET /api/runs/{runId}/report", () => {
  it("a dry run's page: HTML under a strict CSP, every machine of the run's report in its subscription's table, the run's totals", async () => {
    const { runId, report } = await finishedRun({ dryRun: true });

    const response = await getReport(runId);

    expect(response.status).toBe(200);
    expect(headerOf(response, "content-type")).toBe("text/html; charset=utf-8");
    expect(headerOf(response, "content-security-policy")).toBe(`${REPORT_PAGE_CSP}; frame-ancestors 'none'`);
    expect(headerOf(response, "x-content-type-options")).toBe("nosniff");
    const html = bodyText(response);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain(`<title>ama-remediator report · run ${runId}</title>`);
    expect(html).toMatch(/Dry run: nothing was changed in Azure/);
    expect(html).toContain("<dt>Status</dt><dd>succeeded</dd>");
    const subscriptions = [...new Set(report.map((entry) => entry.subscriptionId))];
    expect(subscriptions.length).toBeGreaterThan(1);
    for (const subscriptionId of subscriptions) {
      const section = subscriptionSection(html, subscriptionId);
      const expected = report.filter((entry) => entry.subscriptionId === subscriptionId);
      expect(section.match(/<tr class="machine"/g)?.length, subscriptionId).toBe(expected.length);
      for (const entry of expected) expect(section, entry.id).toContain(`data-resource-id="${entry.id}"`);
    }
    const planned = report.filter((entry) => entry.status === "planned").length;
    expect(html).toContain(`<td data-status="planned">${planned}</td>`);
    expect(harness().writes()).toEqual([]);
  });

  it("a write ARM refused comes first, with ARM's code, and the writes skipped for it", async () => {
    const { azure, estate } = harness();
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), "vm-report-refused");
    azure.setFaults({ forbidden: [{ scope: vmId, actions: ["Microsoft.Compute/virtualMachines/write"] }] });
    try {
      const { runId } = await finishedRun({ resourceIds: [vmId] });
      const html = bodyText(await getReport(runId));
      const failures = html.slice(html.indexOf('<section id="failures">'), html.indexOf('<section class="subscription"'));
      expect(failures).toMatch(/<h2>Failures \([1-9]\d*\)<\/h2>/);
      const rows = failures.split("<tr>").slice(2);
      expect(rows[0]).toMatch(/vm-report-refused[\s\S]*updateMachineIdentity[\s\S]*AuthorizationFailed/);
      expect(rows.slice(1).every((row) => /vm-report-refused/.test(row) && /skipped/.test(row))).toBe(true);
      expect(html.indexOf('<section id="failures">')).toBeLessThan(html.indexOf('<section class="subscription"'));
    } finally {
      azure.setFaults({});
    }
  });

  it("through the registered handler (service from the app settings)", async () => {
    Object.assign(process.env, harness().env);
    const { runId } = await finishedRun({ dryRun: true, resourceIds: [machineWith(harness().estate, "mma-only", "windows").id] });
    const response = await runReportApi(httpRequest("GET", `/api/runs/${runId}/report`, { params: { runId } }), new InvocationContext({ functionName: "runReport" }));
    expect(response.status).toBe(200);
    expect(bodyText(response)).toContain("vm-");
  });

  it("an unknown run → 404 problem+json; a malformed id → 400; another method → 405 with Allow", async () => {
    const unknown = await getReport(crypto.randomUUID());
    expect(unknown.status).toBe(404);
    expect(headerOf(unknown, "content-type")).toBe("application/problem+json");
    expect(jsonOf(unknown)).toMatchObject({ status: 404, title: "Not Found", field: "runId" });

    const malformed = await getReport("<script>");
    expect(malformed.status).toBe(400);
    expect(jsonOf(malformed)).toMatchObject({ status: 400, field: "runId" });

    const posted = await getReport(crypto.randomUUID(), "POST");
    expect(posted.status).toBe(405);
    expect(headerOf(posted, "allow")).toBe("GET");
  });
});
