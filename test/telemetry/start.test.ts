/**
 * Starting Azure Monitor: only with APPLICATIONINSIGHTS_CONNECTION_STRING, once, and the connection string
 * never in a log line. The distro itself is stood in for by a recorder (starting it would send data).
 */
import { ManagedIdentityCredential } from "@azure/identity";
import { metrics } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { loadSettings } from "../../src/config/settings.js";
import { azureMonitorOptions, telemetryStarter, type UseAzureMonitor } from "../../src/telemetry/azureMonitor.js";
import { captureLogger } from "../reliability/support.js";

const CONNECTION_STRING = "InstrumentationKey=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/";

const CLIENT_ID = "7d3c9a4e-1b2f-4c6d-9e8a-5f4b3c2d1a0e";

/** The client id a ManagedIdentityCredential was built with (kept on the credential; it asks for no token until used). */
function clientIdOf(credential: unknown): string | undefined {
  expect(credential).toBeInstanceOf(ManagedIdentityCredential);
  return (credential as ManagedIdentityCredential)["clientId"];
}

function recorder(fail?: Error) {
  const calls: Parameters<UseAzureMonitor>[0][] = [];
  const use: UseAzureMonitor = (options) => {
    if (fail) throw fail;
    calls.push(options);
  };
  return { calls, load: () => Promise.resolve(use) };
}

describe("starting telemetry", () => {
  it("at Function App start-up without a connection string: nothing is loaded, the meter stays a no-op, nothing is sent", async () => {
    delete process.env["APPLICATIONINSIGHTS_CONNECTION_STRING"];
    await import("../../src/telemetry/startup.js");
    // The distro stamps its version into the environment when loaded at all.
    expect(process.env["AZURE_MONITOR_DISTRO_VERSION"]).toBeUndefined();
    expect(metrics.getMeterProvider().constructor.name).toBe("NoopMeterProvider");

    const { calls, load } = recorder();
    const log = captureLogger("trace");
    expect(await telemetryStarter(load)({ APPLICATIONINSIGHTS_CONNECTION_STRING: "  " }, log.logger)).toBe("not configured");
    expect(calls).toEqual([]);
  });

  it("with one: the distro starts once with it, exporting the service's metrics only", async () => {
    const { calls, load } = recorder();
    const log = captureLogger("trace");
    const start = telemetryStarter(load);
    expect(await start({ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING }, log.logger)).toBe("started");
    expect(await start({ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING }, log.logger)).toBe("started");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.azureMonitorExporterOptions?.connectionString).toBe(CONNECTION_STRING);
    expect(calls[0]?.azureMonitorExporterOptions?.credential).toBeUndefined(); // no AZURE_CLIENT_ID: the connection string's key
    expect(Object.values(calls[0]?.instrumentationOptions ?? {}).every((option) => option?.enabled === false)).toBe(true);
    expect(log.lines().join("\n")).not.toContain("InstrumentationKey");
  });

  it("with AZURE_CLIENT_ID, as infra sets it: the exporter authenticates as that user-assigned managed identity (the component refuses keys)", async () => {
    const { calls, load } = recorder();
    const log = captureLogger("trace");
    const env = { APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING, AZURE_CLIENT_ID: ` ${CLIENT_ID} ` };
    expect(await telemetryStarter(load)(env, log.logger)).toBe("started");
    expect(clientIdOf(calls[0]?.azureMonitorExporterOptions?.credential)).toBe(CLIENT_ID);
    expect(log.records().at(-1)).toMatchObject({ authentication: "managed identity" });
  });

  it("with a malformed AZURE_CLIENT_ID: not started, the setting named", async () => {
    const { calls, load } = recorder();
    const log = captureLogger("trace");
    expect(await telemetryStarter(load)({ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING, AZURE_CLIENT_ID: "id-amarem" }, log.logger)).toBe("invalid setting");
    expect(calls).toEqual([]);
    expect(log.lines()).toEqual([expect.stringMatching(/AZURE_CLIENT_ID: expected the client id \(a GUID\).*\\"id-amarem\\"; metrics are not sent/)]);
  });

  it("with a malformed one, or a distro that throws: not started, the setting named, its value never logged", async () => {
    const malformed = recorder();
    const log = captureLogger("trace");
    const secretLooking = "InstrumentationKey=not-a-guid;IngestionEndpoint=https://example.invalid/";
    expect(await telemetryStarter(malformed.load)({ APPLICATIONINSIGHTS_CONNECTION_STRING: secretLooking }, log.logger)).toBe("invalid setting");
    expect(malformed.calls).toEqual([]);

    const throwing = recorder(new Error(`bad connection string ${CONNECTION_STRING}`));
    expect(await telemetryStarter(throwing.load)({ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING }, log.logger)).toBe("failed");

    const lines = log.lines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain("APPLICATIONINSIGHTS_CONNECTION_STRING");
    for (const line of lines) {
      expect(line).not.toContain("not-a-guid");
      expect(line).not.toContain("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9");
      expect(line).toMatch(/"runId":null,"resourceId":null/);
    }
  });

  it("as a setting: a malformed value is refused at start without being quoted; a good one is checked, never kept in Settings", () => {
    expect(() => loadSettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: "InstrumentationKey=nope-123" })).toThrow(
      /^APPLICATIONINSIGHTS_CONNECTION_STRING: expected an Application Insights connection string/,
    );
    try {
      loadSettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: "InstrumentationKey=nope-123" });
    } catch (error) {
      expect((error as Error).message).not.toContain("nope-123");
    }
    expect(() => loadSettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: "IngestionEndpoint=https://example.invalid/" })).toThrow(/APPLICATIONINSIGHTS_CONNECTION_STRING/);
    expect(JSON.stringify(loadSettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING }))).not.toContain("0f1e2d3c");
  });
});

describe("azureMonitorOptions", () => {
  it("a managed identity's client id: a ManagedIdentityCredential for it beside the connection string", () => {
    const options = azureMonitorOptions(CONNECTION_STRING, CLIENT_ID);
    expect(options.azureMonitorExporterOptions?.connectionString).toBe(CONNECTION_STRING);
    expect(clientIdOf(options.azureMonitorExporterOptions?.credential)).toBe(CLIENT_ID);
  });

  it("none: no credential, the exporter uses the connection string's instrumentation key", () => {
    expect(azureMonitorOptions(CONNECTION_STRING).azureMonitorExporterOptions).toEqual({ connectionString: CONNECTION_STRING });
  });

  it("never turns on live metrics or an automatic instrumentation", () => {
    const options = azureMonitorOptions(CONNECTION_STRING, CLIENT_ID);
    expect(options.enableLiveMetrics).toBe(false);
    expect(Object.values(options.instrumentationOptions ?? {}).every((option) => option?.enabled === false)).toBe(true);
  });
});
