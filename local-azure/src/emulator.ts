import type { TokenCredential } from "@azure/core-auth";
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { ArmError } from "./armError.js";
import { parseArmPath } from "./armPath.js";
import { ArmRouter, type ArmResponse } from "./armRouter.js";
import type { EmulatorContext } from "./context.js";
import { EventFeed, type ArmEvent } from "./events.js";
import { FaultInjector, type Faults } from "./faults.js";
import { OperationTracker, type LroOptions } from "./lro.js";
import { RequestLog, type RequestCounts, type RequestLogEntry } from "./requestLog.js";
import { ResourceGraph, type ResourceGraphOptions } from "./resourceGraph.js";
import { VM_TYPE, withPowerState, type PowerState } from "./resourceTypes.js";
import { ResourceStore, type ArmResource, type JsonObject } from "./store.js";
import { Throttle, type LowestRemaining, type ThrottleOptions } from "./throttle.js";
import { ensureLocalCertificate } from "./tls.js";

export interface LocalAzureOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Bearer token clients must send; default `local-azure-test-token-<random>`. */
  token?: string;
  tenantId?: string;
  /** Page size of paged ARM lists (default 100). */
  pageSize?: number;
  lro?: LroOptions;
  throttle?: ThrottleOptions;
  faults?: Faults;
  /** Resource Graph's response size limit, unordered-result seed, VM extended properties and freshness lag. */
  resourceGraph?: ResourceGraphOptions;
  /** Loaded at start. */
  resources?: readonly ArmResource[];
  /** Where the TLS certificate is kept (default `.local-azure`). */
  certDir?: string;
  /** Keep at most this many request log entries (counters stay exact); default unlimited. */
  requestLogLimit?: number;
  /** Keep at most this many raised events not yet taken (oldest dropped); default 10,000. */
  eventLimit?: number;
}

/** `GET /_emulator/stats`: request counts and how low ARM's buckets went, since the last reset of either. */
export interface EmulatorStats extends RequestCounts {
  /** Per kind (reads, writes): the lowest `x-ms-ratelimit-remaining-subscription-*` seen, overall and per subscription. */
  lowestRemaining: LowestRemaining;
}

export interface LocalAzure {
  /** `https://127.0.0.1:<port>`: the SDKs' `endpoint` (or `baseUri` for the legacy clients). */
  endpoint: string;
  token: string;
  credential: TokenCredential;
  /** The certificate to trust (NODE_EXTRA_CA_CERTS) in processes that talk to the emulator. */
  caCertPath: string;
  load(resources: readonly ArmResource[]): void;
  get(id: string): ArmResource | undefined;
  list(predicate?: (resource: ArmResource) => boolean): ArmResource[];
  remove(id: string): boolean;
  /** Every ARM request so far (control endpoints excluded). */
  readonly requests: RequestLogEntry[];
  /** The events ARM raised for the operations carried out since the last take (src/events.ts), without taking them. */
  readonly events: ArmEvent[];
  /** Takes the raised events (as Event Grid takes them off the topic): each is returned once. */
  takeEvents(): ArmEvent[];
  requestCounts(): RequestCounts;
  /** The request counts and the lowest level each ARM bucket reached since the last reset. */
  stats(): EmulatorStats;
  /** Clears the request log, its counters and the lowest bucket levels seen. */
  resetRequests(): void;
  /** Empties the store, operations, buckets, raised events and the request log; faults and options stay. */
  reset(): void;
  setFaults(faults: Faults): void;
  setThrottle(options: ThrottleOptions): void;
  /** Changes the given LRO options (model, polls, Retry-After, durations); the others keep their values. The time scale is the throttle's. */
  setLro(options: LroOptions): void;
  /** Changes the given Resource Graph options; the others keep their values. The lag's time scale is the throttle's. */
  setResourceGraph(options: ResourceGraphOptions): void;
  setPowerState(vmId: string, state: PowerState): void;
  close(): Promise<void>;
}

const DEFAULT_TENANT = "72f988bf-0000-4000-8000-00000000a2e1";
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export async function startLocalAzure(options: LocalAzureOptions = {}): Promise<LocalAzure> {
  const certificate = await ensureLocalCertificate(options.certDir);
  const token = options.token ?? `local-azure-test-token-${randomBytes(12).toString("hex")}`;
  const ctx: EmulatorContext = {
    store: new ResourceStore(),
    // One time scale for buckets and operation durations: LRO options may not set their own.
    operations: new OperationTracker({ ...options.lro, timeScale: options.throttle?.timeScale ?? 1 }),
    throttle: new Throttle(options.throttle),
    faults: new FaultInjector(options.faults),
    events: new EventFeed(options.eventLimit),
    tenantId: options.tenantId ?? DEFAULT_TENANT,
    pageSize: options.pageSize ?? 100,
    endpoint: "",
  };
  const log = new RequestLog(options.requestLogLimit);
  const graph = new ResourceGraph(ctx);
  graph.configure(options.resourceGraph ?? {});
  graph.setTimeScale(options.throttle?.timeScale ?? 1);
  const router = new ArmRouter(ctx, graph, log, token);

  const azure: LocalAzure = {
    endpoint: "",
    token,
    credential: { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }) },
    caCertPath: certificate.certPath,
    load: (resources) => {
      for (const resource of resources) {
        ctx.store.put(normalise(resource, ctx.tenantId));
        graph.controlChanged(resource.id);
      }
    },
    get: (id) => ctx.store.get(id),
    list: (predicate) => {
      const all = [...ctx.store.all()].map((e) => e.resource);
      return predicate ? all.filter(predicate) : all;
    },
    remove: (id) => {
      const removed = ctx.store.remove(id);
      if (removed) graph.controlChanged(id);
      return removed;
    },
    get requests() {
      return log.recent();
    },
    get events() {
      return ctx.events.recent();
    },
    // ARM raises an operation's event when it ends; the emulator ends operations lazily, so what is due ends first.
    takeEvents: () => {
      ctx.operations.settle();
      return ctx.events.take();
    },
    requestCounts: () => log.requestCounts(),
    stats: () => ({ ...log.requestCounts(), lowestRemaining: ctx.throttle.lowestRemaining() }),
    resetRequests: () => {
      log.reset();
      ctx.throttle.resetLowest();
    },
    reset: () => {
      ctx.store.clear();
      ctx.operations.reset();
      ctx.events.reset();
      ctx.throttle.reset();
      graph.reset();
      log.reset();
    },
    setFaults: (faults) => ctx.faults.set(faults),
    setThrottle: (throttle) => {
      ctx.throttle.configure(throttle);
      if (throttle.timeScale === undefined) return;
      ctx.operations.configure({ timeScale: throttle.timeScale });
      graph.setTimeScale(throttle.timeScale);
    },
    setLro: (lro) => ctx.operations.configure({ ...lro, timeScale: undefined }),
    setResourceGraph: (graphOptions) => graph.configure(graphOptions),
    setPowerState: (vmId, state) => {
      const vm = ctx.store.get(vmId);
      if (!vm || vm.type.toLowerCase() !== VM_TYPE) throw new Error(`no virtual machine '${vmId}'`);
      ctx.store.put(withPowerState(vm, state));
      graph.controlChanged(vmId);
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };

  const control = controlEndpoints(azure);
  const server = createServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
    readBody(req)
      .then(async (bytes) => {
        // Concatenate rather than resolve: `//subscriptions/...` (arm-policy, arm-monitor) is not a host.
        const url = new URL(azure.endpoint + (req.url ?? "/"));
        if (url.pathname.startsWith("/_emulator/")) {
          const { status, body } = control(req.method ?? "GET", url, bytes);
          return send(res, { status, body, headers: {} });
        }
        let body: unknown;
        let invalidJson = false;
        if (bytes.length > 0) {
          try {
            body = JSON.parse(bytes.toString("utf8"));
          } catch {
            invalidJson = true;
          }
        }
        const response = router.handle({ method: req.method ?? "GET", url, headers: req.headers, body, invalidJson });
        if (response.delayMs) await new Promise((resolve) => setTimeout(resolve, response.delayMs));
        if (response.drop) return void req.socket.destroy();
        send(res, response);
      })
      .catch((error: unknown) => send(res, { status: 500, body: { error: { code: "InternalServerError", message: String(error) } }, headers: {} }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  azure.endpoint = ctx.endpoint = `https://127.0.0.1:${port}`;
  if (options.resources) azure.load(options.resources);
  return azure;
}

/** Fills what a hand-written or generated resource may leave out (name/type come from the id). */
function normalise(resource: ArmResource, tenantId: string): ArmResource {
  const parsed = parseArmPath(resource.id);
  const normalised: ArmResource = { ...resource, name: resource.name ?? parsed.name, type: resource.type ?? parsed.type };
  if (parsed.type === "Microsoft.Resources/subscriptions" && parsed.name === undefined) {
    throw new Error(`'${resource.id}' is not a resource id`);
  }
  if (normalised.type.toLowerCase() === "microsoft.resources/subscriptions") {
    const p = (normalised.properties ?? {}) as JsonObject;
    if (normalised.tenantId === undefined && p.tenantId === undefined) normalised.tenantId = tenantId;
  }
  return normalised;
}

/** The `/_emulator/*` control API: the same operations as the in-process LocalAzure, over HTTPS. */
function controlEndpoints(azure: LocalAzure): (method: string, url: URL, bytes: Buffer) => { status: number; body: unknown } {
  return (method, url, bytes) => {
    const route = `${method} ${url.pathname.replace(/\/+$/, "")}`;
    const json = (): unknown => (bytes.length > 0 ? JSON.parse(bytes.toString("utf8")) : undefined);
    try {
      switch (route) {
        case "POST /_emulator/load": {
          const resources = json();
          if (!Array.isArray(resources)) return { status: 400, body: { error: { code: "InvalidRequestContent", message: "expected an array of resources" } } };
          azure.load(resources as ArmResource[]);
          return { status: 200, body: { loaded: resources.length } };
        }
        case "POST /_emulator/reset":
          azure.reset();
          return { status: 200, body: {} };
        case "GET /_emulator/resources": {
          const type = url.searchParams.get("type")?.toLowerCase();
          return { status: 200, body: { value: azure.list(type ? (r) => r.type.toLowerCase() === type : undefined) } };
        }
        case "GET /_emulator/requests":
          return { status: 200, body: { value: azure.requests } };
        case "POST /_emulator/events/take":
          return { status: 200, body: { value: azure.takeEvents() } };
        case "POST /_emulator/requests/reset":
          azure.resetRequests();
          return { status: 200, body: {} };
        case "POST /_emulator/faults":
          azure.setFaults((json() ?? {}) as Faults);
          return { status: 200, body: {} };
        case "POST /_emulator/throttle":
          azure.setThrottle((json() ?? {}) as ThrottleOptions);
          return { status: 200, body: {} };
        case "POST /_emulator/lro":
          azure.setLro((json() ?? {}) as LroOptions);
          return { status: 200, body: {} };
        case "POST /_emulator/resource-graph":
          azure.setResourceGraph((json() ?? {}) as ResourceGraphOptions);
          return { status: 200, body: {} };
        case "POST /_emulator/power-state": {
          const { id, state } = (json() ?? {}) as { id: string; state: PowerState };
          azure.setPowerState(id, state);
          return { status: 200, body: {} };
        }
        case "GET /_emulator/stats":
          return { status: 200, body: azure.stats() };
        default:
          return { status: 404, body: { error: { code: "NotFound", message: `no control endpoint ${route}` } } };
      }
    } catch (error) {
      return { status: 400, body: { error: { code: "BadRequest", message: error instanceof Error ? error.message : String(error) } } };
    }
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ArmError(413, "RequestEntityTooLarge", "The request body is too large."));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, response: ArmResponse): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...response.headers };
  if (response.body === undefined) {
    res.writeHead(response.status, headers).end();
    return;
  }
  const payload = JSON.stringify(response.body);
  headers["content-type"] = "application/json; charset=utf-8";
  headers["content-length"] = String(Buffer.byteLength(payload));
  res.writeHead(response.status, headers).end(payload);
}
