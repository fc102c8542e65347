/**
 * The OpenTelemetry instruments after real runs against the local Azure and Azurite, read through the
 * OpenTelemetry SDK's in-memory exporter: names, values and attributes as Azure Monitor would get them.
 */
import { InvocationContext } from "@azure/functions";
import { metrics } from "@opentelemetry/api";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricData } from "@opentelemetry/sdk-metrics";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepTimer } from "../../src/functions/sweepTimer.js";
import type { ReportResource } from "../../src/report/buildReport.js";
import { resolveRunScope, startRun } from "../../src/service/runs.js";
import { ATTRIBUTES, METER_NAME, METRICS } from "../../src/telemetry/names.js";
import { machineWith } from "../../local-azure/src/estate.js";
import { useHarness } from "../service/harness.js";

const harness = useHarness();
const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
const provider = new MeterProvider({ readers: [reader] });

beforeAll(() => {
  metrics.disable();
  metrics.setGlobalMeterProvider(provider);
});
afterAll(async () => {
  metrics.disable();
  await provider.shutdown();
});

/** What the service's meter holds now, by instrument name. */
async function collected(): Promise<Map<string, MetricData>> {
  await reader.forceFlush();
  const scopes = exporter.getMetrics().at(-1)?.scopeMetrics ?? [];
  return new Map(scopes.filter((scope) => scope.scope.name === METER_NAME).flatMap((scope) => scope.metrics.map((metric) => [metric.descriptor.name, metric] as const)));
}

type Point = { attributes: Record<string, unknown>; value: unknown };
const pointsOf = (metric: MetricData | undefined): Point[] => (metric?.dataPoints ?? []) as Point[];
const sumWhere = (metric: MetricData | undefined, match: Record<string, unknown>) =>
  pointsOf(metric)
    .filter((point) => Object.entries(match).every(([name, value]) => point.attributes[name] === value))
    .reduce((sum, point) => sum + (point.value as number), 0);

describe("after a run", () => {
  it("time-to-compliant per machine fixed (cause, subscription), machines per status, failed writes per ARM error code", async () => {
    const { azure, estate, service } = harness();
    const denied = machineWith(estate, "no-identity", "linux");
    azure.setFaults({ forbidden: [{ scope: denied.id, actions: ["Microsoft.Compute/virtualMachines/write"] }] });
    const run = await startRun(service, { trigger: "http", dryRun: false }, await resolveRunScope(service, {}));
    await harness().drain();
    azure.setFaults({});
    const machines = ((await service.state.runs.get<ReportResource>(run.runId))?.report ?? []).filter((entry) => entry.kind === "virtualMachine" || entry.kind === "arcMachine");
    const fixed = machines.filter((machine) => machine.timing?.secondsToCompliant !== undefined);
    expect(fixed.length).toBeGreaterThan(0);

    const byName = await collected();
    const histogram = byName.get(METRICS.timeToCompliant);
    expect(histogram?.descriptor.unit).toBe("s");
    const histogramPoints = pointsOf(histogram);
    expect(histogramPoints.reduce((sum, point) => sum + (point.value as { count: number }).count, 0)).toBe(fixed.length);
    for (const point of histogramPoints) expect(Object.keys(point.attributes).sort()).toEqual([ATTRIBUTES.cause, ATTRIBUTES.subscriptionId]);
    const first = fixed[0] as ReportResource;
    expect(histogramPoints.some((point) => point.attributes[ATTRIBUTES.cause] === "sweep" && point.attributes[ATTRIBUTES.subscriptionId] === first.subscriptionId)).toBe(true);

    const machineCounter = byName.get(METRICS.machines);
    for (const status of ["remediated", "failed", "compliant"] as const) {
      expect(sumWhere(machineCounter, { [ATTRIBUTES.status]: status }), status).toBe(machines.filter((machine) => machine.status === status).length);
    }
    expect(sumWhere(machineCounter, { [ATTRIBUTES.status]: "failed", [ATTRIBUTES.subscriptionId]: denied.subscriptionId })).toBeGreaterThanOrEqual(1);

    const failures = byName.get(METRICS.remediationFailures);
    expect(sumWhere(failures, { [ATTRIBUTES.armErrorCode]: "AuthorizationFailed", [ATTRIBUTES.action]: "updateMachineIdentity", [ATTRIBUTES.subscriptionId]: denied.subscriptionId })).toBe(1);

    // Only the documented attributes, whose values are ids, statuses, causes and codes: never a token.
    const allowed: string[] = Object.values(ATTRIBUTES);
    for (const metric of byName.values()) for (const point of pointsOf(metric)) for (const name of Object.keys(point.attributes)) expect(allowed).toContain(name);
    expect(JSON.stringify([...byName.values()].map(pointsOf))).not.toContain(harness().env["ARM_TOKEN"]);
  }, 120_000);

  it("a timer sweep: counted with its mode, and the poison queue's length reported by the gauge", async () => {
    const { env, service } = harness();
    Object.assign(process.env, env);
    await service.state.workQueue.sendToPoison("{}", "a work item given up in this test");
    const { poison } = await service.state.workQueue.approximateLength();
    expect(poison).toBeGreaterThan(0);
    const now = new Date().toISOString();
    await sweepTimer({ isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: now, next: now, lastUpdated: now } }, new InvocationContext({ functionName: "sweepTimer" }));

    const byName = await collected();
    // The run above swept every subscription in full moments ago: this sweep looks at new machines only.
    expect(pointsOf(byName.get(METRICS.sweeps))).toEqual([expect.objectContaining({ attributes: { [ATTRIBUTES.mode]: "incremental" }, value: 1 })]);
    expect(pointsOf(byName.get(METRICS.poisonMessages))).toEqual([expect.objectContaining({ attributes: {}, value: poison })]);
    await harness().drain();
    await harness().clearQueues();
  }, 120_000);
});
