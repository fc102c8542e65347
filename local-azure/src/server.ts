import { parseArgs } from "node:util";
import { startLocalAzure } from "./emulator.js";
import { demoEstate } from "./estate.js";
import type { LroModel } from "./lro.js";

/**
 * Runs the emulator out of process (demo, benchmark):
 *   node dist/local-azure/src/server.js --port 0 --seed 1 [--page-size 100] [--polls 1]
 *        [--retry-after 0] [--lro-model polls|durations] [--graph-lag S] [--no-throttle] [--time-scale 1] [--token T]
 *        [--request-log-limit N] [--demo]
 * `--graph-lag S` makes Resource Graph learn of ARM's changes late, 95% within S ARM seconds (graphLag.ts).
 * `--demo` loads the demo tenant (the estate `npm run demo` remediates); otherwise the store starts empty.
 * Prints one JSON line `{ endpoint, token, caCertPath }`, then serves until SIGINT/SIGTERM.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "0" },
      seed: { type: "string" },
      "page-size": { type: "string" },
      polls: { type: "string" },
      "retry-after": { type: "string" },
      "lro-model": { type: "string" },
      "graph-lag": { type: "string" },
      "no-throttle": { type: "boolean", default: false },
      "time-scale": { type: "string" },
      token: { type: "string" },
      "request-log-limit": { type: "string" },
      demo: { type: "boolean", default: false },
    },
  });
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const azure = await startLocalAzure({
    port: num(values.port),
    token: values.token,
    pageSize: num(values["page-size"]),
    requestLogLimit: num(values["request-log-limit"]),
    lro: { model: lroModel(values["lro-model"]), polls: num(values.polls), retryAfterSeconds: num(values["retry-after"]) },
    resourceGraph: values["graph-lag"] === undefined ? undefined : { lag: { p95Seconds: Number(values["graph-lag"]) } },
    faults: values.seed === undefined ? undefined : { seed: Number(values.seed) },
    throttle: values["no-throttle"]
      ? { reads: false, writes: false, computeVmWrites: false, resourceGraph: false }
      : { timeScale: num(values["time-scale"]) ?? 1 },
    resources: values.demo ? demoEstate().resources : undefined,
  });
  console.log(JSON.stringify({ endpoint: azure.endpoint, token: azure.token, caCertPath: azure.caCertPath }));
  const stop = (): void => void azure.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

function lroModel(value: string | undefined): LroModel | undefined {
  if (value === undefined || value === "polls" || value === "durations") return value;
  throw new Error(`--lro-model must be polls or durations, not '${value}'`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
