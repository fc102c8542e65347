/** GET /api/health: version, a settings summary (never a secret), and whether Storage and ARM answer. */
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
    probe(() => service.state.runs.listRecent(1)),
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

async function probe(check: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  try {
    await check();
    return { ok: true };
  } catch (error) {
    return { ok: false, error: describeError(error).slice(0, 300) };
  }
}

app.http("health", { methods: ["GET", "POST", "PUT", "PATCH", "DELETE"], authLevel: "function", route: "health", handler: healthApi });
