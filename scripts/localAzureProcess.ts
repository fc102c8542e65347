/**
 * Runs the local Azure emulator in its own process (as the demo, the local host and the benchmark
 * need) and talks to its `/_emulator/*` control endpoints. Loopback only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface LocalAzureProcess {
  readonly endpoint: string;
  readonly token: string;
  readonly caCertPath: string;
  control<T = unknown>(method: "GET" | "POST", path: string, body?: unknown): Promise<T>;
  /** The settings a service process needs to work against this emulator (scope: `subscriptions`). */
  settingsFor(subscriptions: readonly string[]): Record<string, string>;
  close(): Promise<void>;
}

const SERVER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "..", "local-azure", "src", "server.js");

export async function spawnLocalAzure(args: readonly string[] = []): Promise<LocalAzureProcess> {
  const child = spawn(process.execPath, [SERVER_SCRIPT, "--port", "0", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const first = await firstLine(child);
  const { endpoint, token, caCertPath } = JSON.parse(first) as { endpoint: string; token: string; caCertPath: string };
  const ca = await readFile(caCertPath, "utf8");
  return {
    endpoint,
    token,
    caCertPath,
    control: (method, path, body) => send(new URL(`/_emulator/${path}`, endpoint), method, body, ca),
    settingsFor: (subscriptions) => ({
      NODE_EXTRA_CA_CERTS: caCertPath,
      ARM_ENDPOINT: endpoint,
      ARM_TOKEN: token,
      REMEDIATION_SUBSCRIPTIONS: subscriptions.join(","),
      // The emulator answers at once: poll and back off in milliseconds, not ARM's seconds.
      ARM_POLL_INTERVAL_MS: "50",
      ARM_CONFLICT_RETRY_DELAY_MS: "200",
    }),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once("line", (line) => resolve(line));
    child.once("exit", (code) => reject(new Error(`the emulator exited (${code}) before it started`)));
  });
}

function send<T>(url: URL, method: string, body: unknown, ca: string): Promise<T> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers: payload ? { "content-type": "application/json", "content-length": payload.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if ((res.statusCode ?? 500) >= 400) reject(new Error(`emulator ${method} ${url.pathname}: ${res.statusCode} ${text.slice(0, 200)}`));
        else resolve((text ? JSON.parse(text) : undefined) as T);
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}
