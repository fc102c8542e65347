/**
 * The CLI as a user runs it: a real process whose `--json` goes through a pipe to a slow reader (as
 * `… --json | jq` does). The document must arrive whole, and the process must still end promptly
 * although the SDK's keep-alive sockets are open.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEstate } from "../../local-azure/src/estate.js";
import { tsNodeArgs } from "../reliability/support.js";
import { startEngineHarness, type EngineHarness } from "../support/engineHarness.js";

let h: EngineHarness;
const estate = generateEstate({ seed: 7, subscriptions: 4, machinesPerSubscription: 120 });

beforeAll(async () => {
  h = await startEngineHarness();
  h.load(estate);
});
afterAll(() => h.close());

/** Runs the CLI; its stdout is read only after `readAfterMs`, so the pipe fills up and writes queue. */
async function runThroughPipe(argv: string[], readAfterMs: number): Promise<{ code: number | null; stdout: Buffer; stderr: string; exitedInMs: number }> {
  const args = await tsNodeArgs();
  const started = Date.now();
  const child = spawn(process.execPath, [...args, "src/cli/bin.ts", ...argv], { env: { ...process.env, ...h.env() }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pause();
  setTimeout(() => child.stdout.resume(), readAfterMs);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  const [code, exitedInMs] = await new Promise<[number | null, number]>((resolve) => child.on("close", (exitCode) => resolve([exitCode, Date.now() - started])));
  return { code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString("utf8"), exitedInMs };
}

describe("ama-remediator --json through a pipe", () => {
  it("delivers a document of more than 1 MB whole to a slow reader, then exits", async () => {
    const { code, stdout, stderr, exitedInMs } = await runThroughPipe(["sweep", "--dry-run", "--json"], 1_500);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout.length).toBeGreaterThan(1024 * 1024);
    const document = JSON.parse(stdout.toString("utf8")) as { summary: { planned: number }; resources: unknown[]; plan: { items: unknown[] } };
    expect(document.resources.length).toBeGreaterThanOrEqual(estate.machines.length);
    expect(document.plan.items.length).toBeGreaterThan(0);
    // Keep-alive sockets to the emulator are still open: the process must not wait for them to time out.
    expect(exitedInMs).toBeLessThan(20_000);
  }, 60_000);
});
