/**
 * Tokens and keys never reach a log line: every line the service writes at level trace through a
 * whole story (timer sweep, HTTP run, Event Grid event, a denied write, a malformed queue message, a
 * wrong token) is kept and searched for the ARM token, the storage account key and the Application
 * Insights connection string.
 */
import { describe, expect, it } from "vitest";
import { createService } from "../../src/service/service.js";
import { startSweep } from "../../src/service/sweep.js";
import { acceptEvent } from "../../src/service/events.js";
import { handleRunsRequest } from "../../src/functions/runsApi.js";
import { handleHealthRequest } from "../../src/functions/healthApi.js";
import { handleWorkItemMessage } from "../../src/functions/workItems.js";
import { drainWorkQueue } from "../../scripts/functionsHost.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { DEV_ACCOUNT_KEY } from "../../local-azure/src/azurite.js";
import { newVirtualMachine, useHarness } from "../service/harness.js";
import { httpRequest } from "../functions/http.js";
import { captureLogger } from "./support.js";

const harness = useHarness();

describe("logs of a full story at level trace", () => {
  it("never contain the ARM token, the storage key, the Application Insights connection string or a bearer header", async () => {
    const { azure, estate } = harness();
    const instrumentationKey = crypto.randomUUID();
    const env: Record<string, string> = { ...harness().env, APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${instrumentationKey};IngestionEndpoint=https://127.0.0.1:9/` };
    const log = captureLogger("trace");
    const service = await createService(env, { logger: log.logger });
    const drain = () => drainWorkQueue(service, { visibilityTimeoutInSeconds: 2, pauseInMs: 50 });
    const denied = machineWith(estate, "no-identity", "linux");
    azure.setFaults({ forbidden: [{ scope: denied.id, actions: ["Microsoft.Compute/virtualMachines/write"] }] });

    await startSweep(service);
    await drain();
    await handleRunsRequest(service, httpRequest("POST", "/api/runs", { body: JSON.stringify({ dryRun: true }) }));
    await drain();
    const vmId = newVirtualMachine(azure, machineWith(estate, "no-identity", "windows"), "vm-secrets-event");
    await acceptEvent(service, {
      id: crypto.randomUUID(),
      topic: `/subscriptions/${vmId.split("/")[2]}`,
      subject: vmId,
      eventType: "Microsoft.Resources.ResourceWriteSuccess",
      eventTime: new Date().toISOString(),
      dataVersion: "2",
      metadataVersion: "1",
      data: { resourceUri: vmId, operationName: "Microsoft.Compute/virtualMachines/write", status: "Succeeded", subscriptionId: vmId.split("/")[2] },
    });
    await drain();
    await handleWorkItemMessage(service, { kind: "subscription", token: env["ARM_TOKEN"] }, 1);
    await handleHealthRequest(service, httpRequest("GET", "/api/health"));

    const wrongToken = await createService({ ...env, ARM_TOKEN: `${env["ARM_TOKEN"]}-revoked` }, { logger: log.logger });
    await handleHealthRequest(wrongToken, httpRequest("GET", "/api/health"));
    await startSweep(wrongToken).catch(() => undefined);
    azure.setFaults({});

    const lines = log.lines();
    expect(lines.length).toBeGreaterThan(50);
    expect(lines.some((line) => line.includes('"write failed"'))).toBe(true);
    for (const line of lines) {
      expect(line).not.toContain(env["ARM_TOKEN"]);
      expect(line).not.toContain(DEV_ACCOUNT_KEY);
      expect(line).not.toContain(instrumentationKey);
      expect(line).not.toMatch(/AccountKey=|Bearer /i);
    }
    await harness().clearQueues();
  }, 60_000);
});
