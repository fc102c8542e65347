/**
 * `npm run bench [-- --quick] [-- --time-scale N --latency-ms N --jitter-ms N --seed N --skip-per-event --incremental-only]`
 * `npm run bench -- --operations [--operations-time-scale 30]`: reads per machine vs operation duration
 * `npm run bench -- --bursts [--bursts-time-scale 5] [--quick]`: only the bursts under operation durations (bench/bursts.ts)
 *
 * The orchestrator: starts the local Azure emulator in its own process (ARM's per-subscription read
 * and write buckets and Resource Graph's quota at their documented sizes, a seeded latency model),
 * loads each estate, runs each scenario in a fresh service process (bench/service.ts), takes the
 * request counts from the emulator, and writes bench/results/<date>.md and .svg.
 */
import { spawn } from "node:child_process";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { spawnLocalAzure, type LocalAzureProcess } from "../scripts/localAzureProcess.js";
import { NODE_WORKER_ARGUMENTS } from "../infra/templates/app.js";
import { apiVersionFor } from "../src/azure/apiVersions.js";
import { parseResourceId } from "../src/azure/ids.js";
import { convergedEstate, generateResources, type Estate, type EstateMachine } from "../local-azure/src/estate.js";
import type { ArmResource } from "../local-azure/src/arm-resource.js";
import type { EmulatorStats } from "../local-azure/src/emulator.js";
import type { RequestLogEntry } from "../local-azure/src/requestLog.js";
import { GraphRowCounter, GRAPH_MAX_SUBSCRIPTIONS, SERVICE_BATCH_SUBSCRIPTIONS, WRITES_FOR_DRIFT_STATE, readQuotaSeconds, writeBound } from "./bounds.js";
import type { EventCpuOutcome, Job, NaiveOutcome, Outcome, SweepOutcome } from "./protocol.js";
import { writeResults, type BenchResults, type Measured, type Row } from "./report.js";
import { readsPerMachine, writeOperationsResults, type OperationsPoint, type OperationsResults } from "./operationsReport.js";
import { OPT_OUT_TAG, dataCollectionRulesOf, machineIdOf, resourcesOf } from "./estateParts.js";
import { burstScenarios, burstsModelNote } from "./bursts.js";
import { log } from "./log.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const SERVICE_SCRIPT = join(HERE, "service.js");
/** bench/results in the source tree (this file runs from dist/bench). */
const RESULTS_DIR = join(HERE, "..", "..", "bench", "results");
const LOAD_CHUNK = 5000;

interface Options {
  readonly quick: boolean;
  readonly timeScale: number;
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly seed: number;
  readonly pollIntervalMs: number;
  readonly skipPerEvent: boolean;
  readonly memoryExperiment: boolean;
  /** Only the largest converged estate's full sweep and the incremental sweep after changes (results: `<date>-incremental.md`). */
  readonly incrementalOnly: boolean;
  /** Only the operations scenario, under the `durations` LRO model (results: `<date>-operations.md`). */
  readonly operations: boolean;
  /** ARM seconds per wall second in the operations scenario. */
  readonly operationsTimeScale: number;
  /** Only the bursts scenarios, under the `durations` LRO model and Resource Graph's lag (results: `<date>-bursts.md`). */
  readonly bursts: boolean;
  /** ARM seconds per wall second in the bursts scenarios. */
  readonly burstsTimeScale: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      "time-scale": { type: "string", default: "1" },
      "latency-ms": { type: "string", default: "20" },
      "jitter-ms": { type: "string", default: "20" },
      seed: { type: "string", default: "42" },
      "poll-interval-ms": { type: "string", default: "100" },
      "skip-per-event": { type: "boolean", default: false },
      "memory-experiment": { type: "boolean", default: false },
      "incremental-only": { type: "boolean", default: false },
      operations: { type: "boolean", default: false },
      "operations-time-scale": { type: "string", default: "30" },
      bursts: { type: "boolean", default: false },
      "bursts-time-scale": { type: "string", default: "5" },
    },
  });
  return {
    quick: values.quick,
    timeScale: Number(values["time-scale"]),
    latencyMs: Number(values["latency-ms"]),
    jitterMs: Number(values["jitter-ms"]),
    seed: Number(values.seed),
    pollIntervalMs: Number(values["poll-interval-ms"]),
    skipPerEvent: values["skip-per-event"],
    memoryExperiment: values["memory-experiment"],
    incrementalOnly: values["incremental-only"],
    operations: values.operations,
    operationsTimeScale: Number(values["operations-time-scale"]),
    bursts: values.bursts,
    burstsTimeScale: Number(values["bursts-time-scale"]),
  };
}

class Bench {
  private jobCount = 0;
  private ca: Promise<string> | undefined;

  constructor(
    private readonly azure: LocalAzureProcess,
    private readonly opts: Options,
    private readonly workDir: string,
  ) {}

  /** Empties the emulator and loads resources in chunks; rows are counted for the sweep bound. */
  async load(resources: Iterable<ArmResource>, counter?: GraphRowCounter, reset = true): Promise<number> {
    if (reset) await this.azure.control("POST", "reset");
    let chunk: ArmResource[] = [];
    let loaded = 0;
    for (const resource of resources) {
      counter?.add(resource);
      chunk.push(resource);
      if (chunk.length >= LOAD_CHUNK) {
        await this.azure.control("POST", "load", chunk);
        loaded += chunk.length;
        chunk = [];
      }
    }
    if (chunk.length > 0) await this.azure.control("POST", "load", chunk);
    return loaded + chunk.length;
  }

  /**
   * An ARM request as someone other than the service sends it (a portal user, a pipeline), so the emulator's
   * change history records it; a long-running one is polled to its end. Answers the resource (GET).
   */
  async arm(method: "GET" | "PUT" | "DELETE", id: string, body?: unknown): Promise<ArmResource> {
    this.ca ??= readFile(this.azure.caCertPath, "utf8");
    const ca = await this.ca;
    const url = new URL(`${this.azure.endpoint}${id}?api-version=${apiVersionFor(parseResourceId(id).resourceType)}`);
    const answer = await httpsJson(url, method, this.azure.token, ca, body);
    let operation = answer.headers["azure-asyncoperation"];
    while (typeof operation === "string") {
      const status = await httpsJson(new URL(operation), "GET", this.azure.token, ca);
      if ((status.body as { status?: string }).status !== "InProgress") break;
      operation = status.headers["azure-asyncoperation"] ?? operation;
    }
    return answer.body as ArmResource;
  }

  /** The emulator's long-running-operation model (local-azure/src/lro.ts `LroOptions`). */
  async setLro(lro: Record<string, unknown>): Promise<void> {
    await this.azure.control("POST", "lro", lro);
  }

  /** The emulator's Resource Graph options (local-azure/src/resourceGraph.ts `ResourceGraphOptions`: the freshness lag). */
  async setResourceGraph(options: Record<string, unknown>): Promise<void> {
    await this.azure.control("POST", "resource-graph", options);
  }

  /**
   * Full buckets, faults (latency) re-seeded, an empty request log: every scenario starts alike. `latencyScale`
   * divides the latency model, so a scenario at a time scale can keep its latency in ARM time.
   */
  private async freshStart(throttle: Record<string, unknown>, latencyScale: number): Promise<void> {
    await this.azure.control("POST", "throttle", { timeScale: this.opts.timeScale, resourceGraph: { queries: 15, windowSeconds: 5 }, ...throttle });
    await this.azure.control("POST", "faults", { seed: this.opts.seed, latency: { fixedMs: this.opts.latencyMs / latencyScale, jitterMs: this.opts.jitterMs / latencyScale } });
    await this.azure.control("POST", "requests/reset");
  }

  /** One job in a fresh service process; the figures it prints plus the emulator's request counts. */
  async run<T extends Outcome>(job: Job, subscriptions: readonly string[], extraEnv: Record<string, string> = {}, throttle: Record<string, unknown> = {}, latencyScale = 1): Promise<{ outcome: T; requests: Measured }> {
    await this.freshStart(throttle, latencyScale);
    const jobPath = join(this.workDir, `job-${++this.jobCount}.json`);
    await writeFile(jobPath, JSON.stringify(job));
    const { NODE_OPTIONS: _nodeOptions, ...inherited } = process.env;
    const env = {
      ...inherited,
      ...this.azure.settingsFor(subscriptions),
      ARM_POLL_INTERVAL_MS: String(this.opts.pollIntervalMs),
      LOG_LEVEL: "silent",
      ...extraEnv,
    };
    const wallStarted = performance.now();
    // The Function App's worker arguments, on the command line as the host passes them (NODE_OPTIONS refuses most V8 flags).
    const stdout = await runProcess(process.execPath, [...NODE_WORKER_ARGUMENTS, SERVICE_SCRIPT, jobPath], env);
    const processWallMs = performance.now() - wallStarted;
    const outcome = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as T;
    const counts = await this.azure.control<EmulatorStats>("GET", "stats");
    const log = (await this.azure.control<{ value: RequestLogEntry[] }>("GET", "requests")).value;
    return { outcome, requests: measure(counts, log, processWallMs) };
  }
}

function measure(counts: EmulatorStats, log: readonly RequestLogEntry[], processWallMs: number): Measured {
  const succeededWrites = new Map<string, number>();
  let throttled = 0;
  for (const entry of log) {
    if (entry.status === 429) throttled++;
    if ((entry.kind === "write" || entry.kind === "delete") && entry.status > 0 && entry.status < 400) {
      const key = `${entry.method} ${entry.path.toLowerCase()}`;
      succeededWrites.set(key, (succeededWrites.get(key) ?? 0) + 1);
    }
  }
  const redundantWrites = [...succeededWrites.values()].reduce((total, count) => total + count - 1, 0);
  const successfulWrites = [...succeededWrites.values()].reduce((total, count) => total + count, 0);
  return {
    armReads: counts.reads,
    graphQueries: counts.queries,
    polls: counts.polls,
    reads: counts.reads + counts.queries + counts.polls,
    writes: counts.writes + counts.deletes,
    successfulWrites,
    redundantWrites,
    throttled,
    processWallMs,
    lowestRemaining: { reads: shareOf(counts.lowestRemaining.reads), writes: shareOf(counts.lowestRemaining.writes) },
  };
}

function shareOf(level: { capacity: number | null; lowest: number | null }): number | null {
  return level.capacity && level.lowest !== null ? level.lowest / level.capacity : null;
}

function httpsJson(url: URL, method: string, token: string, ca: string, body?: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: unknown }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${token}`, ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}) };
    const req = request(url, { method, ca, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const status = res.statusCode ?? 500;
        if (status >= 400) reject(new Error(`${method} ${url.pathname}: ${status} ${text.slice(0, 200)}`));
        else resolve({ status, headers: res.headers, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

function runProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "inherit"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(Buffer.concat(chunks).toString("utf8")) : reject(new Error(`service process exited with ${code}`))));
  });
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async function convergedSweeps(bench: Bench, opts: Options): Promise<Row[]> {
  const all = opts.quick ? [{ subscriptions: 10, perSubscription: 100 }] : [
    { subscriptions: 10, perSubscription: 100 },
    { subscriptions: 100, perSubscription: 100 },
    { subscriptions: 1000, perSubscription: 100 },
  ];
  const sizes = opts.incrementalOnly ? all.slice(-1) : all;
  const rows: Row[] = [];
  for (const size of sizes) {
    const machines = size.subscriptions * size.perSubscription;
    const estateOptions = { seed: opts.seed, subscriptions: size.subscriptions, machinesPerSubscription: size.perSubscription, converged: true, optOutTag: OPT_OUT_TAG };
    const counter = new GraphRowCounter(OPT_OUT_TAG);
    const subscriptions: string[] = [];
    // The largest estate is changed afterwards for the incremental sweep: its VMs and their agents.
    const largest = size === all[all.length - 1];
    const vms: string[] = [];
    const agents = new Map<string, string>();
    log(`converged ${machines} machines / ${size.subscriptions} subscriptions: loading`);
    const loaded = await bench.load(
      (function* () {
        for (const resource of generateResources(estateOptions)) {
          if (resource.type === "Microsoft.Resources/subscriptions") subscriptions.push(resource.id.split("/")[2] as string);
          if (largest && resource.type === "Microsoft.Compute/virtualMachines") vms.push(resource.id);
          if (largest && resource.type === "Microsoft.Compute/virtualMachines/extensions" && String(resource.properties?.["publisher"]) === "Microsoft.Azure.Monitor") agents.set(machineIdOf(resource.id), resource.id);
          yield resource;
        }
      })(),
      counter,
    );
    const floor = counter.pages(subscriptions, GRAPH_MAX_SUBSCRIPTIONS);
    const design = counter.pages(subscriptions, SERVICE_BATCH_SUBSCRIPTIONS);
    log(`  ${loaded} resources; Resource Graph floor ${floor.total} pages (${SERVICE_BATCH_SUBSCRIPTIONS}-subscription batches: ${design.total}); sweeping`);
    const ours = await bench.run<SweepOutcome>({ kind: "sweep", dryRun: false }, subscriptions);
    log(`  ours: ${ours.requests.reads} reads, ${ours.requests.writes} writes, ${(ours.outcome.wallMs / 1000).toFixed(1)} s, ${ours.outcome.peakRssMiB.toFixed(0)} MiB`);
    const naive = opts.incrementalOnly ? undefined : await bench.run<NaiveOutcome>({ kind: "naive", subscriptionConcurrency: 16, machineConcurrency: 4 }, subscriptions);
    if (naive) log(`  naive: ${naive.requests.reads} reads, ${(naive.outcome.wallMs / 1000).toFixed(1)} s`);
    if (ours.outcome.machines !== machines || (naive && naive.outcome.machines !== machines)) {
      log(`  WARNING: machines seen: ours ${ours.outcome.machines}, naive ${naive?.outcome.machines}, estate ${machines}`);
    }
    const naiveRatio = naive ? naive.requests.reads / ours.requests.reads : 0;
    rows.push({
      scenario: `converged sweep ${label(machines)}`,
      group: "converged",
      implementation: "service",
      machines,
      subscriptions: size.subscriptions,
      measured: ours.requests,
      outcome: ours.outcome,
      bound: { kind: "reads", value: floor.total, note: `Resource Graph pages and the legacy switch's ARM reads: ${describePages(floor.byQuery)}; at ${SERVICE_BATCH_SUBSCRIPTIONS}-subscription batches ${design.total}` },
      targets: [
        { name: "writes", target: "0", met: ours.requests.writes === 0, actual: String(ours.requests.writes) },
        { name: "reads / lower bound", target: "<= 1.1x", met: ours.requests.reads <= 1.1 * floor.total, actual: `${(ours.requests.reads / floor.total).toFixed(2)}x` },
        ...(!naive ? [] : machines >= 100_000
          ? [{ name: "naive reads / ours", target: ">= 20x", met: naiveRatio >= 20, actual: `${naiveRatio.toFixed(0)}x` }]
          : [{ name: "naive reads / ours", target: "(>= 20x at 100k)", met: undefined, actual: `${naiveRatio.toFixed(1)}x` }]),
        ...(machines >= 100_000 ? [{ name: "peak RSS", target: "< 256 MiB", met: ours.outcome.peakRssMiB < 256, actual: `${ours.outcome.peakRssMiB.toFixed(0)} MiB` }] : []),
      ],
    });
    if (naive) {
      rows.push({
        scenario: `converged sweep ${label(machines)}`,
        group: "converged",
        implementation: "naive",
        machines,
        subscriptions: size.subscriptions,
        measured: naive.requests,
        outcome: naive.outcome,
        bound: { kind: "reads", value: floor.total, note: "the same Resource Graph floor" },
        targets: [],
      });
    }
    // After the naive evaluator, which must see the estate the full sweep saw.
    if (largest) rows.push(await incrementalSweep(bench, { machines, subscriptions, vms, agents }, ours.requests));
  }
  return rows;
}

/** Changes made behind the service's back before the incremental sweep: half agents deleted, half VMs created. */
const INCREMENTAL_CHANGES = 50;

/**
 * The timer's incremental sweep over the converged estate after INCREMENTAL_CHANGES changes made through ARM,
 * spread one machine per stretch of the estate (as many subscriptions as there are changes: the dearest case for
 * direct reads, which cost a dozen per subscription). A dry run gives the writes needed, the real sweep is
 * measured, and a dry run afterwards must plan nothing. Compared with the full sweep of the same estate.
 */
async function incrementalSweep(bench: Bench, estate: { machines: number; subscriptions: string[]; vms: readonly string[]; agents: ReadonlyMap<string, string> }, full: Measured): Promise<Row> {
  const step = Math.max(1, Math.floor(estate.vms.length / INCREMENTAL_CHANGES));
  const picked = Array.from({ length: Math.min(INCREMENTAL_CHANGES, estate.vms.length) }, (_, index) => estate.vms[index * step] as string);
  const changedSince = new Date().toISOString();
  let neededByChanges = 0;
  let agentsDeleted = 0;
  for (const [index, vmId] of picked.entries()) {
    const agent = estate.agents.get(vmId);
    if (index % 2 === 0 && agent) {
      await bench.arm("DELETE", agent);
      agentsDeleted++;
      neededByChanges += 1; // the agent again
    } else {
      const { id: _id, name: _name, identity: _identity, properties, ...template } = await bench.arm("GET", vmId);
      const { instanceView: _view, vmId: _vm, timeCreated: _created, provisioningState: _state, ...settable } = properties ?? {};
      await bench.arm("PUT", `${vmId}-later`, { ...template, properties: settable });
      neededByChanges += 3; // identity, agent, association
    }
  }
  const changedSubscriptions = new Set(picked.map((id) => parseResourceId(id).subscriptionId)).size;
  log(`incremental sweep: ${agentsDeleted} agents deleted and ${picked.length - agentsDeleted} VMs created through ARM in ${changedSubscriptions} subscriptions; sweeping`);
  const job = { kind: "sweep", changedSince } as const;
  const dry = await bench.run<SweepOutcome>({ ...job, dryRun: true }, estate.subscriptions);
  const real = await bench.run<SweepOutcome>({ ...job, dryRun: false }, estate.subscriptions);
  const verify = await bench.run<SweepOutcome>({ ...job, dryRun: true }, estate.subscriptions);
  const m = real.requests;
  log(`  ${m.graphQueries} Resource Graph pages, ${m.armReads} GETs, ${m.polls} polls, ${m.successfulWrites} writes (plan ${dry.outcome.planItems}) in ${(real.outcome.wallMs / 1000).toFixed(1)} s; afterwards ${verify.outcome.planItems} planned`);
  const requests = m.reads + m.writes;
  return {
    scenario: `incremental sweep ${label(estate.machines)} (${picked.length} changes)`,
    group: "incremental",
    implementation: "service",
    machines: estate.machines,
    subscriptions: estate.subscriptions.length,
    measured: m,
    outcome: real.outcome,
    bound: {
      kind: "none",
      value: 0,
      note:
        `${picked.length} changes through ARM (${agentsDeleted} AMA extensions deleted, ${picked.length - agentsDeleted} VMs created) in ${changedSubscriptions} subscriptions. ` +
        `Finding and reading them (the dry run): ${dry.requests.graphQueries} Resource Graph pages (two change queries, which VMs are SQL VMs) and ${dry.requests.armReads} GETs, ` +
        `${(dry.requests.armReads / Math.max(1, changedSubscriptions)).toFixed(1)} per changed subscription (each machine, its extensions and associations; the subscription, its plans, groups and shared resources); ` +
        `the rest is remediation (writes, their polls and reads). The full sweep of the same estate: ${full.graphQueries} pages, ${full.reads} reads`,
    },
    targets: [
      { name: "Resource Graph pages", target: "a handful (<= 10)", met: m.graphQueries <= 10, actual: String(m.graphQueries) },
      { name: "discovery requests / full sweep's", target: "(report)", met: undefined, actual: `${dry.requests.reads} / ${full.reads} = ${(dry.requests.reads / Math.max(1, full.reads)).toFixed(2)}` },
      { name: "all requests / full sweep's", target: "(report)", met: undefined, actual: `${requests} / ${full.reads + full.writes} = ${(requests / Math.max(1, full.reads + full.writes)).toFixed(2)}` },
      { name: "writes = changes needed", target: `${dry.outcome.planItems} (plan) / ${neededByChanges} (changes)`, met: m.successfulWrites === dry.outcome.planItems && dry.outcome.planItems === neededByChanges && m.redundantWrites === 0, actual: `${m.successfulWrites} (${m.redundantWrites} redundant)` },
      { name: "converged after", target: "0 planned", met: verify.outcome.planItems === 0, actual: `${verify.outcome.planItems} planned` },
    ],
  };
}

async function driftedSweep(bench: Bench, opts: Options): Promise<Row[]> {
  const subscriptionCount = 10;
  const perSubscription = opts.quick ? 100 : 1000;
  const estate = convergedEstate({ seed: opts.seed + 1, subscriptions: subscriptionCount, machinesPerSubscription: perSubscription, drift: 0.1, optOutTag: OPT_OUT_TAG });
  const subscriptions = estate.subscriptions.map((subscription) => subscription.subscriptionId);
  const machines = estate.machines.length;
  const drifted = estate.machines.filter((machine) => machine.labels.includes("drifted"));
  const fromLabels = drifted.reduce((total, machine) => total + (WRITES_FOR_DRIFT_STATE[machine.state] ?? 0), 0);
  log(`drifted sweep ${machines} machines / ${subscriptionCount} subscriptions (${drifted.length} drifted): loading`);
  await bench.load(estate.resources);
  const dry = await bench.run<SweepOutcome>({ kind: "sweep", dryRun: true }, subscriptions);
  const machineWrites = Object.entries(dry.outcome.planItemsByAction).reduce((total, [action, count]) => total + (MACHINE_ACTIONS.has(action) ? count : 0), 0);
  log(`  dry run: ${dry.outcome.planItems} writes planned (${machineWrites} on machines; drift labels say ${fromLabels}); applying`);
  const real = await bench.run<SweepOutcome>({ kind: "sweep", dryRun: false }, subscriptions);
  const verify = await bench.run<SweepOutcome>({ kind: "sweep", dryRun: true }, subscriptions);
  log(`  applied: ${real.requests.successfulWrites} writes (${real.requests.redundantWrites} redundant, ${real.requests.throttled} 429s) in ${(real.outcome.wallMs / 1000).toFixed(1)} s; a second sweep plans ${verify.outcome.planItems}`);
  const bound = writeBound(dry.outcome.planItemsBySubscription, dry.outcome.longestMachineChain, opts.latencyMs);
  const applyMs = real.outcome.wallMs - (real.outcome.firstPlannedMs ?? 0);
  const boundMs = (bound.seconds * 1000) / opts.timeScale;
  return [
    {
      scenario: "drifted sweep (10%)",
      group: "drifted",
      implementation: "service",
      machines,
      subscriptions: subscriptionCount,
      measured: real.requests,
      outcome: real.outcome,
      bound: {
        kind: "seconds",
        value: bound.seconds / opts.timeScale,
        note: `write quota: busiest subscription ${bound.busiestSubscriptionWrites} writes -> ${bound.quotaSeconds.toFixed(1)} s; chain (${dry.outcome.longestMachineChain} writes + 1 read) x ${opts.latencyMs} ms -> ${bound.chainSeconds.toFixed(2)} s; compared with the apply phase, which took ${(applyMs / 1000).toFixed(1)} s of ${(real.outcome.wallMs / 1000).toFixed(1)} s`,
        measuredMs: applyMs,
      },
      targets: [
        { name: "writes = changes needed", target: `${dry.outcome.planItems} (plan) / ${fromLabels} machine writes (labels)`, met: real.requests.successfulWrites === dry.outcome.planItems && machineWrites === fromLabels, actual: `${real.requests.successfulWrites} (${machineWrites} on machines)` },
        { name: "redundant writes", target: "0", met: real.requests.redundantWrites === 0, actual: String(real.requests.redundantWrites) },
        { name: "converged after", target: "0 planned", met: verify.outcome.planItems === 0, actual: `${verify.outcome.planItems} planned` },
        { name: "apply time / write bound", target: "(report)", met: undefined, actual: boundMs > 0 ? `${(applyMs / boundMs).toFixed(2)}x` : "n/a" },
      ],
    },
  ];
}

const MACHINE_ACTIONS = new Set(["updateMachineIdentity", "installExtension", "associateDataCollectionRule", "removeExtension"]);

/**
 * A converged base (existing machines) with drifted machines held back: the first `burstPerSubscription`
 * of each subscription arrive in the burst, the next `cpuPerSubscription` are the per-event CPU sample,
 * the rest are never loaded.
 */
function burstEstate(opts: Options): { estate: Estate; burst: EstateMachine[]; cpu: EstateMachine[]; base: ArmResource[] } {
  const burstPerSubscription = opts.quick ? 10 : 100;
  const cpuPerSubscription = opts.quick ? 3 : 11;
  const estate = convergedEstate({ seed: opts.seed + 2, subscriptions: 10, machinesPerSubscription: opts.quick ? 60 : 400, drift: 0.5, optOutTag: OPT_OUT_TAG });
  const burst: EstateMachine[] = [];
  const cpu: EstateMachine[] = [];
  const held = new Set<string>();
  for (const subscription of estate.subscriptions) {
    const drifted = estate.machines.filter((machine) => machine.subscriptionId === subscription.subscriptionId && machine.labels.includes("drifted"));
    if (drifted.length < burstPerSubscription + cpuPerSubscription) throw new Error("burst estate: too few drifted machines");
    burst.push(...drifted.slice(0, burstPerSubscription));
    cpu.push(...drifted.slice(burstPerSubscription, burstPerSubscription + cpuPerSubscription));
    for (const machine of drifted) held.add(machine.id);
  }
  const base = estate.resources.filter((resource) => !held.has(machineIdOf(resource.id)));
  return { estate, burst, cpu, base };
}

async function eventBurst(bench: Bench, opts: Options): Promise<Row[]> {
  const { estate, burst, cpu, base } = burstEstate(opts);
  const subscriptions = estate.subscriptions.map((subscription) => subscription.subscriptionId);
  const burstIds = burst.map((machine) => machine.id);
  const rows: Row[] = [];
  const groupings: ("per-subscription" | "per-event")[] = opts.skipPerEvent ? ["per-subscription"] : ["per-subscription", "per-event"];
  for (const grouping of groupings) {
    log(`event burst (${grouping}): ${burst.length} new machines in ${subscriptions.length} subscriptions; loading`);
    await bench.load(base);
    await bench.load(resourcesOf(estate, burst), undefined, false);
    const dry = await bench.run<SweepOutcome>({ kind: "burst", machineIds: burstIds, grouping: "per-subscription", concurrency: 12, dryRun: true }, subscriptions);
    const real = await bench.run<SweepOutcome>({ kind: "burst", machineIds: burstIds, grouping, concurrency: 12, dryRun: false }, subscriptions);
    const verify = await bench.run<SweepOutcome>({ kind: "burst", machineIds: burstIds, grouping: "per-subscription", concurrency: 12, dryRun: true }, subscriptions);
    const unavoidableReads: Record<string, number> = {};
    for (const machine of burst) unavoidableReads[machine.subscriptionId] = (unavoidableReads[machine.subscriptionId] ?? 0) + 3;
    const bound = writeBound(dry.outcome.planItemsBySubscription, dry.outcome.longestMachineChain, opts.latencyMs, unavoidableReads);
    const boundMs = (bound.seconds * 1000) / opts.timeScale;
    const readsPerSubscription = (real.requests.armReads + real.requests.polls) / subscriptions.length;
    log(`  ${real.requests.successfulWrites} writes (plan ${dry.outcome.planItems}), ${real.requests.reads} reads, ${real.requests.throttled} 429s, ${(real.outcome.wallMs / 1000).toFixed(1)} s vs write bound ${(boundMs / 1000).toFixed(1)} s; afterwards ${verify.outcome.planItems} planned`);
    rows.push({
      scenario: `event burst (${grouping})`,
      group: "burst",
      implementation: "service",
      machines: burst.length,
      subscriptions: subscriptions.length,
      measured: real.requests,
      outcome: real.outcome,
      bound: {
        kind: "seconds",
        value: bound.seconds / opts.timeScale,
        note:
          `write quota: busiest subscription ${bound.busiestSubscriptionWrites} writes -> ${bound.quotaSeconds.toFixed(1)} s; ` +
          `unavoidable reads (3 GETs per new machine) -> ${bound.readSeconds.toFixed(1)} s; chain (${dry.outcome.longestMachineChain} writes + 1 read) x ${opts.latencyMs} ms -> ${bound.chainSeconds.toFixed(2)} s. ` +
          `The service read ${readsPerSubscription.toFixed(0)} times per subscription (GETs + polls): the read bucket alone needs ${readQuotaSeconds(readsPerSubscription).toFixed(1)} s for that`,
        measuredMs: real.outcome.wallMs,
      },
      targets: [
        { name: "time / lower bound", target: "<= 1.25x", met: real.outcome.wallMs <= 1.25 * boundMs, actual: `${(real.outcome.wallMs / boundMs).toFixed(2)}x` },
        { name: "writes = changes needed", target: String(dry.outcome.planItems), met: real.requests.successfulWrites === dry.outcome.planItems && real.requests.redundantWrites === 0, actual: `${real.requests.successfulWrites} (${real.requests.redundantWrites} redundant)` },
        { name: "all compliant after", target: "0 planned", met: verify.outcome.planItems === 0, actual: `${verify.outcome.planItems} planned` },
      ],
    });
  }

  log(`per-event CPU: ${cpu.length} events one at a time`);
  await bench.load(resourcesOf(estate, cpu), undefined, false);
  const warmup = opts.quick ? 5 : 10;
  const events = await bench.run<EventCpuOutcome>({ kind: "eventCpu", machineIds: cpu.map((machine) => machine.id), warmup }, subscriptions);
  const perEvent = events.outcome.cpuPerEventMs;
  log(`  CPU per event: median ${perEvent.median.toFixed(1)} ms, p95 ${perEvent.p95.toFixed(1)} ms`);
  rows.push({
    scenario: "per-event overhead",
    group: "event",
    implementation: "service",
    machines: events.outcome.events,
    subscriptions: subscriptions.length,
    measured: events.requests,
    outcome: events.outcome,
    bound: { kind: "none", value: 0, note: `${events.outcome.events} events after ${warmup} warm-up, each parsed, scoped and reconciled alone (${events.outcome.writesPlanned} writes); ${((events.requests.reads + events.requests.writes) / events.outcome.events).toFixed(1)} ARM requests per event, so about ${(perEvent.mean / ((events.requests.reads + events.requests.writes) / events.outcome.events)).toFixed(1)} ms CPU per request (SDK pipeline, TLS, JSON); wall per event median ${events.outcome.wallPerEventMs.median.toFixed(0)} ms is mostly ARM latency` },
    targets: [{ name: "CPU per event", target: "< 50 ms", met: perEvent.p95 < 50, actual: `median ${perEvent.median.toFixed(1)} ms, mean ${perEvent.mean.toFixed(1)} ms, p95 ${perEvent.p95.toFixed(1)} ms` }],
  });
  return rows;
}

/** Operations scenario: new VMs in one subscription, each needing identity, agent and association. */
const OPERATIONS_MACHINES = 20;
const OPERATIONS_DURATION_SCALES = [0.25, 0.5, 1, 2];
/** The mean of the AMA install range (resourceTypes.ts: 60-240 s). */
const MEAN_INSTALL_SECONDS = 150;
/** Poll intervals in ARM time: ARM_POLL_INTERVAL_MS's default and core-lro's POLL_INTERVAL_IN_MS. */
const SERVICE_POLL_MS = 5000;
const NAIVE_POLL_MS = 2000;

/**
 * Reads per new machine against operation duration: the service's event path and the naive remediator on the
 * same fresh machines under the emulator's `durations` model, each duration scale with and without Retry-After.
 * Retry-After is one wall second (ARM's value = the time scale), so the scaled header is exact, not rounded.
 */
async function operationsScenario(bench: Bench, opts: Options): Promise<OperationsResults> {
  const started = new Date();
  const timeScale = opts.operationsTimeScale;
  if (!Number.isFinite(timeScale) || timeScale <= 0) throw new Error(`--operations-time-scale must be > 0, not ${timeScale}`);
  const estate = convergedEstate({ seed: opts.seed + 3, subscriptions: 1, machinesPerSubscription: 800, drift: 0.5, optOutTag: OPT_OUT_TAG });
  const fresh = estate.machines.filter((machine) => machine.kind === "vm" && machine.state === "no-identity" && machine.labels.includes("drifted")).slice(0, OPERATIONS_MACHINES);
  if (fresh.length < OPERATIONS_MACHINES) throw new Error(`operations estate: only ${fresh.length} new VMs without identity`);
  const freshIds = new Set(fresh.map((machine) => machine.id));
  const base = estate.resources.filter((resource) => !freshIds.has(machineIdOf(resource.id)));
  const subscriptions = estate.subscriptions.map((subscription) => subscription.subscriptionId);
  const dataCollectionRules = dataCollectionRulesOf(estate);
  const machineIds = fresh.map((machine) => machine.id);
  const points: OperationsPoint[] = [];
  for (const durationScale of OPERATIONS_DURATION_SCALES) {
    for (const retryAfterSeconds of [0, timeScale]) {
      for (const implementation of ["service", "naive"] as const) {
        await bench.load(base);
        await bench.load(resourcesOf(estate, fresh), undefined, false);
        await bench.setLro({ model: "durations", durationScale, retryAfterSeconds, seed: opts.seed });
        const job: Job = implementation === "service"
          ? { kind: "burst", machineIds, grouping: "per-subscription", concurrency: 12, dryRun: false }
          : { kind: "naiveRemediate", machineIds, dataCollectionRules, machineConcurrency: 4, pollIntervalMs: NAIVE_POLL_MS / timeScale };
        const { outcome, requests } = await bench.run<Outcome>(job, subscriptions, { ARM_POLL_INTERVAL_MS: String(SERVICE_POLL_MS / timeScale) }, { timeScale });
        const point: OperationsPoint = {
          implementation,
          durationScale,
          meanInstallSeconds: MEAN_INSTALL_SECONDS * durationScale,
          retryAfterSeconds,
          machines: fresh.length,
          gets: requests.armReads,
          polls: requests.polls,
          queries: requests.graphQueries,
          writes: requests.successfulWrites,
          throttled: requests.throttled,
          wallMs: outcome.wallMs,
        };
        points.push(point);
        log(`operations x${durationScale} ${retryAfterSeconds > 0 ? `Retry-After ${retryAfterSeconds} s` : "no Retry-After"} ${implementation}: ${readsPerMachine(point).toFixed(1)} reads/machine (${point.gets} GET, ${point.polls} polls, ${point.queries} ARG), ${point.writes} writes, ${(point.wallMs / 1000).toFixed(1)} s`);
      }
    }
  }
  await bench.setLro({ model: "polls", retryAfterSeconds: 0 });
  return { startedAt: started.toISOString(), durationMs: Date.now() - started.getTime(), timeScale, seed: opts.seed, servicePollMs: SERVICE_POLL_MS, naivePollMs: NAIVE_POLL_MS, points };
}

/**
 * Where the 100k sweep's memory goes: the same dry-run sweep (a) as reconcile() runs it, (b) under a
 * 256 MiB old-space limit (does it still finish? then the rest of the RSS is collectable garbage), and
 * (c) batch by batch keeping only summaries. Resource Graph's quota is switched off: only memory counts.
 */
async function memoryExperiment(bench: Bench, opts: Options): Promise<void> {
  const estateOptions = { seed: opts.seed, subscriptions: 1000, machinesPerSubscription: 100, converged: true, optOutTag: OPT_OUT_TAG };
  const subscriptions: string[] = [];
  log("memory experiment: 100k machines / 1000 subscriptions; loading");
  await bench.load(
    (function* () {
      for (const resource of generateResources(estateOptions)) {
        if (resource.type === "Microsoft.Resources/subscriptions") subscriptions.push(resource.id.split("/")[2] as string);
        yield resource;
      }
    })(),
  );
  const variants: { name: string; job: Job; env: Record<string, string> }[] = [
    { name: "reconcile() dry run", job: { kind: "sweep", dryRun: true }, env: {} },
    { name: "reconcile() dry run, --max-old-space-size=256", job: { kind: "sweep", dryRun: true }, env: { NODE_OPTIONS: "--max-old-space-size=256" } },
    { name: "per-batch stages, summaries only", job: { kind: "sweepBatches" }, env: {} },
  ];
  for (const variant of variants) {
    try {
      const { outcome } = await bench.run<SweepOutcome>(variant.job, subscriptions, variant.env, { resourceGraph: false });
      log(`  ${variant.name}: ${outcome.machines} machines, peak RSS ${outcome.peakRssMiB.toFixed(0)} MiB, ${(outcome.wallMs / 1000).toFixed(1)} s`);
    } catch (error) {
      log(`  ${variant.name}: failed (${String(error)})`);
    }
  }
}

function label(machines: number): string {
  return machines >= 1000 ? `${machines / 1000}k` : String(machines);
}

function describePages(byQuery: Record<string, number>): string {
  return Object.entries(byQuery)
    .filter(([, pages]) => pages > 0)
    .map(([query, pages]) => `${query} ${pages}`)
    .join(", ");
}

async function main(): Promise<void> {
  const opts = options();
  // The emulator holds the 100k-machine estate and every request of the naive run.
  process.env["NODE_OPTIONS"] = `${process.env["NODE_OPTIONS"] ?? ""} --max-old-space-size=8192`.trim();
  const azure = await spawnLocalAzure(["--seed", String(opts.seed), "--polls", "1", "--retry-after", "0", "--time-scale", String(opts.timeScale), "--request-log-limit", "2000000"]);
  delete process.env["NODE_OPTIONS"];
  const workDir = await mkdtemp(join(tmpdir(), "ama-bench-"));
  const started = new Date();
  try {
    const bench = new Bench(azure, opts, workDir);
    if (opts.memoryExperiment) return await memoryExperiment(bench, opts);
    if (opts.operations) {
      await mkdir(RESULTS_DIR, { recursive: true });
      const written = await writeOperationsResults(RESULTS_DIR, await operationsScenario(bench, opts));
      return log(`results: ${written.join(", ")}`);
    }
    // The bursts run under the durations model at their own time scale: not in --quick (minutes of ARM time each).
    const bursts = opts.bursts || (!opts.quick && !opts.incrementalOnly);
    const burstsOptions = { quick: opts.quick, seed: opts.seed, latencyMs: opts.latencyMs, timeScale: opts.burstsTimeScale };
    const rows = [
      ...(opts.bursts ? [] : await convergedSweeps(bench, opts)),
      ...(opts.bursts || opts.incrementalOnly ? [] : [...(await driftedSweep(bench, opts)), ...(await eventBurst(bench, opts))]),
      ...(bursts ? await burstScenarios(bench, burstsOptions) : []),
    ];
    const label = opts.incrementalOnly ? "incremental" : opts.bursts ? "bursts" : undefined;
    const results: BenchResults = {
      ...(label ? { label } : {}),
      ...(bursts ? { modelNotes: [burstsModelNote(burstsOptions)] } : {}),
      startedAt: started.toISOString(),
      durationMs: Date.now() - started.getTime(),
      quick: opts.quick,
      model: { latencyMs: opts.latencyMs, jitterMs: opts.jitterMs, timeScale: opts.timeScale, seed: opts.seed, pollIntervalMs: opts.pollIntervalMs },
      rows,
    };
    await mkdir(RESULTS_DIR, { recursive: true });
    const written = await writeResults(RESULTS_DIR, results);
    log(`results: ${written.join(", ")}`);
  } finally {
    await azure.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
