/**
 * One report for the page's tests, built the way the CLI builds it (evaluate, plan, apply results,
 * buildReport) over two subscriptions: a failed write, the writes skipped for it, a write a deny policy
 * refused, compliant, opted-out and remediated machines, subscription findings, time-to-compliant on some
 * machines, and hostile text wherever Azure supplies it (a machine name, a tag value, messages, notes).
 */
import type { ItemResult } from "../../src/apply/applyPlan.js";
import { ownedRuleId } from "../../src/defender/names.js";
import type { Plan, PlanItem } from "../../src/plan/plan.js";
import { buildReport, type ReportResource } from "../../src/report/buildReport.js";
import type { ReportPageInput } from "../../src/report/reportPage.js";
import type { Timing } from "../../src/report/timing.js";
import { OTHER_SUB, SUB, ama, association, planOf, settingsWith, snapshot, subscription, vm } from "../support/snapshotBuilder.js";

export const HOSTILE_NAME = "<img src=x onerror=alert(1)>";
export const HOSTILE_TAG_VALUE = "</script><script>alert(2)</script>";
export const HOSTILE_MESSAGE = `The client does not have authorization <b onmouseover=alert(3)>'x'</b> & "quotes"`;
export const HOSTILE_POLICY = "deny <i>everything</i>";
export const RUN_ID = "0f3b0c44-6f0e-4d7c-9a55-7d3c5e0b9a11";

const STARTED = new Date("2026-11-25T10:00:00.000Z");
const FINISHED = new Date("2026-11-25T10:03:20.000Z");
/** Renamed to HOSTILE_NAME after planning: ARM ids of the service's own plans cannot hold it. */
const HOSTILE_PLACEHOLDER = "vm-hostile";

const eus = (subscriptionId: string) => `/subscriptions/${subscriptionId}/resourceGroups/DefaultResourceGroup-EUS`;
const converged = (subscriptionId: string) =>
  subscription({
    subscriptionId,
    existing: [eus(subscriptionId), `${eus(subscriptionId)}/providers/Microsoft.OperationsManagement/solutions/SecurityCenterFree(DefaultWorkspace-${subscriptionId}-EUS)`, ownedRuleId(subscriptionId, "eastus")],
    workspaces: [{ id: `${eus(subscriptionId)}/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-${subscriptionId}-EUS`, location: "eastus" }],
  });

const compliant = (() => {
  const machine = vm("vm-ok");
  return { ...machine, extensions: [ama(machine)], associations: [association(machine, "x", ownedRuleId(SUB, "eastus"))] };
})();

export interface PageFixture {
  readonly input: ReportPageInput & { readonly plan: Plan };
  /** Resource rows expected per subscription. */
  readonly rows: Readonly<Record<string, number>>;
}

export function pageFixture(): PageFixture {
  const machines = [
    compliant,
    vm("vm-new", { identity: { systemAssigned: false } }),
    vm("vm-denied"),
    vm("vm-optout", { tags: { "ama-remediation": "skip" } }),
    vm(HOSTILE_PLACEHOLDER),
    vm("vm-other", { subscriptionId: OTHER_SUB, resourceGroup: "rg-other" }),
  ];
  const settings = settingsWith({ REMEDIATION_SUBSCRIPTIONS: `${SUB},${OTHER_SUB}`, CREATED_RESOURCE_TAGS: JSON.stringify({ owner: HOSTILE_TAG_VALUE }) });
  const built = planOf(snapshot(machines, { subscriptions: [{ ...converged(SUB), legacyAutoProvisioning: "On" }, converged(OTHER_SUB)] }), settings);
  const plan: Plan = {
    ...built,
    items: built.items.map((item) => ({ ...item, key: rename(item.key), targetId: rename(item.targetId), ...(item.machineId ? { machineId: rename(item.machineId) } : {}) })),
    assessments: built.assessments.map((assessment) => ({ ...assessment, machine: { ...assessment.machine, id: rename(assessment.machine.id), name: rename(assessment.machine.name) } })),
    findings: [...built.findings, { subscriptionId: SUB, message: `note from Azure: ${HOSTILE_NAME}` }] };

  const results = new Map<string, ItemResult>();
  const itemsOf = (name: string) => plan.items.filter((item) => item.machineId?.endsWith(`/${name}`));
  const [identity, ...afterIdentity] = itemsOf("vm-new");
  results.set(identity!.key, result(identity!, "failed", { code: "AuthorizationFailed", message: HOSTILE_MESSAGE }, { correlationId: "c0ffee00-0000-4000-8000-000000000001" }));
  for (const item of afterIdentity) results.set(item.key, result(item, "skipped", { code: "DependencyFailed", message: `depends on ${identity!.key}, which failed` }));
  const [denied, ...afterDenied] = itemsOf("vm-denied");
  const policy = { policyAssignmentId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/policyAssignments/deny-extensions`, policyAssignmentName: "deny-extensions", policyAssignmentDisplayName: HOSTILE_POLICY };
  results.set(denied!.key, result(denied!, "failed", { code: "RequestDisallowedByPolicy", message: "Resource was disallowed by policy." }, { deniedBy: [policy] }));
  for (const item of afterDenied) results.set(item.key, result(item, "succeeded"));
  for (const item of [...itemsOf(HOSTILE_NAME), ...itemsOf("vm-other")]) results.set(item.key, result(item, "succeeded"));

  const report = buildReport(RUN_ID, plan, results, STARTED, FINISHED);
  const timed: Readonly<Record<string, Timing>> = {
    [HOSTILE_NAME]: timing("machineCreated", 200),
    "vm-other": timing("sweep", 95),
    "vm-new": { cause: "planEnabled", driftBeganAt: "2026-11-25T09:55:00.000Z", startedAt: STARTED.toISOString() },
  };
  const resources: ReportResource[] = report.resources.map((resource) => {
    const found = timed[resource.id.split("/").at(-1) as string];
    return found ? { ...resource, timing: found } : resource;
  });
  const rows = { [SUB]: resources.filter((resource) => resource.subscriptionId === SUB).length, [OTHER_SUB]: resources.filter((resource) => resource.subscriptionId === OTHER_SUB).length };
  return { input: { report: { ...report, resources }, plan }, rows };
}

function rename(text: string): string {
  return text.replace(HOSTILE_PLACEHOLDER, HOSTILE_NAME);
}

function result(item: PlanItem, outcome: ItemResult["outcome"], error?: ItemResult["error"], extra: Partial<ItemResult> = {}): ItemResult {
  return { key: item.key, outcome, startedAt: STARTED.toISOString(), durationMs: 40, ...(error ? { error } : {}), ...extra };
}

function timing(cause: Timing["cause"], secondsToCompliant: number): Timing {
  const verifiedAt = new Date(FINISHED.getTime());
  return { cause, driftBeganAt: new Date(verifiedAt.getTime() - secondsToCompliant * 1000).toISOString(), startedAt: STARTED.toISOString(), verifiedAt: verifiedAt.toISOString(), secondsToCompliant };
}
