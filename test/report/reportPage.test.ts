/**
 * The report page as text: everything Azure supplies is escaped, nothing is fetched or run, failures
 * come first, machines are grouped by subscription, time-to-compliant shows where known, and a stored
 * run (the runs API's input) renders through the same page. The browser test renders it for real.
 */
import { describe, expect, it } from "vitest";
import { escapeHtml, renderReportPage, REPORT_PAGE_CSP } from "../../src/report/reportPage.js";
import { reportPageInputOfRun } from "../../src/report/runReportPage.js";
import type { RunRecord } from "../../src/state/runStore.js";
import { OTHER_SUB, SUB } from "../support/snapshotBuilder.js";
import { HOSTILE_MESSAGE, HOSTILE_NAME, HOSTILE_POLICY, HOSTILE_TAG_VALUE, RUN_ID, pageFixture } from "./reportPageFixture.js";

const page = () => renderReportPage(pageFixture().input);

/** The markup between an element's opening tag with this marker and the next section. */
function section(html: string, marker: string): string {
  const start = html.indexOf(marker);
  expect(start, marker).toBeGreaterThanOrEqual(0);
  const end = html.indexOf("<section", start + marker.length);
  return html.slice(start, end === -1 ? undefined : end);
}

describe("renderReportPage: hostile text from Azure", () => {
  it("escapes a machine name, a tag value in a body, an ARM error message and a policy name: none of them becomes markup", () => {
    const html = page();
    expect(html).not.toContain(HOSTILE_NAME);
    expect(html).not.toContain(HOSTILE_TAG_VALUE);
    expect(html).not.toContain(HOSTILE_MESSAGE);
    expect(html).not.toContain(HOSTILE_POLICY);
    expect(html).toContain(escapeHtml(HOSTILE_NAME));
    expect(html).toContain("&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;");
    expect(html).toContain(escapeHtml(HOSTILE_MESSAGE));
    expect(html).toContain(escapeHtml(HOSTILE_POLICY));
    // The only tags on the page are the page's own.
    const tags = new Set([...html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)/g)].map((match) => (match[1] as string).toLowerCase()));
    expect([...tags].sort()).toEqual(
      ["body", "br", "code", "dd", "details", "dl", "dt", "h1", "h2", "h3", "head", "header", "html", "li", "meta", "p", "pre", "section", "span", "strong", "style", "summary", "table", "tbody", "td", "th", "thead", "title", "tr", "ul"].filter((tag) => tags.has(tag)),
    );
    expect(tags.has("img") || tags.has("script") || tags.has("b") || tags.has("i")).toBe(false);
  });

  it("escapes quotes in attribute values, so an id cannot close its attribute", () => {
    const { input } = pageFixture();
    const hostileId = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/a" onclick="alert(4)`;
    const html = renderReportPage({ ...input, report: { ...input.report, resources: [{ id: hostileId, kind: "virtualMachine", subscriptionId: SUB, status: "compliant", actions: [], notes: [] }] } });
    expect(html).not.toContain('" onclick="');
    expect(html).toContain(`data-resource-id="${escapeHtml(hostileId)}"`);
    expect(escapeHtml(`&<>"'`)).toBe("&amp;&lt;&gt;&quot;&#39;");
  });
});

describe("renderReportPage: self-contained", () => {
  it("has no script, no link, no external reference, and declares a strict Content-Security-Policy", () => {
    const html = page();
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/<(img|iframe|object|embed|base|form)\b/i);
    expect(html).not.toMatch(/url\(|@import/i);
    // Attribute values are double-quoted and escaped, so every name=" in a tag is an attribute of the page's own.
    const tags = [...html.matchAll(/<[a-z][^>]*>/gi)].map((tag) => tag[0]);
    const attributes = new Set(tags.flatMap((tag) => [...tag.matchAll(/\s([a-z-]+)="[^"]*"/gi)].map((match) => match[1])));
    expect([...attributes].sort()).toEqual(["charset", "class", "colspan", "content", "data-resource-id", "data-status", "data-subscription-id", "http-equiv", "id", "lang", "name", "title"].filter((name) => attributes.has(name)));
    expect(tags.filter((tag) => /=[^"]/.test(tag.replace(/"[^"]*"/g, '""')))).toEqual([]); // no unquoted attribute
    expect(REPORT_PAGE_CSP).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; base-uri 'none'; form-action 'none'$/);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${escapeHtml(REPORT_PAGE_CSP)}">`);
  });
});

describe("renderReportPage: content", () => {
  it("header and totals: the run id, dry run or not, the times and the counts of each status", () => {
    const { input } = pageFixture();
    const html = renderReportPage(input);
    expect(html).toContain(`<title>ama-remediator report · run ${RUN_ID}</title>`);
    expect(html).toContain("2026-11-25 10:00:00 UTC");
    expect(html).toContain("2026-11-25 10:03:20 UTC");
    expect(html).not.toContain("Dry run");
    const totals = section(html, '<section id="totals">');
    for (const [status, count] of Object.entries(input.report.summary)) expect(totals).toContain(`<td data-status="${status}">${count}</td>`);
    expect(totals).toMatch(/1 write denied by Azure Policy/);

    const dry = renderReportPage({ ...input, report: { ...input.report, dryRun: true } });
    expect(dry).toMatch(/Dry run: nothing was changed in Azure/);
  });

  it("failures come first, before any subscription: the failed write with ARM's code, message and correlation id, then the writes skipped for it; a denied write names its policy", () => {
    const html = page();
    const failures = section(html, '<section id="failures">');
    expect(html.indexOf('<section id="failures">')).toBeLessThan(html.indexOf('<section class="subscription"'));
    const rows = failures.split("<tr>").slice(2); // the header row, then one per failure
    expect(rows[0]).toMatch(/vm-new[\s\S]*updateMachineIdentity[\s\S]*failed[\s\S]*AuthorizationFailed[\s\S]*c0ffee00-0000-4000-8000-000000000001/);
    expect(rows[1]).toMatch(/vm-denied[\s\S]*installExtension[\s\S]*RequestDisallowedByPolicy[\s\S]*deny-extensions/);
    expect(rows.slice(2).every((row) => /DependencyFailed/.test(row) && /vm-new/.test(row))).toBe(true);
    expect(rows).toHaveLength(2 + 2); // vm-new's extension and association were skipped
  });

  it("a table per subscription, in subscription order, with a row per machine or shared resource and its notes", () => {
    const { input, rows } = pageFixture();
    const html = renderReportPage(input);
    const sections = [...html.matchAll(/<section class="subscription" data-subscription-id="([^"]+)">/g)].map((match) => match[1]);
    expect(sections).toEqual([SUB, OTHER_SUB].sort());
    for (const subscriptionId of [SUB, OTHER_SUB]) {
      const part = section(html, `data-subscription-id="${subscriptionId}"`);
      expect(part.match(/<tr class="machine"/g)?.length, subscriptionId).toBe(rows[subscriptionId]);
    }
    const first = section(html, `data-subscription-id="${SUB}"`);
    expect(first).toMatch(/legacy Log Analytics agent \(MMA\) autoprovisioning is On/);
    expect(first).toMatch(/machine tagged ama-remediation: skip/);
    // Failed machines lead their table; compliant ones close it.
    const statuses = [...first.matchAll(/<tr class="machine"[^>]*>\s*<td><span class="status status-([a-z]+)">/g)].map((match) => match[1]);
    expect(statuses[0]).toBe("failed");
    expect(statuses.at(-1)).toBe("compliant");
    expect(section(html, `data-subscription-id="${OTHER_SUB}"`)).not.toMatch(/vm-new|vm-ok/);
  });

  it("each action with its reason and outcome, and its body collapsed in a <details> as pretty JSON", () => {
    const { input } = pageFixture();
    const html = renderReportPage(input);
    const extension = input.plan.items.find((item) => item.action === "installExtension" && item.machineId?.endsWith("/vm-other"));
    expect(extension?.body).toBeDefined();
    const pretty = escapeHtml(JSON.stringify(extension?.body, null, 2));
    expect(html).toContain(`<details><summary>PUT body (api-version ${extension?.apiVersion})</summary><pre>${pretty}</pre></details>`);
    expect(html).not.toMatch(/<details open/);
    expect(html).toContain(escapeHtml(extension?.reason ?? "?"));
  });

  it("time to compliant where the report knows it; 'not verified yet' where the drift is known but not its end", () => {
    const html = page();
    expect(html).toContain("<th>Time to compliant</th>");
    const other = section(html, `data-subscription-id="${OTHER_SUB}"`);
    expect(other).toMatch(/<span class="time-to-compliant">1 min 35 s<\/span><br><span class="muted">found by a sweep, drift since 2026-11-25 10:01:45 UTC/);
    expect(html).toMatch(/<span class="time-to-compliant">3 min 20 s<\/span><br><span class="muted">machine created/);
    expect(html).toMatch(/not verified yet<br><span class="muted">plan enabled, drift since 2026-11-25 09:55:00 UTC/);
    expect(section(html, '<section id="totals">')).toMatch(/Time to compliant: median 2 min 28 s, longest 3 min 20 s \(2 machines\)/);
  });

  it("without any timing, no time-to-compliant column", () => {
    const { input } = pageFixture();
    const html = renderReportPage({ ...input, report: { ...input.report, resources: input.report.resources.map(({ timing: _timing, ...resource }) => resource) } });
    expect(html).not.toMatch(/Time to compliant/);
  });
});

describe("reportPageInputOfRun: a stored run renders through the same page", () => {
  function storedRun(overrides: Partial<RunRecord> = {}): RunRecord {
    const { report } = pageFixture().input;
    return {
      runId: RUN_ID,
      trigger: "http",
      status: "succeeded",
      dryRun: false,
      scope: { subscriptions: [SUB, OTHER_SUB], resourceIds: [] },
      createdAt: new Date("2026-11-25T09:59:58.000Z"),
      startedAt: new Date(report.startedAt),
      finishedAt: new Date(report.finishedAt as string),
      counts: report.summary,
      workItems: { total: 2, done: 2, poisoned: 0 },
      poison: [],
      // What the run store gives back: the entries as JSON, subscription notes marked by kind.
      report: JSON.parse(JSON.stringify([...report.resources, ...report.subscriptions.map((subscription) => ({ ...subscription, kind: "subscription" }))])),
      ...overrides,
    };
  }

  it("the same machines, failures, notes and policy counts as the in-memory report, without bodies", () => {
    const { input } = pageFixture();
    const fromRun = renderReportPage(reportPageInputOfRun(storedRun()));
    const fromReport = renderReportPage({ report: input.report });
    // The stored page adds the run's status line; everything else is the same page.
    expect(fromRun.replace("<dt>Status</dt><dd>succeeded</dd>", "")).toBe(fromReport);
    expect(fromRun).toContain("<dt>Status</dt><dd>succeeded</dd>");
    expect(fromRun).not.toContain("<details>");
  });

  it("a run still going says how far it is; a poisoned work item and the run's error are failures", () => {
    const html = renderReportPage(
      reportPageInputOfRun(
        storedRun({ status: "failed", finishedAt: undefined, error: "1 of 2 work items were given up (see poison)", poison: [{ workItemId: "sub-0001", reason: `ARM said ${HOSTILE_NAME}` }], workItems: { total: 2, done: 1, poisoned: 1 } }),
      ),
    );
    const failures = section(html, '<section id="failures">');
    expect(failures).toMatch(/The run failed: 1 of 2 work items were given up/);
    expect(failures).toMatch(/<td><code>sub-0001<\/code><\/td><td>ARM said &lt;img src=x onerror=alert\(1\)&gt;<\/td>/);
    expect(html).toContain("<dt>Finished</dt><dd>not yet</dd>");

    const running = renderReportPage(reportPageInputOfRun(storedRun({ status: "running", finishedAt: undefined, workItems: { total: 3, done: 1, poisoned: 0 } })));
    expect(running).toContain("running (1 of 3 work items finished; the page shows those)");
  });

  it("entries it cannot read are counted, not rendered, and do not break the page", () => {
    const run = storedRun();
    const html = renderReportPage(reportPageInputOfRun({ ...run, report: [...(run.report ?? []), null, 42, { id: 7 }, { id: "/x", subscriptionId: SUB, status: "failed", actions: [null], notes: [] }] }));
    expect(html).toMatch(/4 stored report entries could not be read and are not shown/);
    expect(html).toMatch(/<\/html>\n$/);
  });
});
