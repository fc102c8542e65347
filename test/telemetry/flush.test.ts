/**
 * Flushing at the end of an invocation: what the meter and logger hold is exported now, not at the next
 * periodic export an instance stopped by scale-in would never reach; and a flush that cannot happen or
 * fails never fails the invocation.
 */
import { metrics, type MeterProvider as ApiMeterProvider } from "@opentelemetry/api";
import { logs, type LoggerProvider as ApiLoggerProvider } from "@opentelemetry/api-logs";
import { BatchLogRecordProcessor, InMemoryLogRecordExporter, LoggerProvider } from "@opentelemetry/sdk-logs";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { afterEach, describe, expect, it } from "vitest";
import { flushTelemetry } from "../../src/telemetry/flush.js";
import { captureLogger } from "../reliability/support.js";

const HOUR = 3_600_000;

afterEach(() => {
  metrics.disable();
  logs.disable();
});

describe("flushTelemetry", () => {
  it("exports what the SDK's meter and logger hold at once, long before their next periodic export", async () => {
    const metricExporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
    const meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: HOUR })] });
    const logExporter = new InMemoryLogRecordExporter();
    const loggerProvider = new LoggerProvider({ processors: [new BatchLogRecordProcessor({ exporter: logExporter, scheduledDelayMillis: HOUR })] });
    metrics.setGlobalMeterProvider(meterProvider);
    logs.setGlobalLoggerProvider(loggerProvider);
    metrics.getMeter("test").createCounter("flushed").add(3);
    logs.getLogger("test").emit({ body: "flushed" });
    expect(metricExporter.getMetrics()).toEqual([]);
    expect(logExporter.getFinishedLogRecords()).toEqual([]);

    const log = captureLogger("trace");
    await flushTelemetry(log.logger);

    const exported = metricExporter.getMetrics().flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics));
    expect(exported.map((metric) => [metric.descriptor.name, metric.dataPoints[0]?.value])).toEqual([["flushed", 3]]);
    expect(logExporter.getFinishedLogRecords().map((record) => record.body)).toEqual(["flushed"]);
    expect(log.lines()).toEqual([]);
    await Promise.all([meterProvider.shutdown(), loggerProvider.shutdown()]);
  });

  it("does nothing, quietly, with the API's no-op providers (telemetry not configured) or providers that cannot flush", async () => {
    const log = captureLogger("trace");
    await expect(flushTelemetry(log.logger)).resolves.toBeUndefined();
    const meterOnly: ApiMeterProvider = { getMeter: () => metrics.getMeterProvider().getMeter("noop") };
    const loggerOnly: ApiLoggerProvider = { getLogger: () => logs.getLoggerProvider().getLogger("noop") };
    metrics.setGlobalMeterProvider(meterOnly);
    logs.setGlobalLoggerProvider(loggerOnly);
    await expect(flushTelemetry(log.logger)).resolves.toBeUndefined();
    expect(log.lines()).toEqual([]);
  });

  it("survives a flush that fails: a warning naming the provider, the run and the resource; the other provider still flushed", async () => {
    const logExporter = new InMemoryLogRecordExporter();
    const loggerProvider = new LoggerProvider({ processors: [new BatchLogRecordProcessor({ exporter: logExporter, scheduledDelayMillis: HOUR })] });
    const failing = Object.assign(new MeterProvider(), { forceFlush: () => Promise.reject(new Error("ingestion endpoint unreachable")) });
    metrics.setGlobalMeterProvider(failing);
    logs.setGlobalLoggerProvider(loggerProvider);
    logs.getLogger("test").emit({ body: "still sent" });

    const log = captureLogger("trace");
    await expect(flushTelemetry(log.logger, { runId: "run-1", resourceId: "/subscriptions/s" })).resolves.toBeUndefined();

    expect(logExporter.getFinishedLogRecords().map((record) => record.body)).toEqual(["still sent"]);
    expect(log.records()).toEqual([
      expect.objectContaining({ level: 40, runId: "run-1", resourceId: "/subscriptions/s", provider: "meter", error: expect.stringContaining("ingestion endpoint unreachable") }),
    ]);
    await loggerProvider.shutdown();
  });
});
