/** A report as a readable table for terminals and logs. Pure. */
import { describePolicyViolation } from "../errors.js";
import type { Report, ReportAction, ReportResource } from "./buildReport.js";
import { countedCompliantMachines } from "./compliantCounts.js";

export function formatTable(report: Report): string {
  const lines: string[] = [];
  const rows = report.resources.map((resource) => [resource.status, kindLabel(resource), shortId(resource.id), detail(resource)]);
  const header = ["STATUS", "KIND", "RESOURCE", "ACTIONS / NOTES"];
  const widths = header.map((title, column) => Math.min(60, Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length))));
  const format = (row: readonly string[]) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  ");
  lines.push(format(header));
  for (const row of rows) lines.push(format(row));
  for (const subscription of report.subscriptions) for (const note of subscription.notes) lines.push(`subscription ${subscription.subscriptionId}: ${note}`);
  const counted = countedCompliantMachines(report);
  if (counted > 0) lines.push(`${counted} compliant ${counted === 1 ? "machine" : "machines"} with nothing to report counted per subscription, not listed (--json has the counts)`);
  const summary = report.summary;
  lines.push("");
  lines.push(
    `${report.dryRun ? "Dry run (nothing changed): " : ""}${summary.compliant} compliant, ${summary.remediated} remediated, ${summary.planned} planned, ${summary.failed} failed, ${summary.skipped} skipped`,
  );
  const denials = report.deniedByPolicy;
  if (denials.writes > 0) {
    lines.push(`${denials.writes} ${denials.writes === 1 ? "write" : "writes"} denied by Azure Policy:`);
    for (const policy of denials.policies) lines.push(`  ${describePolicyViolation(policy)}: ${policy.writes} denied`);
  }
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
  const actions = resource.actions.map((action) => `${action.action}${action.outcome === "failed" || action.outcome === "skipped" ? ` (${action.outcome}: ${whyNot(action)})` : ""}`);
  return [...actions, ...resource.notes].join("; ");
}

/** A denied write names its policies (ARM's message repeats them as escaped JSON); anything else, ARM's code and message. */
function whyNot(action: ReportAction): string {
  if (action.deniedBy) return `${action.error?.code ?? ""} by ${action.deniedBy.map(describePolicyViolation).join(", ")}`;
  return `${action.error?.code ?? ""} ${action.error?.message ?? ""}`;
}
