/**
 * A sweep of many batches counts its compliant machines with nothing to report per subscription instead of
 * listing them: what the report says of every other machine, its totals, its page and its table stay whole.
 */
import { describe, expect, it } from "vitest";
import { countCompliantMachines, countedCompliantMachines } from "../../src/report/compliantCounts.js";
import type { Report } from "../../src/report/buildReport.js";
import { formatTable } from "../../src/report/formatTable.js";
import { renderReportPage } from "../../src/report/reportPage.js";
import { reportPageInputOfRun } from "../../src/report/runReportPage.js";
import { OTHER_SUB, SUB } from "../support/snapshotBuilder.js";
import { RUN_ID, pageFixture } from "./reportPageFixture.js";

const report = (): Report => pageFixture().input.report as Report;
const isCompliantVm = (id: string) => id.endsWith("/vm-ok");

describe("countCompliantMachines", () => {
  it("counts the compliant machine with nothing to report in its subscription and keeps every other resource, its notes and the totals", () => {
    const full = report();
    const counted = countCompliantMachines(full);
    expect(counted.resources.map((resource) => resource.id)).toEqual(full.resources.map((resource) => resource.id).filter((id) => !isCompliantVm(id)));
    expect(counted.resources).toEqual(full.resources.filter((resource) => !isCompliantVm(resource.id)));
    expect(counted.summary).toEqual(full.summary);
    const subscription = counted.subscriptions.find((entry) => entry.subscriptionId === SUB);
    expect(subscription).toEqual({ ...full.subscriptions.find((entry) => entry.subscriptionId === SUB), compliantMachines: 1 });
    expect(countedCompliantMachines(counted)).toBe(1);
  });

  it("lists a compliant machine the report has a note about, and adds a subscription entry for one without findings", () => {
    const full = report();
    const noted = full.resources.map((resource) => (isCompliantVm(resource.id) ? { ...resource, notes: ["both MMA and AMA are running"] } : resource));
    const quiet = { id: `/subscriptions/${OTHER_SUB}/resourceGroups/rg-other/providers/Microsoft.Compute/virtualMachines/vm-quiet`, kind: "virtualMachine" as const, subscriptionId: OTHER_SUB, status: "compliant" as const, actions: [], notes: [] };
    const counted = countCompliantMachines({ ...full, resources: [...noted, quiet], subscriptions: full.subscriptions.filter((entry) => entry.subscriptionId !== OTHER_SUB) });
    expect(counted.resources.some((resource) => isCompliantVm(resource.id))).toBe(true);
    expect(counted.resources.some((resource) => resource.id === quiet.id)).toBe(false);
    expect(counted.subscriptions).toContainEqual({ subscriptionId: OTHER_SUB, notes: [], compliantMachines: 1 });
  });

  it("leaves a report without such machines as it is", () => {
    const full = report();
    const withoutCompliant = { ...full, resources: full.resources.filter((resource) => !isCompliantVm(resource.id)) };
    expect(countCompliantMachines(withoutCompliant)).toBe(withoutCompliant);
  });
});

describe("a report that counts compliant machines", () => {
  it("on its page: the subscription's totals include them, a line says they are counted, and no row is theirs", () => {
    const counted = countCompliantMachines(report());
    const html = renderReportPage({ report: counted });
    const start = html.indexOf(`data-subscription-id="${SUB}"`);
    const section = html.slice(start, html.indexOf("<section", start));
    expect(section).toMatch(/<p>\d+ resources: [^<]*1 compliant<\/p>/);
    expect(section).toContain('<p class="compliant-counted">1 compliant machine with nothing to report is counted, not listed.</p>');
    expect(section).not.toContain("vm-ok");
    expect(html).toContain(`<td data-status="compliant">${counted.summary.compliant}</td>`);
  });

  it("in the table: one line says how many are counted", () => {
    expect(formatTable(countCompliantMachines(report()))).toMatch(/^1 compliant machine with nothing to report counted per subscription, not listed/m);
  });

  it("as a stored run: the counts come back from the run store's entries and render the same page", () => {
    const counted = countCompliantMachines(report());
    const entries = JSON.parse(JSON.stringify([...counted.resources, ...counted.subscriptions.map((subscription) => ({ ...subscription, kind: "subscription" }))])) as unknown[];
    const input = reportPageInputOfRun({
      runId: RUN_ID,
      trigger: "timer",
      status: "succeeded",
      dryRun: false,
      scope: { subscriptions: [SUB, OTHER_SUB], resourceIds: [] },
      createdAt: new Date(counted.startedAt),
      startedAt: new Date(counted.startedAt),
      finishedAt: new Date(counted.finishedAt),
      counts: counted.summary,
      workItems: { total: 1, done: 1, poisoned: 0 },
      poison: [],
      report: entries,
    });
    expect(input.report.subscriptions).toEqual(counted.subscriptions);
    expect(renderReportPage(input).replace("<dt>Status</dt><dd>succeeded</dd>", "")).toBe(renderReportPage({ report: counted }));
  });
});
