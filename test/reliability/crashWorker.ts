/**
 * A Function App host in a process of its own, for the crash tests to SIGKILL: builds the service
 * from the environment exactly as the Functions registrations do, optionally fires the timer sweep,
 * then delivers the work queue to the queue handler until it stays empty, and exits 0.
 *   node <tsNodeArgs> test/reliability/crashWorker.ts [--sweep]
 */
import { createService } from "../../src/service/service.js";
import { startSweep } from "../../src/service/sweep.js";
import { createLogger } from "../../src/log.js";
import { drainWorkQueue } from "../../scripts/functionsHost.js";

const service = await createService(process.env, { logger: createLogger({ level: "silent" }) });
// --sweep: the timer fires; far enough ahead of the last checkpoint that the sweep is a full one.
if (process.argv.includes("--sweep")) await startSweep(service, new Date(Date.now() + 365 * 24 * 3600_000));
await drainWorkQueue(service, { visibilityTimeoutInSeconds: 2, pauseInMs: 100, idleRounds: 4 });
process.exit(0);
