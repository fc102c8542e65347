/**
 * HTTP API for manual runs (authLevel function: a function key is required).
 *   POST /api/runs             {subscriptions?, dryRun?, resourceIds?} -> 202 {runId, statusUrl} + Location
 *   GET  /api/runs/{runId}     status, counts, poison and, when done, the report of every machine
 *   GET  /api/runs?limit=N     recent runs, newest first
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { InputError } from "../errors.js";
import { isRunId } from "../state/keys.js";
import { resolveRunScope, startRun } from "../service/runs.js";
import { parseWith, runRequestSchema } from "../schemas.js";
import { sharedService, type Service } from "../service/service.js";
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
  const scope = await resolveRunScope(service, body);
  const run = await startRun(service, { trigger: "http", ...(body.dryRun !== undefined ? { dryRun: body.dryRun } : {}) }, scope);
  const statusUrl = new URL(`/api/runs/${run.runId}`, request.url).toString();
  return json(202, { runId: run.runId, statusUrl, status: run.status }, { location: statusUrl });
}

async function getRun(service: Service, runId: string): Promise<HttpResponseInit> {
  if (!isRunId(runId)) return problem(400, "Bad Request", "runId is not a run id", "runId");
  const run = await service.state.runs.get(runId);
  return run ? json(200, run) : problem(404, "Not Found", `no run ${runId}`, "runId");
}

async function listRuns(service: Service, limitText: string | null): Promise<HttpResponseInit> {
  const limit = limitText === null ? 20 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return problem(400, "Bad Request", "limit must be an integer from 1 to 100", "limit");
  return json(200, { runs: await service.state.runs.listRecent(limit) });
}

app.http("runs", { methods: ["GET", "POST", "PUT", "PATCH", "DELETE"], authLevel: "function", route: "runs/{runId?}", handler: runsApi });
