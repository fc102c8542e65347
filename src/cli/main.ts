/**
 * `ama-remediator sweep|event`: the CLI shell around the engine. Returns the exit code — 0 nothing
 * failed, 1 a resource failed, 2 bad usage or input (one line, no stack) — and never exits itself:
 * bin.ts ends the process once stdout and stderr have drained.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { loadSettings, parseSubscriptions, type Settings } from "../config/settings.js";
import { createGateway } from "../azure/gateway.js";
import { InputError } from "../errors.js";
import { createLogger } from "../log.js";
import { reconcile, type ReconcileRequest } from "../engine.js";
import { parseEvents } from "../events/parse.js";
import { formatTable } from "../report/formatTable.js";
import { EMPTY_SUMMARY, type Report } from "../report/buildReport.js";
import { NO_POLICY_DENIALS } from "../report/policyDenials.js";
import type { Plan } from "../plan/plan.js";

const USAGE = `usage: ama-remediator sweep [--subscription <id>]... [--dry-run] [--json]
       ama-remediator event [--subscription <id>]... [--dry-run] [--json] [--file <path>]`;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    if (command !== "sweep" && command !== "event") throw new InputError(command ? `unknown command "${command}"` : "a command is required (sweep or event)");
    const { values } = parseArgs({
      args: [...rest],
      options: {
        subscription: { type: "string", multiple: true },
        "dry-run": { type: "boolean" },
        json: { type: "boolean" },
        ...(command === "event" ? { file: { type: "string" } } : {}),
      },
      strict: true,
      allowPositionals: false,
    });
    const settings = loadSettings(env);
    const subscriptions = parseSubscriptions((values.subscription ?? []).join(","), "--subscription");
    const request = command === "sweep" ? { subscriptions } : await eventRequest(settings, subscriptions, values.file as string | undefined);
    if (!request) {
      writeReport(undefined, Boolean(values.json));
      return 0;
    }
    const logger = createLogger({ level: settings.logLevel ?? "warn" });
    const onProgress = process.stderr.isTTY ? (message: string) => process.stderr.write(`… ${message}\n`) : undefined;
    const outcome = await reconcile(
      { ...request, ...(values["dry-run"] ? { dryRun: true } : {}) },
      { settings, gateway: createGateway(settings), logger, ...(onProgress ? { onProgress } : {}) },
    );
    writeReport(outcome.report, Boolean(values.json), outcome.report.dryRun ? outcome.plan : undefined);
    return outcome.report.summary.failed > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof InputError || isArgsError(error)) {
      process.stderr.write(`ama-remediator: ${oneLine((error as Error).message)}\n`);
      return 2;
    }
    process.stderr.write(`ama-remediator: ${oneLine(error instanceof Error ? error.message : String(error))}\n`);
    return 1;
  }
}

/** Events name machines; those outside the scope or of types the service does not handle do nothing. */
async function eventRequest(settings: Settings, subscriptions: readonly string[], file: string | undefined): Promise<ReconcileRequest | undefined> {
  const body = file ? await readFile(file, "utf8").catch(() => Promise.reject(new InputError(`cannot read ${file}`))) : await readStdin();
  const parsed = await parseEvents(body);
  if (parsed.rejected.length > 0) throw new InputError(`event ${parsed.rejected[0]?.index ?? 0}: ${parsed.rejected[0]?.reason ?? "invalid"}`);
  const scope = new Set(subscriptions.length > 0 ? subscriptions : settings.subscriptions);
  const resourceIds = parsed.accepted.filter((event) => scope.size === 0 || scope.has(event.subscriptionId.toLowerCase())).map((event) => event.resourceId);
  return resourceIds.length > 0 ? { resourceIds } : undefined;
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
