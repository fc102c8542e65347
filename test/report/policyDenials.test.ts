/** Writes a deny policy refused, in the report: per action, counted per assignment, merged across batches, in the table. */
import { describe, expect, it } from "vitest";
import type { ItemResult } from "../../src/apply/applyPlan.js";
import type { PolicyViolation } from "../../src/errors.js";
import { buildReport, mergeReports } from "../../src/report/buildReport.js";
import { formatTable } from "../../src/report/formatTable.js";
import { countPolicyDenials, mergePolicyDenials } from "../../src/report/policyDenials.js";
import { SUB, planOf, settingsWith, snapshot, subscription, vm } from "../support/snapshotBuilder.js";

const STARTED = new Date("2026-11-25T10:00:00.000Z");
const REQUIRE_TAG: PolicyViolation = {
  policyAssignmentId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/policyAssignments/require-cc`,
  policyAssignmentName: "require-cc",
  policyAssignmentDisplayName: "Require costCenter",
  policyDefinitionId: "/providers/Microsoft.Authorization/policyDefinitions/871b6d14-10aa-478d-b590-94f262ecfa99",
};
const ALLOWED_LOCATIONS: PolicyViolation = { policyAssignmentId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/policyAssignments/ALLOWED`, policyAssignmentName: "ALLOWED" };

describe("countPolicyDenials", () => {
  it.each([
    { case: "nothing denied", denied: [], expected: { writes: 0, policies: [] } },
    { case: "one write, one policy", denied: [[REQUIRE_TAG]], expected: { writes: 1, policies: [{ ...REQUIRE_TAG, writes: 1 }] } },
    {
      case: "two writes, one by both policies",
      denied: [[REQUIRE_TAG], [REQUIRE_TAG, ALLOWED_LOCATIONS]],
      expected: { writes: 2, policies: [{ ...REQUIRE_TAG, writes: 2 }, { ...ALLOWED_LOCATIONS, writes: 1 }] },
    },
  ])("$case", ({ denied, expected }) => {
    expect(countPolicyDenials(denied)).toEqual(expected);
  });

  it("merges batches; an assignment id in another casing is the same assignment", () => {
    const lowerCased = { ...ALLOWED_LOCATIONS, policyAssignmentId: ALLOWED_LOCATIONS.policyAssignmentId.toLowerCase() };
    expect(mergePolicyDenials([countPolicyDenials([[ALLOWED_LOCATIONS]]), countPolicyDenials([[lowerCased], [REQUIRE_TAG]])])).toEqual({
      writes: 3,
      policies: [{ ...lowerCased, writes: 2 }, { ...REQUIRE_TAG, writes: 1 }],
    });
  });
});

describe("a report with a denied resource group", () => {
  const plan = planOf(snapshot([vm("vm-new")], { subscriptions: [subscription()] }), settingsWith());
  const group = plan.items.find((item) => item.action === "createResourceGroup");
  if (!group) throw new Error("the plan creates no resource group");
  const results = new Map<string, ItemResult>([[group.key, { key: group.key, outcome: "failed", error: { code: "RequestDisallowedByPolicy", message: "Resource 'x' was disallowed by policy. Policy identifiers: '[…]'." }, deniedBy: [REQUIRE_TAG], startedAt: STARTED.toISOString(), durationMs: 3 }]]);
  const report = buildReport("run-1", plan, results, STARTED, STARTED);

  it("names the policy on the action and counts the write in deniedByPolicy", () => {
    const action = report.resources.flatMap((resource) => resource.actions).find((candidate) => candidate.targetId === group.targetId);
    expect(action).toMatchObject({ outcome: "failed", error: { code: "RequestDisallowedByPolicy" }, deniedBy: [REQUIRE_TAG] });
    expect(report.deniedByPolicy).toEqual({ writes: 1, policies: [{ ...REQUIRE_TAG, writes: 1 }] });
    expect(mergeReports([report, report], "run-1", false, STARTED).deniedByPolicy).toEqual({ writes: 2, policies: [{ ...REQUIRE_TAG, writes: 2 }] });
  });

  it("the table names the policy on the row and under the summary, not ARM's escaped JSON", () => {
    const table = formatTable(report);
    expect(table).toContain(`createResourceGroup (failed: RequestDisallowedByPolicy by 'Require costCenter' (${REQUIRE_TAG.policyAssignmentId}))`);
    expect(table.split("\n").slice(-2)).toEqual(["1 write denied by Azure Policy:", `  'Require costCenter' (${REQUIRE_TAG.policyAssignmentId}): 1 denied`]);
  });

  it("a dry run has no denials", () => {
    expect(buildReport("run-2", { ...plan, dryRun: true }, undefined, STARTED, STARTED).deniedByPolicy).toEqual({ writes: 0, policies: [] });
  });
});

describe("a resource group the service created", () => {
  it("says so, with its location", () => {
    const plan = planOf(snapshot([vm("vm-weu", { location: "westeurope" })], { subscriptions: [subscription()] }), settingsWith());
    const results = new Map(plan.items.map((item): [string, ItemResult] => [item.key, { key: item.key, outcome: "succeeded", startedAt: STARTED.toISOString(), durationMs: 1 }]));
    const group = buildReport("run-3", plan, results, STARTED, STARTED).resources.find((resource) => resource.id.endsWith("/DefaultResourceGroup-WEU"));
    expect(group).toMatchObject({ kind: "shared", status: "remediated", notes: ["resource group created by ama-remediator in westeurope"] });
  });
});
