/**
 * Deploys ama-remediator to a tenant with the Azure CLI:
 *
 *   npm run deploy -- --management-group <id> --location <region> --subscription <hosting subscription id>
 *                     [--resource-group <name>] [--name <function app name>] [--param <name>=<value>]...
 *                     [--what-if] [--dry-run]
 *
 * Steps: build and package the Function App, `az deployment mg create` of infra/main.json, zip deploy of
 * the package, then a policy remediation task so existing subscriptions get their Event Grid wiring.
 * `--what-if` only previews the template deployment. `--dry-run` prints the steps instead of running them.
 * `--param` sets any other parameter of infra/main.json (see infra/README.md); those without a default
 * (the alerts' e-mail address) are required. The missed-sweep alert's threshold follows from `sweepSchedule`.
 *
 * Uses only Node built-ins and one dependency-free module of its own, so Node 22 runs this file directly
 * (`node infra/deploy.ts`); run it from the repository root. Exit codes: 0 done, 1 a step failed, 2 invalid
 * arguments.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs as parseCommandLine, type ParseArgsConfig } from "node:util";
import type * as SweepSchedule from "./templates/sweepSchedule.js";

// Node runs this script from its source (and --what-if builds nothing first), so it loads the module from its .ts file.
const { missedSweepAlertMinutes } = (await import(new URL("./templates/sweepSchedule.ts", import.meta.url).href)) as typeof SweepSchedule;

export const TEMPLATE_FILE = "infra/main.json";
const PACKAGE_DIR = "dist/deploy-package";
const PACKAGE_ZIP = "dist/ama-remediator.zip";
/** What the Functions host needs at run time; package.json "main" points into dist/src/functions. */
const PACKAGE_CONTENTS = ["dist/src", "host.json", "package.json", "package-lock.json"];

export interface DeployOptions {
  managementGroup: string;
  location: string;
  subscription: string;
  resourceGroup: string;
  appName: string;
  /** Further infra/main.json parameters, as given (`name=value`). */
  parameters: Record<string, string>;
  whatIf: boolean;
  dryRun: boolean;
}

/** One deployment step: a command line, or a file operation this script performs itself. */
export type Step =
  | { kind: "run"; argv: string[]; cwd?: string }
  | { kind: "remove"; paths: string[] }
  | { kind: "copy"; paths: string[]; into: string };

/** Invalid arguments: reported as one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** What the script needs to know about infra/main.json. */
export interface TemplateFacts {
  parameters: Record<string, { type: string; allowedValues?: unknown[]; defaultValue?: unknown }>;
  policyAssignmentName: string;
}

export function readTemplateFacts(path: string = TEMPLATE_FILE): TemplateFacts {
  const template = JSON.parse(readFileSync(path, "utf8")) as {
    parameters: TemplateFacts["parameters"];
    variables: Record<string, unknown>;
  };
  const policyAssignmentName = template.variables.policyAssignmentName;
  if (typeof policyAssignmentName !== "string") throw new Error(`${path}: variables.policyAssignmentName is missing`);
  return { parameters: template.parameters, policyAssignmentName };
}

const USAGE =
  "usage: npm run deploy -- --management-group <id> --location <region> --subscription <id> " +
  "[--resource-group <name>] [--name <app>] [--param <name>=<value>]... [--what-if] [--dry-run]";

/** Parameters the flags set; `--param` must not set them a second way. */
const FLAG_PARAMETERS: Record<string, string> = {
  location: "--location",
  hostingSubscriptionId: "--subscription",
  resourceGroupName: "--resource-group",
  appName: "--name",
};

/** Parameters this script derives from others; `--param` must not set them. */
const DERIVED_PARAMETERS: Record<string, string> = { missedSweepAlertMinutes: "sweepSchedule" };

/** Template parameters whose values the template cannot check itself. */
const PARAMETER_PATTERNS: Record<string, { pattern: RegExp; what: string }> = {
  alertEmail: { pattern: /^[^@\s]+@[^@\s]+\.[^@\s]+$/, what: "an e-mail address" },
};

const PATTERNS = {
  managementGroup: /^[A-Za-z0-9._()-]{1,90}$/,
  location: /^[a-z][a-z0-9]{1,39}$/,
  subscription: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  resourceGroup: /^[-\w.()]{0,89}[-\w()]$/,
  appName: /^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$/,
};

/** Default app name: stable per management group and hosting subscription, and globally unlikely to clash. */
export function defaultAppName(managementGroup: string, subscription: string): string {
  const hash = createHash("sha256").update(`${managementGroup.toLowerCase()}/${subscription.toLowerCase()}`).digest("hex");
  return `amarem-${hash.slice(0, 10)}`;
}

function checkParameterValue(name: string, value: string, declaration: TemplateFacts["parameters"][string]): void {
  const type = declaration.type.toLowerCase();
  if (type === "bool" && value !== "true" && value !== "false") throw new UsageError(`--param ${name} must be true or false`);
  if (type === "int" && !/^-?\d+$/.test(value)) throw new UsageError(`--param ${name} must be an integer`);
  if (type === "object" && !isJsonObject(value)) throw new UsageError(`--param ${name} must be a JSON object`);
  if (declaration.allowedValues && !declaration.allowedValues.map(String).includes(value)) {
    throw new UsageError(`--param ${name} must be one of: ${declaration.allowedValues.join(", ")}`);
  }
  const format = PARAMETER_PATTERNS[name];
  if (format && !format.pattern.test(value)) throw new UsageError(`--param ${name} must be ${format.what}`);
}

function isJsonObject(value: string): boolean {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}

/** The flags, declared for node:util's parseArgs as the CLI declares its own. */
const OPTIONS = {
  "management-group": { type: "string" },
  location: { type: "string" },
  subscription: { type: "string" },
  "resource-group": { type: "string" },
  name: { type: "string" },
  param: { type: "string", multiple: true },
  "what-if": { type: "boolean" },
  "dry-run": { type: "boolean" },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

/** The flags as given; node's strict parse is the judge of what is valid. */
function readFlags(argv: readonly string[]) {
  try {
    return parseCommandLine({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    if (!(error instanceof Error && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))) throw error;
    throw new UsageError(argumentProblem(argv) ?? error.message);
  }
}

/**
 * Which argument a strict parse refused and why, in one short line: node's own message names the argument
 * only in prose (and suggests positionals, which this script takes none of), a lenient parse's tokens name it.
 */
function argumentProblem(argv: readonly string[]): string | undefined {
  const { tokens } = parseCommandLine({ args: [...argv], options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind !== "option") return `unknown argument '${token.kind === "positional" ? token.value : "--"}'`;
    const option = Object.hasOwn(OPTIONS, token.name) ? OPTIONS[token.name as keyof typeof OPTIONS] : undefined;
    if (!option) return `unknown argument '${token.rawName}'`;
    // A lenient parse takes the next argument as the value even when it is the next flag.
    const valueMissing = token.value === undefined || (!token.inlineValue && token.value.startsWith("-"));
    if (option.type === "string" && valueMissing) return `${token.rawName} needs a value`;
    if (option.type === "boolean" && token.value !== undefined) return `${token.rawName} takes no value`;
  }
  return undefined;
}

/** `<name>=<value>` for a parameter of infra/main.json the flags do not set, checked against its declaration. */
function templateParameter(pair: string, facts: TemplateFacts): [string, string] {
  const equals = pair.indexOf("=");
  if (equals <= 0) throw new UsageError(`--param expects <name>=<value>, got '${pair}'`);
  const name = pair.slice(0, equals);
  const value = pair.slice(equals + 1);
  const declaration = facts.parameters[name];
  if (FLAG_PARAMETERS[name]) throw new UsageError(`set ${name} with ${FLAG_PARAMETERS[name]}, not --param`);
  if (DERIVED_PARAMETERS[name]) throw new UsageError(`${name} follows from ${DERIVED_PARAMETERS[name]}; set that instead`);
  if (!declaration) throw new UsageError(`unknown parameter '${name}' (known: ${Object.keys(facts.parameters).filter((known) => !FLAG_PARAMETERS[known]).join(", ")})`);
  checkParameterValue(name, value, declaration);
  return [name, value];
}

export function parseArgs(argv: readonly string[], facts: TemplateFacts): DeployOptions {
  const flags = readFlags(argv);
  const parameters = Object.fromEntries((flags.param ?? []).map((pair) => templateParameter(pair, facts)));
  const { "management-group": managementGroup, location, subscription } = flags;
  if (!managementGroup) throw new UsageError("--management-group is required");
  if (!location) throw new UsageError("--location is required");
  if (!subscription) throw new UsageError("--subscription is required");
  if (!PATTERNS.managementGroup.test(managementGroup)) throw new UsageError(`--management-group '${managementGroup}' is not a management group id`);
  if (!PATTERNS.location.test(location)) throw new UsageError(`--location '${location}' is not a region name such as westeurope`);
  if (!PATTERNS.subscription.test(subscription)) throw new UsageError(`--subscription '${subscription}' is not a subscription id (GUID)`);
  const resourceGroup = flags["resource-group"] ?? "rg-ama-remediator";
  if (!PATTERNS.resourceGroup.test(resourceGroup)) throw new UsageError(`--resource-group '${resourceGroup}' is not a valid resource group name`);
  const appName = flags.name ?? defaultAppName(managementGroup, subscription);
  if (!PATTERNS.appName.test(appName)) throw new UsageError(`--name '${appName}' must be 2-32 lowercase letters, digits or hyphens`);
  const missing = Object.keys(facts.parameters).filter((name) => facts.parameters[name]!.defaultValue === undefined && !FLAG_PARAMETERS[name] && !(name in parameters));
  if (missing.length > 0) throw new UsageError(missing.map((name) => `--param ${name}=<value> is required`).join("; "));
  return { managementGroup, location, subscription, resourceGroup, appName, parameters: withDerived(parameters), whatIf: Boolean(flags["what-if"]), dryRun: Boolean(flags["dry-run"]) };
}

/**
 * The parameters with those that follow from them: a sweep schedule given brings the missed-sweep alert's
 * threshold (twice its longest gap); without one, the template's defaults already agree.
 */
function withDerived(parameters: Record<string, string>): Record<string, string> {
  const schedule = parameters.sweepSchedule;
  if (schedule === undefined) return parameters;
  try {
    return { ...parameters, missedSweepAlertMinutes: String(missedSweepAlertMinutes(schedule)) };
  } catch (error) {
    throw new UsageError(`--param sweepSchedule: ${(error as Error).message}`);
  }
}

/** The steps of a deployment, in order; pure, so tests and `--dry-run` see exactly what would run. */
export function planDeploy(options: DeployOptions, facts: TemplateFacts, now: Date): Step[] {
  const deployment = [
    "--management-group-id",
    options.managementGroup,
    "--location",
    options.location,
    "--name",
    `ama-remediator-${options.location}`,
    "--template-file",
    TEMPLATE_FILE,
    "--parameters",
    `location=${options.location}`,
    `hostingSubscriptionId=${options.subscription}`,
    `resourceGroupName=${options.resourceGroup}`,
    `appName=${options.appName}`,
    ...Object.entries(options.parameters).map(([name, value]) => `${name}=${value}`),
  ];
  if (options.whatIf) return [{ kind: "run", argv: ["az", "deployment", "mg", "what-if", ...deployment] }];

  const assignmentId = `/providers/Microsoft.Management/managementGroups/${options.managementGroup}/providers/Microsoft.Authorization/policyAssignments/${facts.policyAssignmentName}`;
  const stamp = now.toISOString().replace(/[-:TZ]/g, "").slice(0, 14);
  return [
    { kind: "run", argv: ["npm", "run", "build"] },
    { kind: "remove", paths: [PACKAGE_DIR, PACKAGE_ZIP] },
    { kind: "copy", paths: PACKAGE_CONTENTS, into: PACKAGE_DIR },
    { kind: "run", argv: ["npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], cwd: PACKAGE_DIR },
    { kind: "run", argv: ["zip", "-qr", "../ama-remediator.zip", "."], cwd: PACKAGE_DIR },
    { kind: "run", argv: ["az", "deployment", "mg", "create", ...deployment] },
    {
      kind: "run",
      argv: [
        "az", "functionapp", "deployment", "source", "config-zip",
        "--subscription", options.subscription,
        "--resource-group", options.resourceGroup,
        "--name", options.appName,
        "--src", PACKAGE_ZIP,
      ],
    },
    {
      kind: "run",
      argv: [
        "az", "policy", "remediation", "create",
        "--management-group", options.managementGroup,
        "--name", `ama-remediator-eventgrid-${stamp}`,
        "--policy-assignment", assignmentId,
        "--resource-discovery-mode", "ReEvaluateCompliance",
      ],
    },
  ];
}

/** POSIX shell quoting, so a printed step can be pasted into a shell. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function formatStep(step: Step): string {
  switch (step.kind) {
    case "run": {
      const command = step.argv.map(shellQuote).join(" ");
      return step.cwd ? `(cd ${shellQuote(step.cwd)} && ${command})` : command;
    }
    case "remove":
      return `rm -rf ${step.paths.map(shellQuote).join(" ")}`;
    case "copy":
      return `mkdir -p ${shellQuote(step.into)} && tar -cf - ${step.paths.map(shellQuote).join(" ")} | tar -xf - -C ${shellQuote(step.into)}`;
  }
}

/** Runs one step; returns false when it failed. */
function runStep(step: Step): boolean {
  switch (step.kind) {
    case "run": {
      const [command, ...args] = step.argv as [string, ...string[]];
      const result = spawnSync(command, args, { cwd: step.cwd, stdio: "inherit" });
      if (result.error) console.error(`deploy: ${command}: ${result.error.message}`);
      return result.status === 0;
    }
    case "remove":
      for (const path of step.paths) rmSync(path, { recursive: true, force: true });
      return true;
    case "copy":
      for (const path of step.paths) {
        const target = join(step.into, path);
        mkdirSync(dirname(target), { recursive: true });
        cpSync(path, target, { recursive: true });
      }
      return true;
  }
}

export function main(argv: readonly string[], now: Date = new Date()): number {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let options: DeployOptions;
  let facts: TemplateFacts;
  try {
    facts = readTemplateFacts();
    options = parseArgs(argv, facts);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`deploy: ${error.message}`);
    return 2;
  }
  const steps = planDeploy(options, facts, now);
  for (const step of steps) {
    console.log(options.dryRun ? formatStep(step) : `\n> ${formatStep(step)}`);
    if (!options.dryRun && !runStep(step)) {
      console.error(`deploy: step failed: ${formatStep(step)}`);
      return 1;
    }
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
