// `npm audit --omit=dev` as a CI gate (run directly by Node 22: `node scripts/audit.ts`): fails on any high or critical advisory for a production
// dependency. When the registry offers no audit endpoint (some mirrors answer 405), it says so on one
// line and does not fail: that is the registry's limitation, not a finding.
import { spawnSync } from "node:child_process";

const run = spawnSync("npm", ["audit", "--omit=dev", "--json"], { encoding: "utf8", shell: false });
let report: { statusCode?: number; message?: string; metadata?: { vulnerabilities?: Record<string, number> } };
try {
  report = JSON.parse(run.stdout);
} catch {
  console.error(`audit: npm audit printed no JSON (exit ${run.status})`);
  process.exit(1);
}
if (report.statusCode && !report.metadata) {
  console.log(`audit: skipped, the registry has no audit endpoint (${report.message ?? report.statusCode})`);
  process.exit(0);
}
const counts = report.metadata?.vulnerabilities ?? {};
const serious = (counts.high ?? 0) + (counts.critical ?? 0);
console.log(`audit: ${serious} high or critical advisories in production dependencies (${JSON.stringify(counts)})`);
process.exit(serious > 0 ? 1 : 0);
