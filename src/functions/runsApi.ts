/**
 * HTTP API for manual runs (authLevel function: a function key is required).
 *   POST /api/runs             {subscriptions?, dryRun?, resourceIds?} -> 202 {runId, statusUrl} + Location
 *   GET  /api/runs/{runId}     status, counts, poison and, when done, the report of every machine
 *   GET  /api/runs?limit=N     recent runs, newest first
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { InputError } from "../errors.js";
import { isGuid, tryParseResourceId } from "../azure/ids.js";
import { isRunId } from "../state/keys.js";
import { startRun } from "../service/runs.js";
import { sharedService, type Service } from "../service/service.js";
import { json, methodNotAllowed, problem } from "./problem.js";

const MAX_BODY_BYTES = 64 * 1024;
const MAX_IDS = 1000;
const RUN_FIELDS = new Set(["subscriptions", "dryRun", "resourceIds"]);

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
  let body: Record<string, unknown> = {};
  if (text.trim().length > 0) {
    const contentType = request.headers.get("content-type") ?? "";
    if (!/^application\/(.+\+)?json\b/i.test(contentType)) return problem(415, "Unsupported Media Type", "send the body as application/json");
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return problem(400, "Bad Request", "the body is not valid JSON", "body");
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return problem(400, "Bad Request", "the body must be a JSON object", "body");
    body = parsed as Record<string, unknown>;
  }
  const unknown = Object.keys(body).find((key) => !RUN_FIELDS.has(key));
  if (unknown) return problem(400, "Bad Request", `unknown field "${unknown.slice(0, 64)}"`, unknown.slice(0, 64));
  const subscriptions = stringList(body["subscriptions"], "subscriptions", (value) => isGuid(value) || `"${value.slice(0, 64)}" is not a subscription id`);
  const resourceIds = stringList(body["resourceIds"], "resourceIds", (value) => tryParseResourceId(value) !== undefined || `"${value.slice(0, 64)}" is not an ARM resource id`);
  if (body["dryRun"] !== undefined && typeof body["dryRun"] !== "boolean") throw new InputError("dryRun must be true or false", "dryRun");
  const run = await startRun(service, {
    trigger: "http",
    ...(subscriptions ? { subscriptions } : {}),
    ...(resourceIds ? { resourceIds } : {}),
    ...(typeof body["dryRun"] === "boolean" ? { dryRun: body["dryRun"] } : {}),
  });
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

function stringList(value: unknown, field: string, check: (value: string) => true | string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new InputError(`${field} must be an array of strings`, field);
  // An empty list must not widen into "everything": omit the field to mean the whole scope.
  if (value.length === 0) throw new InputError(`${field} must not be empty (omit it for the whole configured scope)`, field);
  if (value.length > MAX_IDS) throw new InputError(`${field} may list at most ${MAX_IDS} entries`, field);
  return value.map((entry) => {
    if (typeof entry !== "string") throw new InputError(`${field} must be an array of strings`, field);
    const verdict = check(entry);
    if (verdict !== true) throw new InputError(`${field}: ${verdict}`, field);
    return entry;
  });
}

app.http("runs", { methods: ["GET", "POST", "PUT", "PATCH", "DELETE"], authLevel: "function", route: "runs/{runId?}", handler: runsApi });
