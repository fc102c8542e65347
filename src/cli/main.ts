/**
 * `ama-remediator sweep|event|plan|apply`: the CLI shell around the engine. Returns the exit code — 0
 * nothing failed, 1 a resource failed (or was refused as stale), 2 bad usage or input (one line, no
 * stack) — and never exits itself: bin.ts ends the process once stdout and stderr have drained.
 */
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { loadSettings, parseSubscriptions, type Settings } from "../config/settings.js";
import { createGateway } from "../azure/gateway.js";
import { InputError, SettingsError } from "../errors.js";
import { createLogger } from "../log.js";
import { reconcile, resolveSubscriptions, type ReconcileOutcome, type ReconcileRequest } from "../engine.js";
import { parseEvents } from "../events/parse.js";
import { eventContextOf } from "../events/targets.js";
import { formatTable } from "../report/formatTable.js";
import { EMPTY_SUMMARY, type Report } from "../report/buildReport.js";
import { NO_POLICY_DENIALS } from "../report/policyDenials.js";
import type { Plan } from "../plan/plan.js";
import { savedPlan } from "../plan/savedPlan.js";
import { parseSavedPlan } from "../schemas.js";
import { renderReportPage } from "../report/reportPage.js";

const USAGE = `usage: ama-remediator sweep [--subscription <id>]... [--dry-run] [--json] [--html <file>]
       ama-remediator event [--subscription <id>]... [--dry-run] [--json] [--file <path>]
       ama-remediator plan [--subscription <id>]... --out <plan.json> [--json] [--html <file>]
       ama-remediator apply <plan.json> [--json] [--html <file>]`;

const COMMANDS = ["sweep", "event", "plan", "apply"] as const;
type Command = (typeof COMMANDS)[number];

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    if (!isCommand(command)) throw new InputError(command ? `unknown command "${command}"` : `a command is required (${COMMANDS.join(", ")})`);
    const { values, positionals } = parseArgs({
      args: [...rest],
      options: {
        json: { type: "boolean" },
        html: { type: "string" },
        ...(command === "apply" ? {} : { subscription: { type: "string", multiple: true } }),
        ...(command === "sweep" || command === "event" ? { "dry-run": { type: "boolean" } } : {}),
        ...(command === "event" ? { file: { type: "string" } } : {}),
        ...(command === "plan" ? { out: { type: "string" } } : {}),
      },
      strict: true,
      allowPositionals: command === "apply",
    });
    const settings = loadSettings(env);
    const subscriptions = parseSubscriptions(((values.subscription as string[] | undefined) ?? []).join(","), "--subscription");
    const output = { json: Boolean(values.json), html: values.html as string | undefined };
    const request = await requestFor(command, settings, subscriptions, { ...values, positionals });
    if (!request) {
      await writeOutputs(undefined, output);
      return 0;
    }
    const logger = createLogger({ level: settings.logLevel ?? "warn" });
    const onProgress = process.stderr.isTTY ? (message: string) => process.stderr.write(`… ${message}\n`) : undefined;
    const outcome = await reconcile(request, { settings, gateway: createGateway(settings), logger, ...(onProgress ? { onProgress } : {}) });
    if (command === "plan") await savePlan(outcome, request, settings, values.out as string);
    await writeOutputs(outcome, output);
    return outcome.report.summary.failed > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof InputError || isArgsError(error)) {
      const field = error instanceof InputError && error.field && !(error instanceof SettingsError) ? `${error.field}: ` : "";
      process.stderr.write(`ama-remediator: ${field}${oneLine((error as Error).message)}\n`);
      return 2;
    }
    process.stderr.write(`ama-remediator: ${oneLine(error instanceof Error ? error.message : String(error))}\n`);
    return 1;
  }
}

function isCommand(value: string | undefined): value is Command {
  return (COMMANDS as readonly (string | undefined)[]).includes(value);
}

/** What the command reconciles; undefined when there is nothing to do (no event names a machine in scope). */
async function requestFor(command: Command, settings: Settings, subscriptions: readonly string[], values: { readonly [option: string]: unknown; readonly positionals: readonly string[] }): Promise<ReconcileRequest | undefined> {
  const dryRun = values["dry-run"] ? { dryRun: true } : {};
  switch (command) {
    case "sweep":
      return { subscriptions, ...dryRun };
    case "event": {
      const request = await eventRequest(settings, subscriptions, values["file"] as string | undefined);
      return request && { ...request, ...dryRun };
    }
    case "plan":
      if (typeof values["out"] !== "string" || values["out"] === "") throw new InputError("plan needs --out <file>: where the plan is saved for review and apply");
      // The saved plan names the subscriptions it covered, so apply discovers exactly them again.
      return { subscriptions: await resolveSubscriptions(subscriptions, settings, createGateway(settings)), dryRun: true };
    case "apply": {
      const [file, ...extra] = values.positionals;
      if (!file || extra.length > 0) throw new InputError("apply takes one plan file: ama-remediator apply <plan.json>");
      const saved = parseSavedPlan(await readFile(file, "utf8").catch(() => Promise.reject(new InputError(`cannot read ${file}`))));
      return { savedPlan: saved, dryRun: false, ...(saved.scope.resourceIds.length > 0 ? { resourceIds: saved.scope.resourceIds } : { subscriptions: saved.scope.subscriptions }) };
    }
  }
}

async function savePlan(outcome: ReconcileOutcome, request: ReconcileRequest, settings: Settings, file: string): Promise<void> {
  const document = savedPlan(outcome.runId, outcome.plan, { subscriptions: request.subscriptions ?? [], resourceIds: request.resourceIds ?? [] }, settings);
  await writeFile(file, `${JSON.stringify(document, null, 2)}\n`).catch((error: unknown) => Promise.reject(new InputError(`cannot write ${file}: ${(error as Error).message}`)));
  process.stderr.write(`plan ${document.planId} saved to ${file}: ${outcome.plan.items.length} write(s); review it, then run: ama-remediator apply ${file}\n`);
}

/**
 * Events name machines, or what a sweep must cover (a resource group, a subscription, or every
 * subscription for a shared resource they all use); those outside the scope or of types the service
 * does not handle do nothing.
 */
async function eventRequest(settings: Settings, subscriptions: readonly string[], file: string | undefined): Promise<ReconcileRequest | undefined> {
  const body = file ? await readFile(file, "utf8").catch(() => Promise.reject(new InputError(`cannot read ${file}`))) : await readStdin();
  const parsed = await parseEvents(body, eventContextOf(settings));
  if (parsed.rejected.length > 0) throw new InputError(`event ${parsed.rejected[0]?.index ?? 0}: ${parsed.rejected[0]?.reason ?? "invalid"}`);
  const scope = new Set(subscriptions.length > 0 ? subscriptions : settings.subscriptions);
  // A configured workspace or rule serves every subscription, wherever it lives itself.
  const events = parsed.accepted.filter((event) => event.scope === "everySubscription" || scope.size === 0 || scope.has(event.subscriptionId.toLowerCase()));
  if (events.length === 0) return undefined;
  if (events.some((event) => event.scope === "everySubscription")) return { subscriptions };
  // A sweep of their subscriptions covers the machines the other events named, too.
  if (events.some((event) => event.scope !== "machine")) return { subscriptions: [...new Set(events.map((event) => event.subscriptionId.toLowerCase()))] };
  return { resourceIds: events.map((event) => event.resourceId) };
}

/** The report on stdout (a table, or `--json`), and as a page when `--html` names a file. */
async function writeOutputs(outcome: ReconcileOutcome | undefined, output: { readonly json: boolean; readonly html?: string | undefined }): Promise<void> {
  const plan = outcome?.report.dryRun ? outcome.plan : undefined;
  writeReport(outcome?.report, output.json, plan);
  if (output.html && outcome) {
    const page = renderReportPage({ report: outcome.report, plan: outcome.plan });
    await writeFile(output.html, page).catch((error: unknown) => Promise.reject(new InputError(`cannot write ${output.html}: ${(error as Error).message}`)));
  }
}

/** `--json`: one document; a dry run also carries the plan itself (every write with its body). */
function writeReport(report: Report | undefined, json: boolean, plan?: Plan): void {
  const summary = report?.summary ?? EMPTY_SUMMARY;
  if (json) {
    const document = {
      summary: { ...summary, deniedByPolicy: report?.deniedByPolicy ?? NO_POLICY_DENIALS },
      resources: report?.resources ?? [],
      subscriptions: report?.subscriptions ?? [],
      runId: report?.runId ?? null,
      dryRun: report?.dryRun ?? false,
      ...(plan ? { plan: { version: plan.version, createdAt: plan.createdAt, items: plan.items } } : {}),
    };
    process.stdout.write(`${JSON.stringify(document)}\n`);
    return;
  }
  process.stdout.write(report ? `${formatTable(report)}\n` : "nothing to do: no event names a machine in scope\n");
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new InputError("no --file given and nothing on standard input");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function isArgsError(error: unknown): boolean {
  return error instanceof Error && "code" in error && String((error as { code: unknown }).code).startsWith("ERR_PARSE_ARGS");
}

function oneLine(message: string): string {
  return message.replace(/\s+/g, " ").trim();
}
