/**
 * HTTP API for manual runs (authLevel function: a function key is required).
 *   POST /api/runs             {subscriptions?, dryRun?, resourceIds?} -> 202 {runId, statusUrl} + Location
 *   POST /api/runs             {planId} -> the same, applying the plan dry run `planId` stored (404 unknown, 409 refused)
 *   GET  /api/runs/{runId}     status, counts, poison and, when done, the report of every machine
 *   GET  /api/runs?limit=N     recent runs, newest first
 *   GET  /api/runs/{runId}/report   the run's report as one self-contained HTML page
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { InputError } from "../errors.js";
import { isRunId } from "../state/keys.js";
import { resolveRunScope, startRun } from "../service/runs.js";
import { parseWith, runRequestSchema } from "../schemas.js";
import { sharedService, type Service } from "../service/service.js";
import type { RunRecord, RunSummary } from "../state/runStore.js";
import { storedPlan } from "../service/savedPlans.js";
import { wholePlanRefusal } from "../plan/savedPlan.js";
import { REPORT_PAGE_CSP, renderReportPage } from "../report/reportPage.js";
import { reportPageInputOfRun } from "../report/runReportPage.js";
import { json, methodNotAllowed, problem } from "./problem.js";

const MAX_BODY_BYTES = 64 * 1024;

export async function runsApi(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return handleRunsRequest(await sharedService(), request);
}

export async function handleRunsRequest(service: Service, request: HttpRequest): Promise<HttpResponseInit> {
  const runId = request.params["runId"];
  try {
    if (runId !== undefined) return request.method === "GET" ? await getRun(service, runId) : methodNotAllowed(["GET"]);
    if (request.method === "POST") return await postRun(service, request);
    if (request.method === "GET") return await listRuns(service, request.query.get("limit"));
    return methodNotAllowed(["GET", "POST"]);
  } catch (error) {
    if (error instanceof InputError) return problem(400, "Bad Request", error.message, error.field);
    throw error;
  }
}

async function postRun(service: Service, request: HttpRequest): Promise<HttpResponseInit> {
  const text = await request.text();
  if (Buffer.byteLength(text, "utf8") > MAX_BODY_BYTES) return problem(413, "Payload Too Large", `the body must be at most ${MAX_BODY_BYTES} bytes`);
  let parsed: unknown = {};
  if (text.trim().length > 0) {
    const contentType = request.headers.get("content-type") ?? "";
    if (!/^application\/(.+\+)?json\b/i.test(contentType)) return problem(415, "Unsupported Media Type", "send the body as application/json");
    try {
      parsed = JSON.parse(text);
    } catch {
      return problem(400, "Bad Request", "the body is not valid JSON", "body");
    }
  }
  const body = parseWith(runRequestSchema, parsed, "body");
  let run: RunSummary;
  if (body.planId) {
    const found = await storedPlan(service, body.planId);
    if ("refused" in found) return problem(found.refused.status, found.refused.status === 404 ? "Not Found" : "Conflict", found.refused.reason, "planId");
    const refusal = wholePlanRefusal(found.saved, service.settings);
    if (refusal) return problem(409, "Conflict", refusal, "planId");
    run = await startRun(service, { trigger: "http", dryRun: false }, { kind: "savedPlan", planId: body.planId, subscriptionIds: found.saved.scope.subscriptions });
  } else {
    const scope = await resolveRunScope(service, body);
    run = await startRun(service, { trigger: "http", ...(body.dryRun !== undefined ? { dryRun: body.dryRun } : {}) }, scope);
  }
  const statusUrl = new URL(`/api/runs/${run.runId}`, request.url).toString();
  return json(202, { runId: run.runId, statusUrl, status: run.status }, { location: statusUrl });
}

async function getRun(service: Service, runId: string): Promise<HttpResponseInit> {
  const found = await storedRun(service, runId);
  return "refused" in found ? found.refused : json(200, found.run);
}

export async function runReportApi(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return handleRunReportRequest(await sharedService(), request);
}

/** The page opens in a browser: its own CSP as a header too, where frame-ancestors can also keep it out of frames. */
export async function handleRunReportRequest(service: Service, request: HttpRequest): Promise<HttpResponseInit> {
  if (request.method !== "GET") return methodNotAllowed(["GET"]);
  const found = await storedRun(service, request.params["runId"] ?? "");
  if ("refused" in found) return found.refused;
  return {
    status: 200,
    headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": `${REPORT_PAGE_CSP}; frame-ancestors 'none'`, "x-content-type-options": "nosniff" },
    body: renderReportPage(reportPageInputOfRun(found.run)),
  };
}

/** The stored run, or the problem to answer for a malformed or unknown id. */
async function storedRun(service: Service, runId: string): Promise<{ readonly run: RunRecord } | { readonly refused: HttpResponseInit }> {
  if (!isRunId(runId)) return { refused: problem(400, "Bad Request", "runId is not a run id", "runId") };
  const run = await service.state.runs.get(runId);
  return run ? { run } : { refused: problem(404, "Not Found", `no run ${runId}`, "runId") };
}

async function listRuns(service: Service, limitText: string | null): Promise<HttpResponseInit> {
  const limit = limitText === null ? 20 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return problem(400, "Bad Request", "limit must be an integer from 1 to 100", "limit");
  return json(200, { runs: await service.state.runs.listRecent(limit) });
}

app.http("runs", { methods: ["GET", "POST", "PUT", "PATCH", "DELETE"], authLevel: "function", route: "runs/{runId?}", handler: runsApi });
app.http("runReport", { methods: ["GET", "POST", "PUT", "PATCH", "DELETE"], authLevel: "function", route: "runs/{runId}/report", handler: runReportApi });
