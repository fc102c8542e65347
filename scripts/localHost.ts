/**
 * `npm start`: the Function App on this machine without Azure Functions Core Tools. Starts Azurite
 * and the local Azure emulator (loopback only, a demo tenant loaded), then plays the Functions host:
 *   - HTTP on http://127.0.0.1:7071/api/* -> the registered HTTP handlers (function key required)
 *   - POST /runtime/webhooks/EventGrid?functionName=onResourceWrite -> the Event Grid handler
 *   - Event Grid itself (not with --demo): every second, the events the emulator raised for changes made
 *     against it, through the filter infra/ deploys, to the same handler
 *   - the timer handler every --sweep-seconds (as in Azure, not at start: runOnStartup is off; the demo fires it)
 *   - the work queue drained into the queue handler
 * With --demo it shows a sweep and an event being remediated end to end, prints a summary and exits.
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import functions from "@azure/functions";
import { startAzurite } from "../local-azure/src/azurite.js";
import { demoEstate, type Estate } from "../local-azure/src/estate.js";
import { ensureLocalCertificate } from "../local-azure/src/tls.js";
import { eventGridDelivers, resourceWriteEvent, type ArmEvent, type EventGridFilter } from "../local-azure/src/events.js";
import { eventGridFilter } from "../infra/templates/eventGridSubscription.js";
import { spawnLocalAzure, type LocalAzureProcess } from "./localAzureProcess.js";
import type { Service } from "../src/service/service.js";
import { pumpWorkQueue } from "./functionsHost.js";
import { setTimeout as sleep } from "node:timers/promises";

const PORT = 7071;
const { values } = parseArgs({ options: { demo: { type: "boolean", default: false }, "sweep-seconds": { type: "string", default: "300" } } });

// Node reads NODE_EXTRA_CA_CERTS only at start: re-run this script trusting the emulator's certificate.
const { certPath } = await ensureLocalCertificate();
if (process.env["NODE_EXTRA_CA_CERTS"] !== certPath) {
  const child = spawn(process.execPath, process.argv.slice(1), { stdio: "inherit", env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath } });
  child.once("exit", (code) => process.exit(code ?? 1));
} else {
  await runHost();
}

async function runHost(): Promise<void> {
  const azurite = await startAzurite();
  const azure = await spawnLocalAzure(["--retry-after", "0"]);
  const estate = demoEstate();
  await azure.control("POST", "load", estate.resources);
  const functionKey = randomBytes(16).toString("hex");
  Object.assign(process.env, {
    ...azure.settingsFor(estate.subscriptions.map((subscription) => subscription.subscriptionId)),
    AzureWebJobsStorage: azurite.connectionString,
    EVENT_BATCH_SECONDS: "2",
    LOG_LEVEL: process.env["LOG_LEVEL"] ?? "warn",
  });
  // Imported only now: the handlers build their service from these settings on first use.
  const { runsApi, runReportApi } = await import("../src/functions/runsApi.js");
  const { healthApi } = await import("../src/functions/healthApi.js");
  const { metricsApi } = await import("../src/functions/metricsApi.js");
  // The Function App's HTTP routes (each function's `route`), with the handler that serves each.
  const routes = [
    { pattern: /^\/api\/runs(?:\/([^/]+))?$/, name: "runs", handler: runsApi },
    { pattern: /^\/api\/runs\/([^/]+)\/report$/, name: "runReport", handler: runReportApi },
    { pattern: /^\/api\/metrics$/, name: "metrics", handler: metricsApi },
    { pattern: /^\/api\/health$/, name: "health", handler: healthApi },
  ];
  const { onResourceWrite } = await import("../src/functions/onResourceWrite.js");
  const { sweepTimer } = await import("../src/functions/sweepTimer.js");
  const { sharedService } = await import("../src/service/service.js");
  const service = await sharedService();

  const context = (functionName: string) => new functions.InvocationContext({ invocationId: randomUUID(), functionName });
  const server = createServer((req, res) => {
    void route(req, res).catch((error: unknown) => {
      res.writeHead(500, { "content-type": "application/problem+json" }).end(JSON.stringify({ title: "Internal Server Error", status: 500, detail: (error as Error).message }));
    });
  });
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${PORT}`);
    const body = await readBody(req);
    if (url.pathname.toLowerCase() === "/runtime/webhooks/eventgrid") {
      const events = JSON.parse(body || "[]") as unknown[];
      for (const event of Array.isArray(events) ? events : [events]) await onResourceWrite(event as never, context("onResourceWrite"));
      res.writeHead(200).end();
      return;
    }
    if ((req.headers["x-functions-key"] ?? url.searchParams.get("code")) !== functionKey) {
      res.writeHead(401).end();
      return;
    }
    const found = routes.map((candidate) => ({ ...candidate, match: candidate.pattern.exec(url.pathname) })).find((candidate) => candidate.match);
    if (!found?.match) {
      res.writeHead(404).end();
      return;
    }
    const runId = found.match[1];
    const request = new functions.HttpRequest({
      method: req.method ?? "GET",
      url: url.toString(),
      headers: Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, String(value)])),
      query: Object.fromEntries(url.searchParams),
      params: runId ? { runId: decodeURIComponent(runId) } : {},
      ...(body ? { body: { string: body } } : {}),
    });
    const response = await found.handler(request, context(found.name));
    res.writeHead(response.status ?? 200, response.headers as Record<string, string>).end(response.body as string | undefined);
  }
  await new Promise<void>((resolve) => server.listen(PORT, "127.0.0.1", resolve));

  let stopping = false;
  const pump = (async () => {
    while (!stopping) if ((await pumpWorkQueue(service)) === 0) await sleep(250);
  })();
  const timer = () => sweepTimer({ isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: "", next: "", lastUpdated: "" } }, context("sweepTimer"));
  const sweepEvery = setInterval(() => void timer(), Number(values["sweep-seconds"]) * 1000);
  // The demo announces its one new VM itself; otherwise every change made against the emulator reaches the handler.
  const filter = eventGridFilter() as EventGridFilter;
  const events = (async () => {
    while (!stopping && !values.demo) {
      const taken = await azure.control<{ value: ArmEvent[] }>("POST", "events/take").catch(() => ({ value: [] }));
      for (const event of taken.value.filter((candidate) => eventGridDelivers(filter, candidate))) {
        // As Event Grid does, a failed delivery is dropped here (it would retry): the host keeps running.
        await onResourceWrite(event as never, context("onResourceWrite")).catch((error: unknown) => console.error(`event ${String(event.id)} not delivered: ${String(error)}`));
      }
      await sleep(1000);
    }
  })();

  console.log(`Functions host (local) on http://127.0.0.1:${PORT}/api  function key: ${functionKey}`);
  console.log(`Local Azure ${azure.endpoint} (demo tenant: ${estate.machines.length} machines), Azurite ${azurite.connectionString.match(/QueueEndpoint=([^;]+)/)?.[1] ?? ""}`);
  const stop = async () => {
    stopping = true;
    clearInterval(sweepEvery);
    await Promise.all([pump, events]);
    server.close();
    await Promise.all([azure.close(), azurite.close()]);
  };
  if (values.demo) {
    await demo(functionKey, timer, service, azure, estate);
    await stop();
    process.exit(0);
  }
  process.once("SIGINT", () => void stop().then(() => process.exit(0)));
  process.once("SIGTERM", () => void stop().then(() => process.exit(0)));
}

/** The end-to-end story: a timer sweep remediates the tenant, then an Event Grid event for one machine. */
async function demo(functionKey: string, timer: () => Promise<void>, service: Service, azure: LocalAzureProcess, estate: Estate): Promise<void> {
  console.log("\n1. The timer fires: a full sweep of every subscription, fanned out as queue work items…");
  await timer();
  const [sweep] = await service.state.runs.listRecent(1);
  if (sweep) await waitForRun(functionKey, sweep.runId);
  console.log("\n2. An operator asks for a dry run over HTTP: POST /api/runs {\"dryRun\": true}");
  const posted = await call(functionKey, "POST", "/api/runs", { dryRun: true });
  await waitForRun(functionKey, (posted as { runId: string }).runId);
  console.log("\n3. A new VM appears; Event Grid delivers its ResourceWriteSuccess to the webhook…");
  const vm = await createVm(azure, estate);
  await fetch(`http://127.0.0.1:${PORT}/runtime/webhooks/EventGrid?functionName=onResourceWrite`, {
    method: "POST",
    headers: { "aeg-event-type": "Notification", "content-type": "application/json" },
    body: JSON.stringify([resourceWriteEvent(vm.id, { id: randomUUID(), eventTime: new Date().toISOString() })]),
  });
  const [eventRun] = await service.state.runs.listRecent(1);
  if (eventRun) await waitForRun(functionKey, eventRun.runId);
  const health = await call(functionKey, "GET", "/api/health");
  console.log(`\n4. GET /api/health -> ${(health as { status: string }).status}`);
}

async function waitForRun(functionKey: string, runId: string): Promise<void> {
  for (;;) {
    const run = (await call(functionKey, "GET", `/api/runs/${runId}`)) as { status: string; counts: Record<string, number>; trigger: string; workItems: Record<string, number> };
    if (run.status === "succeeded" || run.status === "failed") {
      const counts = run.counts;
      console.log(`   run ${runId} (${run.trigger}) ${run.status}: ${counts["compliant"]} compliant, ${counts["remediated"]} remediated, ${counts["planned"]} planned, ${counts["failed"]} failed, ${counts["skipped"]} skipped (${run.workItems["total"]} work items)`);
      return;
    }
    await sleep(250);
  }
}

async function call(functionKey: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${PORT}${path}`, {
    method,
    headers: { "x-functions-key": functionKey, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return response.json();
}

/** A running Linux VM without identity or agent, as a user would have just created it. */
async function createVm(azure: LocalAzureProcess, estate: Estate): Promise<{ id: string }> {
  const template = estate.machines.find((machine) => machine.kind === "vm" && machine.state === "no-identity") ?? estate.machines[0];
  if (!template) throw new Error("the demo estate has no VM");
  const id = `/subscriptions/${template.subscriptionId}/resourceGroups/${template.resourceGroup}/providers/Microsoft.Compute/virtualMachines/vm-created-just-now`;
  await azure.control("POST", "load", [
    {
      id,
      name: "vm-created-just-now",
      type: "Microsoft.Compute/virtualMachines",
      location: template.region,
      properties: {
        timeCreated: new Date().toISOString(),
        storageProfile: { osDisk: { osType: "Linux" }, imageReference: { publisher: "Canonical", offer: "ubuntu-24_04-lts", sku: "server", version: "latest" } },
        osProfile: { computerName: "vm-created-just-now", allowExtensionOperations: true },
        instanceView: { statuses: [{ code: "ProvisioningState/succeeded" }, { code: "PowerState/running" }] },
      },
    },
  ]);
  return { id };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
