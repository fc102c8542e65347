import { afterAll, beforeAll, expect, it } from "vitest";
import { startLocalAzure, type LocalAzure } from "../local-azure/emulator.js";
import { demoEstate } from "../local-azure/estate.js";
import { loadSettings } from "../../src/config/settings.js";
import { createGateway } from "../../src/azure/gateway.js";
import { reconcile } from "../../src/engine.js";
import { createLogger } from "../../src/log.js";

let azure: LocalAzure;
beforeAll(async () => {
  azure = await startLocalAzure();
});
afterAll(() => azure.close());

it("smoke", async () => {
  const estate = demoEstate();
  azure.load(estate.resources);
  const settings = loadSettings({ ARM_ENDPOINT: azure.endpoint, ARM_TOKEN: azure.token, REMEDIATION_SUBSCRIPTIONS: estate.subscriptions.map((s) => s.subscriptionId).join(","), ARM_POLL_INTERVAL_MS: "10" });
  const deps = { settings, gateway: createGateway(settings), logger: createLogger({ level: "warn" }) };
  const first = await reconcile({}, deps);
  console.log(JSON.stringify(first.report.summary), azure.requestCounts());
  for (const r of first.report.resources) if (r.status !== "remediated" && r.status !== "compliant") console.log(r.status, r.id.split("/").slice(-1)[0], JSON.stringify(r.notes), JSON.stringify(r.actions.filter(a=>a.outcome!=="succeeded")));
  azure.resetRequests();
  const second = await reconcile({}, deps);
  console.log(JSON.stringify(second.report.summary), azure.requestCounts());
  for (const r of second.report.resources) if (r.actions.length) console.log("2nd", r.status, r.id, JSON.stringify(r.actions.map(a=>a.action+":"+a.reason)));
  expect(first.report.summary.failed).toBe(0);
}, 120_000);
