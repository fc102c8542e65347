/**
 * The service process of the benchmark: the service's own code (settings, gateway, engine, event
 * parsing) in a process of its own, started by bench/run.ts with NODE_EXTRA_CA_CERTS pointing at the
 * emulator's certificate, the ARM_* settings and LOG_LEVEL=silent. It runs one job (bench/protocol.ts)
 * and prints one JSON line: its figures. Requests are counted by the emulator, not here.
 *
 *   node dist/bench/service.js <job.json>
 */
import { readFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { loadSettings } from "../src/config/settings.js";
import { createCredential } from "../src/azure/credential.js";
import { createGateway } from "../src/azure/gateway.js";
import { SWEEP_BATCH_SUBSCRIPTIONS, machinesInScope, reconcile, type EngineDependencies } from "../src/engine.js";
import { discoverSweep } from "../src/discover/sweepDiscovery.js";
import { SharedReadCache } from "../src/discover/sharedReadCache.js";
import { evaluate } from "../src/evaluate/evaluate.js";
import { buildPlan } from "../src/plan/buildPlan.js";
import { buildReport } from "../src/report/buildReport.js";
import { countedCompliantMachines } from "../src/report/compliantCounts.js";
import { parseEvent } from "../src/events/parse.js";
import { createLogger } from "../src/log.js";
import type { Plan } from "../src/plan/plan.js";
import type { Report } from "../src/report/buildReport.js";
import { naiveEvaluate, naiveRemediate } from "./naive.js";
import { forEachBounded } from "./pool.js";
import { startEventRelay } from "./eventRelay.js";
import { FLUSH_MACHINES } from "../src/service/runs.js";
import type { EventCpuOutcome, EventSequenceOutcome, Job, Outcome, ProcessFigures, SweepOutcome } from "./protocol.js";

async function main(): Promise<void> {
  const jobPath = process.argv[2];
  if (!jobPath) throw new Error("usage: node dist/bench/service.js <job.json>");
  const job = JSON.parse(await readFile(jobPath, "utf8")) as Job;
  const settings = loadSettings(process.env);
  const gateway = createGateway(settings);
  const logger = createLogger({ level: "silent" });
  // One cache per process, as the Function App keeps one: events of a subscription share its subscription-level reads.
  const dependencies: EngineDependencies = { settings, gateway, logger, sharedReads: new SharedReadCache() };

  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const figures = (): ProcessFigures => {
    const cpu = process.cpuUsage(cpuBefore);
    return {
      wallMs: performance.now() - started,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    };
  };

  // Event Grid: the events that end the service's own operations, as its handler hands them on (bench/eventRelay.ts).
  const relayMs = Number(process.env["BENCH_EVENT_DELIVERY_MS"] ?? "0");
  const relay = relayMs > 0 && (job.kind === "burst" || job.kind === "eventSequence") ? startEventRelay(dependencies, relayMs) : undefined;

  let outcome: Outcome;
  switch (job.kind) {
    case "sweep": {
      let firstPlannedMs: number | undefined;
      const onProgress = (message: string) => {
        if (firstPlannedMs === undefined && message.startsWith("planned")) firstPlannedMs = performance.now() - started;
      };
      const { plan, report } = await reconcile({ dryRun: job.dryRun, ...(job.changedSince ? { changedSince: new Date(job.changedSince) } : {}) }, { ...dependencies, onProgress });
      // A sweep of many batches counts its compliant machines instead of listing them (src/report/compliantCounts.ts).
      const machines = report.resources.filter((resource) => resource.kind !== "shared").length + countedCompliantMachines(report);
      outcome = { ...figures(), ...planFigures("sweep", [plan], [report]), machines, ...(firstPlannedMs !== undefined ? { firstPlannedMs } : {}) };
      break;
    }
    case "sweepBatches": {
      let machines = 0;
      let planItems = 0;
      for (let start = 0; start < settings.subscriptions.length; start += SWEEP_BATCH_SUBSCRIPTIONS) {
        const snapshot = await discoverSweep(gateway, settings, settings.subscriptions.slice(start, start + SWEEP_BATCH_SUBSCRIPTIONS));
        const plan = buildPlan(snapshot, evaluate(snapshot, settings), { ...settings, dryRun: true });
        const report = buildReport("bench", plan, undefined, new Date(), new Date());
        machines += plan.assessments.length;
        planItems += plan.items.length + (report.summary.failed ?? 0);
      }
      outcome = { ...figures(), kind: "sweepBatches", machines, planItems, planItemsBySubscription: {}, planItemsByAction: {}, longestMachineChain: 0, summary: {} };
      break;
    }
    case "naive": {
      const result = await naiveEvaluate(settings.subscriptions, {
        endpoint: settings.armEndpoint,
        credential: createCredential(settings),
        subscriptionConcurrency: job.subscriptionConcurrency,
        machineConcurrency: job.machineConcurrency,
      });
      outcome = { ...figures(), kind: "naive", ...result };
      break;
    }
    case "naiveRemediate": {
      const result = await naiveRemediate(job.machineIds, {
        endpoint: settings.armEndpoint,
        credential: createCredential(settings),
        dataCollectionRules: job.dataCollectionRules,
        machineConcurrency: job.machineConcurrency,
        pollIntervalMs: job.pollIntervalMs,
      });
      outcome = { ...figures(), kind: "naiveRemediate", ...result };
      break;
    }
    case "burst": {
      const groups = await eventGroups(job.machineIds, job.grouping, settings);
      const plans: Plan[] = [];
      const reports: Report[] = [];
      // A subscription's flush takes its machines in rounds, one after the other (src/service/runs.ts).
      await forEachBounded(groups, job.concurrency, async (machineIds) => {
        for (let start = 0; start < machineIds.length; start += FLUSH_MACHINES) {
          const { plan, report } = await reconcile({ resourceIds: machineIds.slice(start, start + FLUSH_MACHINES), dryRun: job.dryRun }, dependencies);
          plans.push(plan);
          reports.push(report);
        }
      });
      outcome = { ...figures(), ...planFigures("burst", plans, reports) };
      break;
    }
    case "eventCpu":
      outcome = { ...(await eventCpu(job.machineIds, job.warmup, dependencies)), ...figures() };
      break;
    case "eventSequence":
      outcome = { kind: "eventSequence", events: await eventSequence(job.machineIds, job.countFrom, dependencies), ...figures() };
      break;
  }
  await relay?.stop();
  if (relay) outcome = { ...outcome, operationEventsHeard: relay.heard() };
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
}

/** An Event Grid ResourceWriteSuccess for a machine, as Azure delivers it for a VM or Arc machine create. */
function writeSuccessEvent(machineId: string, index: number): unknown {
  const subscriptionId = /\/subscriptions\/([^/]+)/i.exec(machineId)?.[1] ?? "";
  const type = /\/providers\/([^/]+\/[^/]+)\/[^/]+$/i.exec(machineId)?.[1] ?? "Microsoft.Compute/virtualMachines";
  return {
    topic: `/subscriptions/${subscriptionId}`,
    subject: machineId,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: new Date().toISOString(),
    id: `00000000-0000-4000-8000-${String(index).padStart(12, "0")}`,
    dataVersion: "2",
    metadataVersion: "1",
    data: {
      authorization: { scope: machineId, action: `${type}/write` },
      correlationId: `10000000-0000-4000-8000-${String(index).padStart(12, "0")}`,
      resourceProvider: type.split("/")[0],
      resourceUri: machineId,
      operationName: `${type}/write`,
      status: "Succeeded",
      subscriptionId,
      tenantId: "72f988bf-0000-4000-8000-00000000a2e1",
    },
  };
}

/** The machine ids the events name, grouped as the work the queue would carry. */
async function eventGroups(machineIds: readonly string[], grouping: "per-subscription" | "per-event", settings: ReturnType<typeof loadSettings>): Promise<string[][]> {
  const accepted: { subscriptionId: string; resourceId: string }[] = [];
  for (const [index, id] of machineIds.entries()) {
    const parsed = await parseEvent(writeSuccessEvent(id, index));
    if (parsed.outcome !== "accepted") throw new Error(`event for ${id} was ${parsed.outcome}: ${parsed.reason}`);
    accepted.push({ subscriptionId: parsed.event.subscriptionId, resourceId: machinesInScope([parsed.event.resourceId], settings)[0] as string });
  }
  if (grouping === "per-event") return accepted.map((event) => [event.resourceId]);
  const bySubscription = new Map<string, string[]>();
  for (const event of accepted) bySubscription.set(event.subscriptionId, [...(bySubscription.get(event.subscriptionId) ?? []), event.resourceId]);
  return [...bySubscription.values()];
}

/** Handles events one at a time; CPU time (user + system) around each: the ARM waits are idle, not CPU. */
async function eventCpu(machineIds: readonly string[], warmup: number, dependencies: EngineDependencies): Promise<Omit<EventCpuOutcome, keyof ProcessFigures>> {
  const cpuMs: number[] = [];
  const wallMs: number[] = [];
  let writesPlanned = 0;
  for (const [index, id] of machineIds.entries()) {
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const parsed = await parseEvent(writeSuccessEvent(id, index));
    if (parsed.outcome !== "accepted") throw new Error(`event for ${id} was ${parsed.outcome}`);
    const { plan } = await reconcile({ resourceIds: machinesInScope([parsed.event.resourceId], dependencies.settings) }, dependencies);
    const cpu = process.cpuUsage(cpuBefore);
    if (index < warmup) continue;
    cpuMs.push((cpu.user + cpu.system) / 1000);
    wallMs.push(performance.now() - wallBefore);
    writesPlanned += plan.items.length;
  }
  return {
    kind: "eventCpu",
    events: cpuMs.length,
    cpuPerEventMs: { mean: mean(cpuMs), median: quantile(cpuMs, 0.5), p95: quantile(cpuMs, 0.95), max: Math.max(...cpuMs) },
    wallPerEventMs: { mean: mean(wallMs), median: quantile(wallMs, 0.5) },
    writesPlanned,
  };
}

/** Events handled one after another; the emulator's request counters are emptied before event `countFrom`. */
async function eventSequence(machineIds: readonly string[], countFrom: number, dependencies: EngineDependencies): Promise<EventSequenceOutcome["events"]> {
  const events: EventSequenceOutcome["events"][number][] = [];
  for (const [index, machineId] of machineIds.entries()) {
    if (index === countFrom) await resetEmulatorRequests(dependencies.settings.armEndpoint);
    const arrived = performance.now();
    const parsed = await parseEvent(writeSuccessEvent(machineId, index));
    if (parsed.outcome !== "accepted") throw new Error(`event for ${machineId} was ${parsed.outcome}`);
    const { report } = await reconcile({ resourceIds: machinesInScope([parsed.event.resourceId], dependencies.settings) }, dependencies);
    const status = report.resources.find((resource) => resource.id.toLowerCase() === machineId.toLowerCase())?.status ?? "absent";
    events.push({ machineId, wallMs: performance.now() - arrived, status });
  }
  return events;
}

/** The emulator's control API (the ARM endpoint's `/_emulator/`; NODE_EXTRA_CA_CERTS trusts its certificate). */
async function resetEmulatorRequests(armEndpoint: string): Promise<void> {
  const response = await fetch(new URL("/_emulator/requests/reset", armEndpoint), { method: "POST" });
  if (!response.ok) throw new Error(`resetting the emulator's request log: ${response.status}`);
}

function planFigures(kind: "sweep" | "burst", plans: readonly Plan[], reports: readonly Report[]): Omit<SweepOutcome, keyof ProcessFigures | "firstPlannedMs"> {
  const items = plans.flatMap((plan) => plan.items);
  const bySubscription: Record<string, number> = {};
  const byAction: Record<string, number> = {};
  for (const item of items) {
    bySubscription[item.subscriptionId] = (bySubscription[item.subscriptionId] ?? 0) + 1;
    byAction[item.action] = (byAction[item.action] ?? 0) + 1;
  }
  const summary: Record<string, number> = {};
  for (const report of reports) for (const [status, count] of Object.entries(report.summary)) summary[status] = (summary[status] ?? 0) + count;
  return {
    kind,
    machines: plans.reduce((total, plan) => total + plan.assessments.length, 0),
    planItems: items.length,
    planItemsBySubscription: bySubscription,
    planItemsByAction: byAction,
    longestMachineChain: longestChain(plans),
    summary,
  };
}

/** The longest sequence of writes that must happen one after another: dependencies and per-machine order. */
function longestChain(plans: readonly Plan[]): number {
  let longest = 0;
  for (const plan of plans) {
    const byKey = new Map(plan.items.map((item) => [item.key, item]));
    const perMachine = new Map<string, number>();
    const depth = new Map<string, number>();
    const depthOf = (key: string): number => {
      const known = depth.get(key);
      if (known !== undefined) return known;
      const item = byKey.get(key);
      const value = 1 + Math.max(0, ...(item?.dependsOn ?? []).filter((dependency) => byKey.has(dependency)).map(depthOf));
      depth.set(key, value);
      return value;
    };
    for (const item of plan.items) {
      longest = Math.max(longest, depthOf(item.key));
      if (item.machineId) perMachine.set(item.machineId, (perMachine.get(item.machineId) ?? 0) + 1);
    }
    longest = Math.max(longest, ...perMachine.values());
  }
  return longest;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((total, value) => total + value, 0) / values.length;
}

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
