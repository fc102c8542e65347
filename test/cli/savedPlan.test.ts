/**
 * The change-review workflow: `plan --out` saves what would change, nothing is written; `apply` later
 * writes exactly what the plan lists, refuses what went stale since (a target that moved), never writes
 * what the plan does not list, and refuses a plan that is too old, made for other settings, or not a plan.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import type { SavedPlan } from "../../src/plan/savedPlan.js";
import { parseSavedPlan } from "../../src/schemas.js";
import { demoEstate, machineWith } from "../../local-azure/src/estate.js";
import { hasAmaSucceeded, startEngineHarness, subscriptionNamed, type EngineHarness } from "../support/engineHarness.js";
import { captureOutput } from "../support/captureOutput.js";

let h: EngineHarness;
let dir: string;
const estate = demoEstate();
const production = subscriptionNamed(estate, "Contoso Production");

beforeAll(async () => {
  h = await startEngineHarness();
  dir = await mkdtemp(join(tmpdir(), "ama-remediator-plan-"));
});
afterAll(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => h.load(estate));

const cli = (argv: readonly string[], env: Record<string, string> = {}) => captureOutput(() => main(argv, h.env(env)));

interface JsonReport {
  summary: Record<string, number>;
  resources: { id: string; status: string; actions: { action: string; targetId: string; outcome: string; error?: { code: string; message: string } }[] }[];
  subscriptions: { subscriptionId: string; notes: string[] }[];
}

async function planTo(file: string, env: Record<string, string> = {}): Promise<SavedPlan> {
  const result = await cli(["plan", "--subscription", production.subscriptionId, "--out", file], env);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).toContain(`ama-remediator apply ${file}`);
  return parseSavedPlan(await readFile(file, "utf8"));
}

describe("plan --out", () => {
  it("saves every write with its body, what it observed and why, and writes nothing", async () => {
    const saved = await planTo(join(dir, "plan.json"));
    expect(h.writes()).toEqual([]);
    expect(saved.plan.items.length).toBeGreaterThan(0);
    for (const item of saved.plan.items) {
      expect(item.subscriptionId).toBe(production.subscriptionId);
      expect(item.reason).not.toBe("");
      expect(item).toHaveProperty("observed");
    }
    expect(saved.scope.subscriptions).toEqual([production.subscriptionId]);
  });

  it("--html writes the plan as one self-contained page, with each write's body", async () => {
    const page = join(dir, "plan.html");
    await planTo(join(dir, "with-page.json"));
    const result = await cli(["plan", "--subscription", production.subscriptionId, "--out", join(dir, "with-page.json"), "--html", page]);
    expect(result.code).toBe(0);
    const html = await readFile(page, "utf8");
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain("updateMachineIdentity");
    expect(html).not.toMatch(/<script|<link|src=/i);
  });

  it("refuses to run without --out", async () => {
    const result = await cli(["plan", "--subscription", production.subscriptionId]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--out/);
  });
});

describe("apply <plan>", () => {
  it("writes exactly what the plan lists, and a second apply of it finds every item done (stale), writing nothing", async () => {
    const file = join(dir, "exact.json");
    const saved = await planTo(file);
    const result = await cli(["apply", file, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const written = new Set(h.writes().map((write) => decodeURIComponent(write.split(" ")[1] ?? "").toLowerCase()));
    const listed = new Set(saved.plan.items.map((item) => item.targetId.toLowerCase()));
    expect([...written].filter((id) => !listed.has(id))).toEqual([]);
    expect(written.size).toBeGreaterThan(0);
    const fixed = estate.machines.find((machine) => machine.state === "no-identity" && machine.subscriptionId === production.subscriptionId);
    expect(fixed, "the demo estate has a machine without identity in Contoso Production").toBeDefined();
    expect(hasAmaSucceeded(h.azure, String(fixed?.id))).toBe(true);

    h.azure.resetRequests();
    const again = await cli(["apply", file, "--json"]);
    expect(again.code).toBe(1);
    expect(h.writes()).toEqual([]);
    const report = JSON.parse(again.stdout) as JsonReport;
    const actions = report.resources.flatMap((resource) => resource.actions);
    // Every item is refused as stale, or skipped because an item it depends on was.
    expect(new Set(actions.map((action) => action.error?.code))).toEqual(new Set(["StalePlan", "DependencyFailed"]));
    expect(actions.filter((action) => action.error?.code === "StalePlan").length).toBeGreaterThan(actions.length / 2);
  });

  it("refuses an item whose target moved between plan and apply, applies the rest, and makes no write the plan lacks", async () => {
    const file = join(dir, "moved.json");
    const saved = await planTo(file);
    const patch = saved.plan.items.find((item) => item.action === "updateMachineIdentity");
    expect(patch, "the demo estate has a machine without a system identity").toBeDefined();
    const machine = h.azure.get(patch?.targetId as string);
    // Someone attaches a user-assigned identity to the machine after the review.
    const attached = `/subscriptions/${production.subscriptionId}/resourceGroups/rg-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-late`;
    h.azure.load([{ ...(machine as NonNullable<typeof machine>), identity: { type: "UserAssigned", userAssignedIdentities: { [attached]: { principalId: "p", clientId: "c" } } } }]);
    // And a new machine appears that the plan never listed.
    const template = h.azure.get(machineWith(estate, "converged").id);
    const newcomerId = `${patch?.targetId.split("/providers/")[0]}/providers/Microsoft.Compute/virtualMachines/vm-after-review`;
    h.azure.load([{ ...(template as NonNullable<typeof template>), id: newcomerId, name: "vm-after-review", identity: { type: "None" } }]);

    const result = await cli(["apply", file, "--json"]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as JsonReport;
    const refused = report.resources.flatMap((resource) => resource.actions).filter((action) => action.error?.code === "StalePlan");
    expect(refused.map((action) => action.targetId)).toContain(patch?.targetId);
    expect(refused.find((action) => action.targetId === patch?.targetId)?.error?.message).toMatch(/observed changed/);
    // Its identity was not touched: the late identity is still there.
    expect(h.azure.get(patch?.targetId as string)?.identity?.userAssignedIdentities).toHaveProperty([attached]);
    expect(h.writes().map((write) => write.toLowerCase())).not.toContain(`patch ${String(patch?.targetId).toLowerCase()}`);
    // Never written: the newcomer, which the plan does not list; the report says so.
    expect(h.writes().some((write) => write.includes("vm-after-review"))).toBe(false);
    expect(report.subscriptions.flatMap((subscription) => subscription.notes).join("\n")).toMatch(/not in plan .*make a new plan/);
    // The rest of the plan went ahead.
    expect(report.resources.flatMap((resource) => resource.actions).some((action) => action.outcome === "succeeded")).toBe(true);
  });

  it("refuses an item someone edited to another write (a DELETE in place of a PUT, another target), and sends nothing of it", async () => {
    const file = join(dir, "tampered.json");
    const saved = await planTo(file);
    const victim = h.azure.get(machineWith(estate, "converged").id);
    const items = saved.plan.items.map((item) => (item.action === "installExtension" ? { ...item, method: "DELETE" as const, targetId: String(victim?.id) } : item));
    await writeFile(file, JSON.stringify({ ...saved, plan: { ...saved.plan, items } }));
    const result = await cli(["apply", file, "--json"]);
    const report = JSON.parse(result.stdout) as JsonReport;
    const tampered = report.resources.flatMap((resource) => resource.actions).filter((action) => action.action === "installExtension");
    expect(tampered.length).toBeGreaterThan(0);
    for (const action of tampered) expect(action.error?.code).toBe("StalePlan");
    expect(h.writes().filter((write) => write.startsWith("DELETE"))).toEqual([]);
    expect(h.azure.get(String(victim?.id))).toBeDefined();
  });

  it("refuses a plan older than PLAN_MAX_AGE_HOURS, or made for other settings, whole and writing nothing", async () => {
    const file = join(dir, "old.json");
    const saved = await planTo(file);
    await writeFile(file, JSON.stringify({ ...saved, createdAt: new Date(Date.now() - 5 * 3_600_000).toISOString() }));
    const old = await cli(["apply", file], { PLAN_MAX_AGE_HOURS: "4" });
    expect(old.code).toBe(2);
    expect(old.stderr).toMatch(/made 5\.0 h ago, more than PLAN_MAX_AGE_HOURS \(4 h\)/);

    await writeFile(file, JSON.stringify(saved));
    const other = await cli(["apply", file], { OPT_OUT_TAG: "keep-out" });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/made for other settings \(OPT_OUT_TAG differ\)/);
    expect(h.writes()).toEqual([]);
  });

  it("refuses a file that is not a plan, or a plan someone edited into nonsense, with one line naming the problem", async () => {
    const file = join(dir, "bad.json");
    await writeFile(file, "{ not json");
    expect((await cli(["apply", file])).stderr).toMatch(/^ama-remediator: the plan file is not JSON/);
    await writeFile(file, JSON.stringify({ format: "terraform" }));
    expect((await cli(["apply", file])).stderr).toMatch(/not an ama-remediator plan/);
    const saved = await planTo(join(dir, "edited.json"));
    const edited = { ...saved, plan: { ...saved.plan, items: [{ ...saved.plan.items[0], action: "deleteEverything" }] } };
    await writeFile(file, JSON.stringify(edited));
    const result = await cli(["apply", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/plan\.items\[0\]\.action/);
    expect((await cli(["apply"])).stderr).toMatch(/apply takes one plan file/);
    expect((await cli(["apply", join(dir, "missing.json")])).stderr).toMatch(/cannot read/);
    expect(h.writes()).toEqual([]);
  });
});
