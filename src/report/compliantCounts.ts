/**
 * Compliant machines counted per subscription instead of listed. A sweep of many batches otherwise keeps a
 * report row for every machine of the tenant until it ends, and memory follows the tenant instead of the batch.
 * A machine the run acted on, skipped, failed or has a note about is always listed. Pure.
 */
import type { Report, ReportResource, ReportSubscription } from "./buildReport.js";

/** A compliant machine the report says nothing else about: no action, no note, no timing. */
export function hasNothingToReport(resource: ReportResource): boolean {
  return resource.kind !== "shared" && resource.status === "compliant" && resource.actions.length === 0 && resource.notes.length === 0 && resource.timing === undefined;
}

/** The report with its compliant machines that have nothing to report counted per subscription; its summary is unchanged. */
export function countCompliantMachines(report: Report): Report {
  const counted = new Map<string, number>();
  const resources = report.resources.filter((resource) => {
    if (!hasNothingToReport(resource)) return true;
    counted.set(resource.subscriptionId, (counted.get(resource.subscriptionId) ?? 0) + 1);
    return false;
  });
  if (counted.size === 0) return report;
  const subscriptions: ReportSubscription[] = report.subscriptions.map((subscription) => {
    const count = counted.get(subscription.subscriptionId);
    counted.delete(subscription.subscriptionId);
    return count === undefined ? subscription : { ...subscription, compliantMachines: (subscription.compliantMachines ?? 0) + count };
  });
  for (const [subscriptionId, compliantMachines] of counted) subscriptions.push({ subscriptionId, notes: [], compliantMachines });
  return { ...report, resources, subscriptions };
}

/** Compliant machines a report counts without listing them. */
export function countedCompliantMachines(report: Pick<Report, "subscriptions">): number {
  return report.subscriptions.reduce((total, subscription) => total + (subscription.compliantMachines ?? 0), 0);
}
