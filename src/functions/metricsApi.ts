/**
 * GET /api/metrics?hours=N (authLevel function, as the runs API): time-to-compliant per drift cause
 * (p50, p95, max and count, nearest-rank) and machines per status, over the last N hours (1-168,
 * default 24). Read from the timings table (src/state/timings.ts): one query over the window's hours.
 */
import "../telemetry/startup.js";
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { z } from "zod";
import { InputError } from "../errors.js";
import { parseWith } from "../schemas.js";
import { sharedService, type Service } from "../service/service.js";
import { TIMINGS_RETENTION_HOURS } from "../state/timings.js";
import { summariseTimings } from "../telemetry/summary.js";
import { json, methodNotAllowed, problem } from "./problem.js";

const DEFAULT_HOURS = 24;
const hoursMessage = `hours must be a whole number from 1 to ${TIMINGS_RETENTION_HOURS}`;

/** The query string; other parameters (the host's `code` key among them) are ignored. */
const metricsQuerySchema = z.object({
  hours: z
    .string()
    .regex(/^\d{1,4}$/, hoursMessage)
    .transform(Number)
    .pipe(z.int().min(1, hoursMessage).max(TIMINGS_RETENTION_HOURS, hoursMessage))
    .optional(),
});

export async function metricsApi(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return handleMetricsRequest(await sharedService(), request);
}

export async function handleMetricsRequest(service: Service, request: HttpRequest, now = new Date()): Promise<HttpResponseInit> {
  if (request.method !== "GET") return methodNotAllowed(["GET"]);
  try {
    const { hours = DEFAULT_HOURS } = parseWith(metricsQuerySchema, Object.fromEntries(request.query));
    const from = new Date(now.getTime() - hours * 3_600_000);
    return json(200, summariseTimings(await service.state.timings.window(from, now), { from, to: now, hours }));
  } catch (error) {
    if (error instanceof InputError) return problem(400, "Bad Request", error.message, error.field);
    throw error;
  }
}

app.http("metrics", { methods: ["GET", "POST", "PUT", "PATCH", "DELETE"], authLevel: "function", route: "metrics", handler: metricsApi });
