/** A report as a readable table for terminals and logs. Pure. */
import type { Report, ReportResource } from "./buildReport.js";

export function formatTable(report: Report): string {
  const lines: string[] = [];
  const rows = report.resources.map((resource) => [resource.status, kindLabel(resource), shortId(resource.id), detail(resource)]);
  const header = ["STATUS", "KIND", "RESOURCE", "ACTIONS / NOTES"];
  const widths = header.map((title, column) => Math.min(60, Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length))));
  const format = (row: readonly string[]) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  ");
  lines.push(format(header));
  for (const row of rows) lines.push(format(row));
  for (const subscription of report.subscriptions) for (const note of subscription.notes) lines.push(`subscription ${subscription.subscriptionId}: ${note}`);
  const summary = report.summary;
  lines.push("");
  lines.push(
    `${report.dryRun ? "Dry run (nothing changed): " : ""}${summary.compliant} compliant, ${summary.remediated} remediated, ${summary.planned} planned, ${summary.failed} failed, ${summary.skipped} skipped`,
  );
  return lines.join("\n");
}

function kindLabel(resource: ReportResource): string {
  return { virtualMachine: "vm", arcMachine: "arc", shared: "shared" }[resource.kind];
}

/** `<rg>/<name>[/<child>]` for resources in a group; `<subscription>/<type>/<name>` for subscription-level ones. */
function shortId(id: string): string {
  const parts = id.split("/");
  const names = (from: number) => parts.filter((_, index) => index >= from && (index - from) % 2 === 1).join("/");
  if (parts[3]?.toLowerCase() === "resourcegroups") return parts.length > 6 ? `${parts[4]}/${names(7)}` : `${parts[4]}`;
  return parts.length > 6 ? `${parts[2]?.slice(0, 8)}…/${parts.slice(5).join("/")}` : id;
}

function detail(resource: ReportResource): string {
  const actions = resource.actions.map((action) => `${action.action}${action.outcome === "failed" || action.outcome === "skipped" ? ` (${action.outcome}: ${action.error?.code ?? ""} ${action.error?.message ?? ""})` : ""}`);
  return [...actions, ...resource.notes].join("; ");
}
