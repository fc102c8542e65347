/**
 * Change review through the Function App: a dry run stores its plan; `POST /api/runs {planId}` applies
 * exactly it later, refusing what went stale, and refuses a plan that is unknown, not a finished dry
 * run, too old, or made under other settings. Tests run in order against one estate.
 */
import { describe, expect, it } from "vitest";
import { handleRunsRequest } from "../../src/functions/runsApi.js";
import type { ReportResource } from "../../src/report/buildReport.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { useHarness } from "../service/harness.js";
import { bodyText, httpRequest, jsonOf } from "./http.js";

const harness = useHarness();

function send(method: string, path: string, body?: unknown, service = harness().service) {
  return handleRunsRequest(service, httpRequest(method, path, body === undefined ? {} : { body: JSON.stringify(body) }));
}

async function runToEnd(body: unknown): Promise<{ runId: string; run: Record<string, unknown> & { report?: ReportResource[] } }> {
  const response = await send("POST", "/api/runs", body);
  expect(response.status, bodyText(response)).toBe(202);
  const runId = jsonOf(response).runId as string;
  await harness().drain();
  const run = jsonOf(await handleRunsRequest(harness().service, httpRequest("GET", `/api/runs/${runId}`, { params: { runId } })));
  return { runId, run };
}

describe("POST /api/runs {planId}", () => {
  let planId = "";

  it("a dry run stores its plan and writes nothing", async () => {
    harness().azure.resetRequests();
    const { runId, run } = await runToEnd({ dryRun: true });
    expect(run).toMatchObject({ status: "succeeded", dryRun: true });
    expect(harness().writes()).toEqual([]);
    const parts = await harness().service.state.runs.planParts(runId);
    expect(parts?.length).toBeGreaterThan(0);
    planId = runId;
  });

  it("refuses a body that mixes planId with a scope, an unknown run, and a run that was not a dry run", async () => {
    const mixed = await send("POST", "/api/runs", { planId, subscriptions: [harness().estate.subscriptions[0]?.subscriptionId] });
    expect(mixed.status).toBe(400);
    expect(jsonOf(mixed).detail).toMatch(/subscriptions cannot go with planId/);
    const unknown = await send("POST", "/api/runs", { planId: "0d4c1a5e-1111-4222-8333-444455556666" });
    expect(unknown.status).toBe(404);
    expect(await send("POST", "/api/runs", { planId: "not a run id!" }).then((response) => response.status)).toBe(400);
  });

  it("refuses the plan under other settings, or once older than PLAN_MAX_AGE_HOURS, writing nothing", async () => {
    harness().azure.resetRequests();
    const otherTag = await harness().freshService({ OPT_OUT_TAG: "keep-out" });
    const other = await send("POST", "/api/runs", { planId }, otherTag);
    expect(other.status).toBe(409);
    expect(jsonOf(other).detail).toMatch(/made for other settings \(OPT_OUT_TAG differ\)/);
    const strict = await harness().freshService({ PLAN_MAX_AGE_HOURS: "0.000001" });
    const old = await send("POST", "/api/runs", { planId }, strict);
    expect(old.status).toBe(409);
    expect(jsonOf(old).detail).toMatch(/more than PLAN_MAX_AGE_HOURS/);
    expect(harness().writes()).toEqual([]);
  });

  it("applies exactly the stored plan; a target that moved since is refused as stale and left as it is", async () => {
    const { azure, estate, service } = harness();
    const parts = (await service.state.runs.planParts(planId)) as { plan: { items: { action: string; targetId: string }[] } }[];
    const items = parts.flatMap((part) => part.plan.items);
    const patch = items.find((item) => item.action === "updateMachineIdentity");
    expect(patch).toBeDefined();
    // Someone attaches an identity to that machine after the review.
    const machine = azure.get(patch?.targetId as string);
    const late = `${(patch?.targetId as string).split("/providers/")[0]}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-late`;
    azure.load([{ ...(machine as NonNullable<typeof machine>), identity: { type: "UserAssigned", userAssignedIdentities: { [late]: { principalId: "p", clientId: "c" } } } }]);
    azure.resetRequests();

    const { run } = await runToEnd({ planId });
    expect(run).toMatchObject({ status: "succeeded", dryRun: false });
    const listed = new Set(items.map((item) => item.targetId.toLowerCase()));
    const written = harness().writes().map((entry) => decodeURIComponent(entry.path).toLowerCase());
    expect(written.length).toBeGreaterThan(0);
    expect(written.filter((id) => !listed.has(id))).toEqual([]);
    expect(written).not.toContain((patch?.targetId as string).toLowerCase());
    const actions = (run.report ?? []).flatMap((resource) => resource.actions);
    const refused = actions.find((action) => action.targetId === patch?.targetId && action.action === "updateMachineIdentity");
    expect(refused?.error).toMatchObject({ code: "StalePlan", message: expect.stringMatching(/what the plan observed changed/) });
    expect(azure.get(patch?.targetId as string)?.identity?.userAssignedIdentities).toHaveProperty([late]);
    // A machine the plan fixed is compliant now.
    const fixed = machineWith(estate, "system-identity");
    expect(written.some((id) => id.startsWith(fixed.id.toLowerCase()))).toBe(true);
  });
});
