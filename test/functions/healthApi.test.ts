/** GET /api/health against a real Azurite and the ARM emulator. */
import { InvocationContext } from "@azure/functions";
import { afterEach, describe, expect, it } from "vitest";
import packageJson from "../../package.json" with { type: "json" };
import { handleHealthRequest, healthApi } from "../../src/functions/healthApi.js";
import { useHarness } from "../service/harness.js";
import { bodyText, headerOf, httpRequest, jsonOf } from "./http.js";

const harness = useHarness({ env: { LOG_ANALYTICS_WORKSPACE_ID: "", DRY_RUN: "false" } });

function health(method = "GET") {
  return handleHealthRequest(harness().service, httpRequest(method, "/api/health"));
}

/** Everything a caller can see: status, headers and body. */
function visible(response: Awaited<ReturnType<typeof health>>): string {
  return JSON.stringify({ status: response.status, headers: response.headers, body: response.body });
}

describe("GET /api/health", () => {
  afterEach(() => harness().azure.setFaults({}));

  it("answers 200 with the version, a settings summary, Storage (with the queue depths) and ARM reachable", async () => {
    const { estate, azure } = harness();
    const response = await health();
    expect(response.status).toBe(200);
    expect(headerOf(response, "content-type")).toMatch(/^application\/json/);
    const body = jsonOf(response);
    expect(body).toMatchObject({
      version: packageJson.version,
      status: "healthy",
      storage: { ok: true, queues: { work: expect.any(Number), poison: expect.any(Number) } },
      arm: { ok: true },
      settings: {
        armEndpoint: azure.endpoint,
        credential: expect.any(String),
        subscriptions: estate.subscriptions.map((subscription) => subscription.subscriptionId),
        profiles: ["machines", "sql"],
        optOutTag: "ama-remediation",
        dryRun: false,
        sweepSchedule: "0 */15 * * * *",
        fullReconcileHours: 24,
      },
    });
  });

  it("never shows the ARM token or the storage account key", async () => {
    const { azure, azurite } = harness();
    const accountKey = /AccountKey=([^;]+)/.exec(azurite.connectionString)?.[1] as string;
    const text = visible(await health());
    expect(text).not.toContain(azure.token);
    expect(text).not.toContain(accountKey);
    expect(text).not.toMatch(/AccountKey|Bearer /i);
  });

  it("answers 503 degraded, naming ARM, when ARM refuses, still without the token", async () => {
    const { azure } = harness();
    azure.setFaults({ forbidden: [{ scope: "/" }] });
    const response = await health();
    expect(response.status).toBe(503);
    const body = jsonOf(response);
    expect(body).toMatchObject({ status: "degraded", storage: { ok: true }, arm: { ok: false, error: expect.stringMatching(/403|AuthorizationFailed/) } });
    expect(visible(response)).not.toContain(azure.token);
  });

  it("the degraded ARM probe carries ARM's error code (AuthorizationFailed), not the SDK pager's wording", async () => {
    harness().azure.setFaults({ forbidden: [{ scope: "/" }] });
    expect(jsonOf(await health()).arm.error).toMatch(/AuthorizationFailed/);
  });

  it.each(["POST", "PUT", "PATCH", "DELETE"])("%s → 405 with Allow: GET", async (method) => {
    const response = await health(method);
    expect(response.status).toBe(405);
    expect(headerOf(response, "allow")).toBe("GET");
    expect(headerOf(response, "content-type")).toBe("application/problem+json");
  });

  it("through the registered healthApi handler (service from the app settings)", async () => {
    Object.assign(process.env, harness().env);
    const response = await healthApi(httpRequest("GET", "/api/health"), new InvocationContext({ functionName: "health" }));
    expect(response.status, bodyText(response)).toBe(200);
    expect(bodyText(response)).not.toContain(harness().azure.token);
  });
});
