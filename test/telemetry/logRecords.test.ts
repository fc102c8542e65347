/**
 * The time-to-compliant log records after real runs against the local Azure and Azurite, read through the
 * OpenTelemetry SDK's in-memory log exporter; then handed to the Azure Monitor exporter the distro uses, to
 * see them arrive as Application Insights traces (the rows of AppTraces the p95 alert reads).
 */
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { AzureMonitorLogExporter } from "@azure/monitor-opentelemetry-exporter";
import { logs, SeverityNumber } from "@opentelemetry/api-logs";
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReportResource } from "../../src/report/buildReport.js";
import { resolveRunScope, startRun } from "../../src/service/runs.js";
import { LOG_ATTRIBUTES, LOG_RECORDS, LOGGER_NAME } from "../../src/telemetry/names.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { ensureLocalCertificate } from "../../local-azure/src/tls.js";
import { useHarness } from "../service/harness.js";

const harness = useHarness();
const exporter = new InMemoryLogRecordExporter();
const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });

beforeAll(() => {
  logs.disable();
  logs.setGlobalLoggerProvider(provider);
});
afterAll(async () => {
  logs.disable();
  await provider.shutdown();
});

/** The machine-compliant records emitted since the last call. */
async function takeRecords(): Promise<ReadableLogRecord[]> {
  await provider.forceFlush();
  const records = exporter.getFinishedLogRecords().filter((record) => record.body === LOG_RECORDS.machineCompliant);
  exporter.reset();
  return records;
}

async function runAll(dryRun: boolean): Promise<{ runId: string; machines: ReportResource[] }> {
  const { service } = harness();
  const run = await startRun(service, { trigger: "http", dryRun }, await resolveRunScope(service, {}));
  await harness().drain();
  const entries = (await service.state.runs.get<ReportResource>(run.runId))?.report ?? [];
  return { runId: run.runId, machines: entries.filter((entry) => entry.kind === "virtualMachine" || entry.kind === "arcMachine") };
}

/** A record's timestamp, in milliseconds since the epoch. */
const millisOf = (record: ReadableLogRecord): number => record.hrTime[0] * 1000 + Math.round(record.hrTime[1] / 1e6);

/** Filled by the real run below; the exporter test sends these records on. */
let verified: ReadableLogRecord[] = [];

describe("a log record per machine verified compliant", () => {
  it("a dry run verifies nothing: machines planned, no record", async () => {
    const { machines } = await runAll(true);
    expect(machines.filter((machine) => machine.status === "planned").length).toBeGreaterThan(0);
    expect(await takeRecords()).toEqual([]);
  }, 120_000);

  it("a run: one per machine made compliant, with its seconds, cause, subscription, machine and run; none for a machine whose write failed", async () => {
    const { azure, estate } = harness();
    const denied = machineWith(estate, "no-identity", "linux");
    azure.setFaults({ forbidden: [{ scope: denied.id, actions: ["Microsoft.Compute/virtualMachines/write"] }] });
    const { runId, machines } = await runAll(false);
    azure.setFaults({});
    const fixed = machines.filter((machine) => machine.timing?.secondsToCompliant !== undefined);
    expect(fixed.length).toBeGreaterThan(1);
    expect(machines.find((machine) => machine.id === denied.id)?.status).toBe("failed");

    verified = await takeRecords();
    const byMachine = new Map(verified.map((record) => [record.attributes[LOG_ATTRIBUTES.resourceId], record]));
    expect(verified).toHaveLength(fixed.length);
    expect(byMachine.has(denied.id)).toBe(false);
    for (const machine of fixed) {
      const record = byMachine.get(machine.id);
      expect(record?.attributes, machine.id).toEqual({
        [LOG_ATTRIBUTES.secondsToCompliant]: machine.timing?.secondsToCompliant,
        [LOG_ATTRIBUTES.cause]: machine.timing?.cause,
        [LOG_ATTRIBUTES.subscriptionId]: machine.subscriptionId,
        [LOG_ATTRIBUTES.resourceId]: machine.id,
        [LOG_ATTRIBUTES.runId]: runId,
      });
      expect(record?.severityNumber).toBe(SeverityNumber.INFO);
      expect(record?.instrumentationScope.name).toBe(LOGGER_NAME);
      // timestamped when the machine was verified, not when the record was sent
      expect(new Date(millisOf(record!)).toISOString()).toBe(machine.timing?.verifiedAt);
    }
    expect(JSON.stringify(verified.map((record) => record.attributes))).not.toContain(harness().env["ARM_TOKEN"]);
  }, 120_000);

  it("reach Application Insights as traces: message = the body, properties = the attributes as strings, severity Information", async () => {
    expect(verified.length).toBeGreaterThan(0);
    const { cert, key } = await ensureLocalCertificate(); // the test workers trust it (vitest's global setup)
    const received: unknown[] = [];
    const ingestion: Server = createServer({ cert, key }, (request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const body = Buffer.concat(chunks);
        received.push(...(JSON.parse(String(request.headers["content-encoding"] === "gzip" ? gunzipSync(body) : body)) as unknown[]));
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ itemsReceived: 1, itemsAccepted: 1, errors: [] }));
      });
    });
    await new Promise<void>((resolve) => ingestion.listen(0, "127.0.0.1", resolve));
    process.env["APPLICATION_INSIGHTS_NO_STATSBEAT"] = "true"; // the exporter's own usage reports would go to Microsoft
    const { port } = ingestion.address() as AddressInfo;
    const azureExporter = new AzureMonitorLogExporter({
      connectionString: `InstrumentationKey=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9;IngestionEndpoint=https://127.0.0.1:${port}/`,
      disableOfflineStorage: true,
    });
    try {
      const result = await new Promise<{ code: number }>((resolve) => void azureExporter.export(verified, resolve));
      expect(result.code).toBe(0); // SUCCESS
    } finally {
      await azureExporter.shutdown();
      ingestion.close();
    }

    expect(received).toHaveLength(verified.length);
    for (const [index, envelope] of received.entries()) {
      const record = verified[index]!;
      expect(envelope).toMatchObject({
        name: "Microsoft.ApplicationInsights.Message",
        data: {
          baseType: "MessageData",
          baseData: {
            message: LOG_RECORDS.machineCompliant,
            severityLevel: "Information",
            properties: Object.fromEntries(Object.entries(record.attributes).map(([name, value]) => [name, String(value)])),
          },
        },
      });
      // the trace's time (AppTraces' TimeGenerated) is the record's: when the machine was verified (to the
      // millisecond the exporter's float conversion keeps)
      expect(Math.abs(Date.parse((envelope as { time: string }).time) - millisOf(record))).toBeLessThanOrEqual(1);
    }
  }, 60_000);
});
