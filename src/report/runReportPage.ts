/**
 * A stored run (src/state/runStore.ts) as the report page's input: the run keeps counts and report
 * entries (machines with their actions, and subscription notes) but no plan, so its page shows no bodies.
 * Pure.
 */
import type { RunRecord } from "../state/runStore.js";
import type { ReportResource } from "./buildReport.js";
import type { ReportPageInput } from "./reportPage.js";
import { countPolicyDenials } from "./policyDenials.js";

interface SubscriptionEntry {
  readonly kind: "subscription";
  readonly subscriptionId: string;
  readonly notes: readonly string[];
  readonly compliantMachines?: unknown;
}

export function reportPageInputOfRun(run: RunRecord): ReportPageInput {
  const entries = run.report ?? [];
  const resources = entries.filter(isResourceEntry);
  const subscriptions = entries.filter(isSubscriptionEntry);
  const unreadableEntries = entries.length - resources.length - subscriptions.length;
  const deniedWrites = resources.flatMap((resource) => resource.actions.flatMap((action) => (Array.isArray(action.deniedBy) ? [action.deniedBy] : [])));
  return {
    report: {
      runId: run.runId,
      dryRun: run.dryRun,
      startedAt: (run.startedAt ?? run.createdAt).toISOString(),
      ...(run.finishedAt ? { finishedAt: run.finishedAt.toISOString() } : {}),
      summary: run.counts,
      deniedByPolicy: countPolicyDenials(deniedWrites),
      resources,
      subscriptions: subscriptions.map(({ subscriptionId, notes, compliantMachines }) => ({ subscriptionId, notes, ...(isCount(compliantMachines) ? { compliantMachines } : {}) })),
    },
    run: {
      status: run.status,
      ...(run.error !== undefined ? { error: run.error } : {}),
      poison: run.poison,
      workItems: run.workItems,
      ...(unreadableEntries > 0 ? { unreadableEntries } : {}),
    },
  };
}

function isResourceEntry(entry: unknown): entry is ReportResource {
  if (!isObject(entry) || entry["kind"] === "subscription") return false;
  return typeof entry["id"] === "string" && typeof entry["subscriptionId"] === "string" && typeof entry["status"] === "string" && Array.isArray(entry["actions"]) && entry["actions"].every(isObject) && isStrings(entry["notes"]);
}

function isSubscriptionEntry(entry: unknown): entry is SubscriptionEntry {
  return isObject(entry) && entry["kind"] === "subscription" && typeof entry["subscriptionId"] === "string" && isStrings(entry["notes"]);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

function isStrings(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}
