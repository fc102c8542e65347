/**
 * GET /api/health: version, a settings summary (never a secret), whether Storage and ARM answer, and
 * how many work items wait in the work and poison queues (a growing poison queue needs an operator).
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import packageJson from "../../package.json" with { type: "json" };
import { sharedService, type Service } from "../service/service.js";
import { describeError } from "../errors.js";
import { json, methodNotAllowed } from "./problem.js";

export async function healthApi(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return handleHealthRequest(await sharedService(), request);
}

export async function handleHealthRequest(service: Service, request: HttpRequest): Promise<HttpResponseInit> {
  if (request.method !== "GET") return methodNotAllowed(["GET"]);
  const { settings } = service;
  const [storage, arm] = await Promise.all([
    probe(async () => {
      await service.state.runs.listRecent(1);
      return { queues: await service.state.workQueue.approximateLength() };
    }),
    probe(async () => {
      for await (const _subscription of service.gateway.listSubscriptions()) break;
    }),
  ]);
  return json(storage.ok && arm.ok ? 200 : 503, {
    version: packageJson.version,
    status: storage.ok && arm.ok ? "healthy" : "degraded",
    storage,
    arm,
    settings: {
      armEndpoint: settings.armEndpoint,
      credential: settings.armToken ? "static token (ARM_TOKEN)" : "DefaultAzureCredential",
      subscriptions: settings.subscriptions.length > 0 ? settings.subscriptions : "all listable",
      profiles: [...settings.profiles],
      customWorkspaceId: settings.customWorkspaceId ?? null,
      dataCollectionRuleId: settings.dataCollectionRuleId ?? null,
      optOutTag: settings.optOutTag,
      removeLegacyMma: settings.removeLegacyMma,
      sqlMode: settings.sqlMode,
      dryRun: settings.dryRun,
      sweepSchedule: settings.sweepSchedule,
      fullReconcileHours: settings.fullReconcileHours,
    },
  });
}

/** Whether `check` answered, with what it found (when it says something) or the error in one line. */
async function probe(check: () => Promise<object | void>): Promise<{ ok: boolean; error?: string }> {
  try {
    return { ok: true, ...(await check()) };
  } catch (error) {
    return { ok: false, error: describeError(error).slice(0, 300) };
  }
}

app.http("health", { methods: ["GET", "POST", "PUT", "PATCH", "DELETE"], authLevel: "function", route: "health", handler: healthApi });
