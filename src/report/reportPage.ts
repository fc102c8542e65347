/**
 * A report as one self-contained HTML page: it must open from a mail attachment, so no scripts and nothing
 * fetched (styles inline, allowed by hash in a strict Content-Security-Policy). Failures come first, then
 * each subscription's machines with their actions and, collapsed, the exact body of each write. Names, tags,
 * notes and error messages come from Azure and are attacker-controlled: every interpolated value goes
 * through `html`, which escapes it, and only markup built by `html` itself passes unescaped. Pure.
 */
import { createHash } from "node:crypto";
import { idKey } from "../azure/ids.js";
import { describePolicyViolation } from "../errors.js";
import type { Plan, PlanItem } from "../plan/plan.js";
import type { PoisonedWorkItem, RunStatus, WorkItemTally } from "../state/runStore.js";
import type { Report, ReportAction, ReportResource, ResourceStatus } from "./buildReport.js";
import type { DriftCause, Timing } from "./timing.js";

export interface ReportPageInput {
  /** The CLI's report as built, or a stored run's (no finish time while it runs). */
  readonly report: Omit<Report, "finishedAt"> & { readonly finishedAt?: string };
  /** Where the report comes with its plan (the CLI), each action shows the body it sends. */
  readonly plan?: Pick<Plan, "items">;
  /** Where the report is a stored run's (the runs API): its status, and work that was given up. */
  readonly run?: RunState;
}

export interface RunState {
  readonly status: RunStatus;
  readonly error?: string;
  readonly poison: readonly PoisonedWorkItem[];
  readonly workItems: WorkItemTally;
  /** Stored report entries the page could not read (written by another version); counted, not shown. */
  readonly unreadableEntries?: number;
}

/** Read first: the order of the totals, and of machines in a table. */
const STATUS_ORDER: readonly ResourceStatus[] = ["failed", "planned", "remediated", "skipped", "compliant"];

const STYLE = `
:root { color-scheme: light; --line: #c8ccd2; --muted: #5b6270; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1d2330; margin: 24px; max-width: 1400px; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid #1d2330; padding-bottom: 2px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
code, pre { font: 12px/1.4 ui-monospace, "Cascadia Mono", Consolas, "Liberation Mono", monospace; }
code { overflow-wrap: anywhere; }
pre { background: #f5f6f8; border: 1px solid var(--line); padding: 8px; margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
dl.run { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.run dt { color: var(--muted); }
dl.run dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 12px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th, .nowrap { white-space: nowrap; overflow-wrap: normal; }
td.target { min-width: 16em; }
td.resource { min-width: 9em; }
th { background: #eef0f3; font-weight: 600; }
table.totals { width: auto; }
table.totals td { text-align: right; font-variant-numeric: tabular-nums; min-width: 5em; }
table.actions { margin: 2px 0; }
table.actions th { background: #f7f8fa; font-weight: 500; color: var(--muted); }
tr.actions > td { padding: 2px 8px 6px 32px; border-top: none; background: #fcfcfd; }
tbody.machine { break-inside: avoid; }
.muted { color: var(--muted); font-size: 12px; }
ul.notes { margin: 0; padding-left: 18px; }
.status { display: inline-block; border: 1px solid; border-radius: 3px; padding: 0 6px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.status-failed { color: #8c1d18; background: #fde8e6; }
.status-skipped { color: #6b4e00; background: #fff4d1; }
.status-planned { color: #174a8c; background: #e6effc; }
.status-remediated { color: #135c2e; background: #e3f5e9; }
.status-compliant { color: #3d4451; background: #eef0f3; }
.dry-run { border: 2px solid #174a8c; color: #174a8c; padding: 4px 8px; display: inline-block; font-weight: 600; margin: 8px 0; }
details > summary { cursor: pointer; color: #174a8c; }
@media print {
  body { margin: 0; font-size: 11px; }
  h2 { break-after: avoid; }
  tr { break-inside: avoid; }
}
`;

/** The policy the page declares for itself, and the runs API sends as a header (plus frame-ancestors, which only a header can carry). */
export const REPORT_PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash("sha256").update(STYLE).digest("base64")}'; base-uri 'none'; form-action 'none'`;

export function renderReportPage(input: ReportPageInput): string {
  const { report } = input;
  const bodies = bodiesOf(input.plan);
  const showTiming = report.resources.some((resource) => resource.timing !== undefined);
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${REPORT_PAGE_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ama-remediator report · run ${report.runId}</title>
<style>${raw(STYLE)}</style>
</head>
<body>
${header(input)}
${totals(input)}
${failures(input)}
${subscriptionsOf(report).map((subscription) => subscriptionSection(subscription, bodies, showTiming))}
</body>
</html>
`;
  return page.text;
}

function header({ report, run }: ReportPageInput): Html {
  return html`<header>
<h1>ama-remediator report</h1>
${report.dryRun ? html`<p class="dry-run">Dry run: nothing was changed in Azure; actions are what would be done.</p>` : ""}
<dl class="run">
<dt>Run</dt><dd><code>${report.runId}</code></dd>
${run ? html`<dt>Status</dt><dd>${runStatus(run)}</dd>` : ""}
<dt>Started</dt><dd>${timestamp(report.startedAt)}</dd>
<dt>Finished</dt><dd>${report.finishedAt ? timestamp(report.finishedAt) : "not yet"}</dd>
</dl>
</header>`;
}

function runStatus(run: RunState): Html {
  const settled = run.workItems.done + run.workItems.poisoned;
  const progress = run.status === "queued" || run.status === "running" ? ` (${settled} of ${run.workItems.total} work items finished; the page shows those)` : "";
  return html`${run.status}${progress}`;
}

function totals({ report }: ReportPageInput): Html {
  const denials = report.deniedByPolicy;
  const seconds = report.resources.flatMap((resource) => (resource.timing?.secondsToCompliant !== undefined ? [resource.timing.secondsToCompliant] : []));
  return html`<section id="totals">
<h2>Totals</h2>
<table class="totals">
<thead><tr>${STATUS_ORDER.map((status) => html`<th>${statusBadge(status)}</th>`)}<th>all</th></tr></thead>
<tbody><tr>${STATUS_ORDER.map((status) => html`<td data-status="${status}">${report.summary[status]}</td>`)}<td>${STATUS_ORDER.reduce((sum, status) => sum + report.summary[status], 0)}</td></tr></tbody>
</table>
${seconds.length > 0 ? html`<p>Time to compliant: median ${duration(median(seconds))}, longest ${duration(Math.max(...seconds))} (${seconds.length} ${plural(seconds.length, "machine")}).</p>` : ""}
${
  denials.writes > 0
    ? html`<p>${denials.writes} ${plural(denials.writes, "write")} denied by Azure Policy:</p>
<ul>${denials.policies.map((policy) => html`<li>${describePolicyViolation(policy)}: ${policy.writes} denied</li>`)}</ul>`
    : ""
}
</section>`;
}

interface Failure {
  readonly resource: ReportResource;
  readonly action: ReportAction;
}

function failures({ report, run }: ReportPageInput): Html {
  const failed: Failure[] = report.resources.flatMap((resource) =>
    resource.actions.filter((action) => action.outcome === "failed" || action.outcome === "skipped").map((action) => ({ resource, action })),
  );
  // A write that failed is what to fix; the writes skipped because of it follow.
  failed.sort((a, b) => Number(a.action.outcome === "skipped") - Number(b.action.outcome === "skipped"));
  const poison = run?.poison ?? [];
  const count = failed.length + poison.length + (run?.error ? 1 : 0);
  return html`<section id="failures">
<h2>Failures (${count})</h2>
${count === 0 ? html`<p>None.</p>` : ""}
${run?.error ? html`<p class="run-error">${statusBadge("failed")} The run failed: ${run.error}</p>` : ""}
${run?.unreadableEntries ? html`<p>${run.unreadableEntries} stored report ${plural(run.unreadableEntries, "entry", "entries")} could not be read and are not shown.</p>` : ""}
${
  failed.length > 0
    ? html`<table class="failures">
<thead><tr><th>Resource</th><th>Action</th><th>Outcome</th><th>ARM error code</th><th>Message</th><th>Denied by</th></tr></thead>
<tbody>${failed.map(failureRow)}</tbody>
</table>`
    : ""
}
${
  poison.length > 0
    ? html`<h3>Work items given up</h3>
<table class="poison">
<thead><tr><th>Work item</th><th>Reason</th></tr></thead>
<tbody>${poison.map((item) => html`<tr><td><code>${item.workItemId}</code></td><td>${item.reason}</td></tr>`)}</tbody>
</table>`
    : ""
}
</section>`;
}

function failureRow({ resource, action }: Failure): Html {
  return html`<tr>
<td class="resource">${resourceName(resource.id)}</td>
<td class="target"><span class="nowrap">${action.action} <span class="muted">${action.method}</span></span><br>${target(action.targetId, resource.id)}</td>
<td>${statusBadge(action.outcome === "skipped" ? "skipped" : "failed", action.outcome)}</td>
<td><code class="nowrap">${action.error?.code ?? ""}</code></td>
<td>${action.error?.message ?? ""}${action.correlationId ? html`<br><span class="muted">correlation id ${action.correlationId}</span>` : ""}</td>
<td>${action.deniedBy ? html`<ul class="notes">${action.deniedBy.map((policy) => html`<li>${describePolicyViolation(policy)}</li>`)}</ul>` : ""}</td>
</tr>`;
}

interface SubscriptionPart {
  readonly subscriptionId: string;
  readonly resources: readonly ReportResource[];
  readonly notes: readonly string[];
  /** Compliant machines the report counts without listing them (a sweep of more than one batch). */
  readonly compliantMachines: number;
}

/** Resources and notes by subscription (ids compared case-insensitively), subscriptions in id order. */
function subscriptionsOf(report: ReportPageInput["report"]): SubscriptionPart[] {
  const parts = new Map<string, { subscriptionId: string; resources: ReportResource[]; notes: string[]; compliantMachines: number }>();
  const partOf = (subscriptionId: string) => {
    const key = subscriptionId.toLowerCase();
    const part = parts.get(key) ?? { subscriptionId, resources: [], notes: [], compliantMachines: 0 };
    parts.set(key, part);
    return part;
  };
  for (const resource of report.resources) partOf(resource.subscriptionId).resources.push(resource);
  for (const subscription of report.subscriptions) {
    const part = partOf(subscription.subscriptionId);
    part.notes.push(...subscription.notes);
    part.compliantMachines += subscription.compliantMachines ?? 0;
  }
  return [...parts.values()].sort((a, b) => a.subscriptionId.localeCompare(b.subscriptionId));
}

function subscriptionSection(part: SubscriptionPart, bodies: Bodies, showTiming: boolean): Html {
  const resources = [...part.resources].sort((a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) || nameOf(a.id).localeCompare(nameOf(b.id)));
  const counted = part.compliantMachines;
  const counts = STATUS_ORDER.map((status) => [status, resources.filter((resource) => resource.status === status).length + (status === "compliant" ? counted : 0)] as const).filter(([, count]) => count > 0);
  const total = resources.length + counted;
  const columns = showTiming ? 6 : 5;
  return html`<section class="subscription" data-subscription-id="${part.subscriptionId}">
<h2>Subscription <code>${part.subscriptionId}</code></h2>
<p>${total} ${plural(total, "resource")}${counts.length > 0 ? ": " : ""}${counts.map(([status, count]) => `${count} ${status}`).join(", ")}</p>
${part.notes.length > 0 ? html`<ul class="subscription-notes">${part.notes.map((note) => html`<li>${note}</li>`)}</ul>` : ""}
${counted > 0 ? html`<p class="compliant-counted">${counted} compliant ${plural(counted, "machine")} with nothing to report ${plural(counted, "is", "are")} counted, not listed.</p>` : ""}
${
  resources.length > 0
    ? html`<table class="machines">
<thead><tr><th>Status</th><th>Resource</th><th>Kind</th>${showTiming ? html`<th>Time to compliant</th>` : ""}<th>Notes</th><th>Actions</th></tr></thead>
${resources.map((resource) => machineRows(resource, bodies, showTiming, columns))}
</table>`
    : ""
}
</section>`;
}

function machineRows(resource: ReportResource, bodies: Bodies, showTiming: boolean, columns: number): Html {
  return html`<tbody class="machine">
<tr class="machine" data-resource-id="${resource.id}">
<td>${statusBadge(resource.status)}</td>
<td class="resource">${resourceName(resource.id)}</td>
<td class="nowrap">${KIND_LABELS[resource.kind] ?? resource.kind}</td>
${showTiming ? html`<td>${timing(resource.timing)}</td>` : ""}
<td>${resource.notes.length > 0 ? html`<ul class="notes">${resource.notes.map((note) => html`<li>${note}</li>`)}</ul>` : ""}</td>
<td>${resource.actions.length}</td>
</tr>
${
  resource.actions.length > 0
    ? html`<tr class="actions"><td colspan="${columns}">
<table class="actions">
<thead><tr><th>Action</th><th>Method</th><th>Target</th><th>Reason</th><th>Outcome</th></tr></thead>
<tbody>${resource.actions.map((action) => actionRows(action, resource, bodies))}</tbody>
</table>
</td></tr>`
    : ""
}
</tbody>`;
}

function actionRows(action: ReportAction, resource: ReportResource, bodies: Bodies): Html {
  const planned = bodies.get(bodyKey(action));
  return html`<tr class="action">
<td class="nowrap">${action.action}</td>
<td class="nowrap">${action.method}</td>
<td class="target">${target(action.targetId, resource.id)}</td>
<td>${action.reason}</td>
<td>${statusBadge(outcomeStatus(action.outcome), action.outcome)}${action.error ? html`<br><code class="nowrap">${action.error.code}</code>` : ""}${action.retries ? html`<br><span class="muted">${action.retries} ${plural(action.retries, "retry", "retries")}</span>` : ""}</td>
</tr>
${
  planned?.body
    ? html`<tr class="body"><td colspan="5"><details><summary>${action.method} body${planned.apiVersion ? ` (api-version ${planned.apiVersion})` : ""}</summary><pre>${JSON.stringify(planned.body, null, 2)}</pre></details></td></tr>`
    : ""
}`;
}

const KIND_LABELS: Readonly<Record<string, string>> = { virtualMachine: "VM", arcMachine: "Arc machine", shared: "shared resource" };

const OUTCOME_STATUS: Readonly<Record<ReportAction["outcome"], ResourceStatus>> = { planned: "planned", succeeded: "remediated", failed: "failed", skipped: "skipped" };

/** An action's outcome in the report's status words (a stored outcome this version does not know reads as failed). */
function outcomeStatus(outcome: ReportAction["outcome"]): ResourceStatus {
  return OUTCOME_STATUS[outcome] ?? "failed";
}

/** Status in words and colour, so it reads in black and white too. */
function statusBadge(status: ResourceStatus, label: string = status): Html {
  return html`<span class="status status-${status}">${label}</span>`;
}

function resourceName(id: string): Html {
  const group = /\/resourceGroups\/([^/]+)/i.exec(id)?.[1];
  return html`<strong class="name" title="${id}">${nameOf(id)}</strong>${group ? html`<br><span class="muted">${group}</span>` : ""}`;
}

/** The last name in an id; never throws (a name that is not a valid ARM name still shows). */
function nameOf(id: string): string {
  return id.split("/").filter((segment) => segment !== "").at(-1) ?? id;
}

/** A write to the resource itself says so; one below it (an extension, an association) shows the part after its id. */
function target(targetId: string, resourceId: string): Html {
  if (idKey(targetId) === idKey(resourceId)) return html`<span class="muted" title="${targetId}">this resource</span>`;
  const below = idKey(targetId).startsWith(`${idKey(resourceId)}/`);
  return html`<code title="${targetId}">${below ? `…${targetId.slice(resourceId.replace(/\/+$/, "").length)}` : targetId}</code>`;
}

function timing(value: Timing | undefined): Html | string {
  if (!value) return "";
  const since = html`<br><span class="muted">${causeLabel(value.cause)}, drift since ${timestamp(value.driftBeganAt)}</span>`;
  if (value.secondsToCompliant !== undefined) return html`<span class="time-to-compliant">${duration(value.secondsToCompliant)}</span>${since}`;
  return html`not verified yet${since}`;
}

function causeLabel(cause: DriftCause): string {
  return cause === "sweep" ? "found by a sweep" : cause.replace(/[A-Z]/g, (letter) => ` ${letter.toLowerCase()}`);
}

/** `2026-11-25 10:00:05 UTC`; what was stored, as it is, when it is not a date. */
function timestamp(iso: string): string {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? iso : `${new Date(time).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function plural(count: number, one: string, many = `${one}s`): string {
  return count === 1 ? one : many;
}

type Bodies = ReadonlyMap<string, Pick<PlanItem, "body" | "apiVersion">>;

/** Plan items by action and target: what a report action carries to find its item. */
function bodiesOf(plan: Pick<Plan, "items"> | undefined): Bodies {
  return new Map((plan?.items ?? []).map((item) => [bodyKey(item), item]));
}

function bodyKey(item: { readonly action: string; readonly targetId: string }): string {
  return `${item.action} ${idKey(item.targetId)}`;
}

/** Markup built by `html`: the only text that reaches the page unescaped. */
class Html {
  constructor(readonly text: string) {}
}

function raw(trusted: string): Html {
  return new Html(trusted);
}

/** A template whose every interpolated value is escaped unless it is itself `html` markup (arrays are joined). */
function html(strings: TemplateStringsArray, ...values: readonly unknown[]): Html {
  return new Html(strings.reduce((text, literal, index) => text + literal + (index < values.length ? interpolate(values[index]) : ""), ""));
}

function interpolate(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(interpolate).join("");
  if (value === undefined || value === null) return "";
  return escapeHtml(String(value));
}

const ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** The one escape for text and attribute values (always double-quoted). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character] as string);
}
