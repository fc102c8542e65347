/**
 * `npm run demo`: a demo tenant in the local Azure emulator (loopback only), remediated by the real
 * CLI through the real SDK clients, then swept again to show that nothing is left to write.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { demoEstate } from "../local-azure/src/estate.js";
import { spawnLocalAzure } from "./localAzureProcess.js";

const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "cli", "bin.js");

async function main(): Promise<void> {
  const azure = await spawnLocalAzure(["--retry-after", "0"]);
  try {
    const estate = demoEstate();
    await azure.control("POST", "load", estate.resources);
    const subscriptions = estate.subscriptions.map((subscription) => subscription.subscriptionId);
    console.log(`Local Azure at ${azure.endpoint} holds a demo tenant: ${subscriptions.length} subscriptions, ${estate.machines.length} machines.\n`);
    const env = { ...process.env, ...azure.settingsFor(subscriptions) };
    console.log("$ ama-remediator sweep");
    const first = await run(env, ["sweep"]);
    const writes = await azure.control<{ writes: number; deletes: number }>("GET", "stats");
    console.log(`\n(${writes.writes} writes, ${writes.deletes} deletes sent to ARM)\n`);
    await azure.control("POST", "requests/reset");
    console.log("$ ama-remediator sweep   # again: a converged tenant needs no writes");
    await run(env, ["sweep"]);
    const again = await azure.control<{ writes: number; deletes: number }>("GET", "stats");
    console.log(`\n(${again.writes} writes, ${again.deletes} deletes sent to ARM)`);
    process.exitCode = first;
  } finally {
    await azure.close();
  }
}

function run(env: NodeJS.ProcessEnv, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: "inherit" });
    child.once("error", reject);
    child.once("exit", (code) => resolve(code ?? 1));
  });
}

await main();
