/**
 * Starts a throwaway Azurite (the npm package installed as a devDependency) for tests and the demo.
 * Free of vitest imports on purpose: the demo entry point uses it too.
 *
 * Every run gets its own free ports (a leftover Azurite may hold the default 10000-10002) and keeps
 * everything in memory. `close()` ends the whole process group, so no Azurite outlives its caller.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";

/** The well-known Azurite development account (public, documented by Microsoft; not a secret). */
export const DEV_ACCOUNT_NAME = "devstoreaccount1";
export const DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteInstance {
  /** Development-account connection string with this instance's blob, queue and table endpoints. */
  readonly connectionString: string;
  readonly ports: { readonly blob: number; readonly queue: number; readonly table: number };
  /** Stops Azurite and its children; safe to call more than once. */
  close(): Promise<void>;
}

export interface StartAzuriteOptions {
  /** How long to wait for all three services to listen. */
  readonly startTimeoutInMs?: number;
  /** Receives Azurite's stdout/stderr lines (it runs with --silent, so these are start/stop messages). */
  readonly onOutput?: (line: string) => void;
}

const SERVICES = ["Blob", "Queue", "Table"] as const;
const PORT_CLASH_ATTEMPTS = 3;

export async function startAzurite(options: StartAzuriteOptions = {}): Promise<AzuriteInstance> {
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= PORT_CLASH_ATTEMPTS; attempt++) {
    const [blob, queue, table] = await freePorts(3);
    try {
      return await launch({ blob: blob as number, queue: queue as number, table: table as number }, options);
    } catch (error) {
      lastError = error as Error;
      // Another process may have taken a port between probing and binding; try fresh ones.
      if (!/EADDRINUSE/.test(lastError.message)) throw lastError;
    }
  }
  throw lastError ?? new Error("Azurite did not start");
}

export function developmentConnectionString(ports: { blob: number; queue: number; table: number }): string {
  const base = (port: number) => `http://127.0.0.1:${port}/${DEV_ACCOUNT_NAME}`;
  return [
    "DefaultEndpointsProtocol=http",
    `AccountName=${DEV_ACCOUNT_NAME}`,
    `AccountKey=${DEV_ACCOUNT_KEY}`,
    `BlobEndpoint=${base(ports.blob)}`,
    `QueueEndpoint=${base(ports.queue)}`,
    `TableEndpoint=${base(ports.table)}`,
  ].join(";");
}

async function launch(
  ports: { blob: number; queue: number; table: number },
  options: StartAzuriteOptions,
): Promise<AzuriteInstance> {
  const script = createRequire(import.meta.url).resolve("azurite/dist/src/azurite.js");
  const args = [
    script,
    "--blobHost", "127.0.0.1", "--blobPort", String(ports.blob),
    "--queueHost", "127.0.0.1", "--queuePort", String(ports.queue),
    "--tableHost", "127.0.0.1", "--tablePort", String(ports.table),
    "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--loose", "--silent",
  ];
  // detached: Azurite leads its own process group, so close() can end it with everything it started.
  const child = spawn(process.execPath, args, { cwd: tmpdir(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const killOnExit = () => killGroup(child, "SIGKILL");
  process.once("exit", killOnExit);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= stop(child).finally(() => process.removeListener("exit", killOnExit));
    return closed;
  };

  try {
    await waitUntilListening(child, options);
  } catch (error) {
    await close();
    throw error;
  }
  return { connectionString: developmentConnectionString(ports), ports, close };
}

function waitUntilListening(child: ChildProcess, options: StartAzuriteOptions): Promise<void> {
  const timeoutInMs = options.startTimeoutInMs ?? 30_000;
  const listening = new Set<string>();
  const output: string[] = [];
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(`Azurite did not start within ${timeoutInMs} ms`), timeoutInMs);
    const onLine = (line: string) => {
      output.push(line);
      options.onOutput?.(line);
      const match = /Azurite (Blob|Queue|Table) service is successfully listening/.exec(line);
      if (match?.[1]) listening.add(match[1]);
      if (SERVICES.every((service) => listening.has(service))) done();
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(`Azurite exited during start-up (code ${code}, signal ${signal})`);
    const cleanup = () => {
      clearTimeout(timer);
      child.removeListener("exit", onExit);
      child.removeListener("error", onError);
    };
    const done = () => {
      cleanup();
      resolve();
    };
    const fail = (message: string) => {
      cleanup();
      reject(new Error(`${message}: ${output.slice(-10).join(" | ")}`));
    };
    const onError = (error: Error) => fail(error.message);
    child.once("exit", onExit);
    child.once("error", onError);
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = "";
      stream?.setEncoding("utf8");
      stream?.on("data", (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split(/\r?\n/);
        buffered = lines.pop() ?? "";
        for (const line of lines) if (line.trim()) onLine(line);
      });
    }
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  killGroup(child, "SIGTERM");
  const forced = setTimeout(() => killGroup(child, "SIGKILL"), 5_000);
  await exited;
  clearTimeout(forced);
  child.stdout?.destroy();
  child.stderr?.destroy();
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Distinct ports that were free a moment ago (Azurite cannot listen on port 0 and report it back). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("could not read a free port");
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}
