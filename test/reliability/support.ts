/**
 * Shared by the reliability suites: a logger whose every line the test keeps, the emulator's final
 * state in a form two runs can be compared by, and the emulator log read as "creates per resource".
 */
import { Writable } from "node:stream";
import { expect } from "vitest";
import type { HttpResponseInit } from "@azure/functions";
import { createLogger, type Logger } from "../../src/log.js";
import { idKey } from "../../src/azure/ids.js";
import type { LocalAzure } from "../../local-azure/src/emulator.js";
import type { RequestLogEntry } from "../../local-azure/src/requestLog.js";

export interface CapturedLogger {
  readonly logger: Logger;
  /** Every line written so far, as text. */
  lines(): string[];
  /** Parsed lines. */
  records(): Record<string, unknown>[];
}

/** A pino logger (the service's own, redaction included) writing into memory. */
export function captureLogger(level = "trace"): CapturedLogger {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  const lines = () => chunks.join("").split("\n").filter((line) => line.length > 0);
  return {
    logger: createLogger({ level, destination }),
    lines,
    records: () => lines().map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** A problem+json refusal with no stack trace in it. */
export function expectProblem(response: HttpResponseInit, status: number): Record<string, unknown> {
  const body = typeof response.body === "string" ? response.body : "";
  expect(response.status, body).toBe(status);
  const headers = (response.headers ?? {}) as Record<string, string>;
  expect(headers["content-type"]).toBe("application/problem+json");
  const problem = JSON.parse(body) as Record<string, unknown>;
  expect(problem).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  expectNoStack(body);
  return problem;
}

/** Neither a V8 stack frame nor an error class dump. */
export function expectNoStack(text: string): void {
  expect(text).not.toMatch(/\n\s+at |\bat [\w.<>]+ \(.*:\d+:\d+\)|at file:\/\/|node:internal/);
}

/** Writes (PUT/PATCH/DELETE, any answer) the emulator received. */
export function writeRequests(azure: LocalAzure): RequestLogEntry[] {
  return azure.requests.filter((entry) => entry.kind === "write" || entry.kind === "delete");
}

/**
 * Everything that makes an estate compliant, by id, as the emulator holds it: machine identities,
 * agent extensions by publisher/type, rule associations, workspaces, solutions, rules, identities,
 * role and policy assignments. Two runs that converged on the same world compare equal.
 */
export function finalState(azure: LocalAzure): Record<string, string> {
  const state: Record<string, string> = {};
  for (const resource of azure.list()) {
    const id = idKey(resource.id);
    const type = resource.type.toLowerCase();
    const properties = (resource.properties ?? {}) as Record<string, unknown>;
    if (type === "microsoft.compute/virtualmachines" || type === "microsoft.hybridcompute/machines") {
      state[`identity ${id}`] = String((resource.identity as Record<string, unknown> | undefined)?.["type"] ?? "None");
    } else if (type.endsWith("/extensions")) {
      const machine = id.slice(0, id.lastIndexOf("/extensions/"));
      state[`extension ${machine} ${String(properties["publisher"])}/${String(properties["type"])}`.toLowerCase()] = String(properties["provisioningState"]);
    } else if (type === "microsoft.insights/datacollectionruleassociations") {
      const machine = id.slice(0, id.indexOf("/providers/microsoft.insights/datacollectionruleassociations/"));
      state[`association ${machine} ${idKey(String(properties["dataCollectionRuleId"]))}`] = "present";
    } else if (
      [
        "microsoft.operationalinsights/workspaces",
        "microsoft.operationsmanagement/solutions",
        "microsoft.insights/datacollectionrules",
        "microsoft.managedidentity/userassignedidentities",
        "microsoft.authorization/policyassignments",
        "microsoft.resources/resourcegroups",
      ].includes(type)
    ) {
      state[`${type} ${id}`] = String(properties["provisioningState"] ?? "present");
    } else if (type === "microsoft.authorization/roleassignments") {
      state[`roleAssignment ${idKey(String(properties["scope"] ?? id.split("/providers/microsoft.authorization/")[0]))} ${idKey(String(properties["roleDefinitionId"]))}`] = "present";
    }
  }
  return state;
}

/**
 * Duplicate creates: the same agent (publisher/type) installed twice on one machine under different
 * names, or one machine associated twice with the same rule. ARM-idempotent retries (a PUT sent again
 * to the same id) leave one resource and are not duplicates.
 */
export function duplicateCreates(azure: LocalAzure): string[] {
  const seen = new Map<string, string[]>();
  const note = (key: string, id: string) => seen.set(key, [...(seen.get(key) ?? []), id]);
  for (const resource of azure.list()) {
    const id = idKey(resource.id);
    const type = resource.type.toLowerCase();
    const properties = (resource.properties ?? {}) as Record<string, unknown>;
    if (type.endsWith("/extensions")) note(`${id.slice(0, id.lastIndexOf("/extensions/"))} ${String(properties["publisher"])}/${String(properties["type"])}`.toLowerCase(), id);
    if (type === "microsoft.insights/datacollectionruleassociations") {
      note(`${id.slice(0, id.indexOf("/providers/microsoft.insights/"))} -> ${idKey(String(properties["dataCollectionRuleId"]))}`, id);
    }
  }
  return [...seen.entries()].filter(([, ids]) => ids.length > 1).map(([key, ids]) => `${key}: ${ids.join(", ")}`);
}

/** Successful creates (201) per resource id in the emulator log: more than one means delete + create again. */
export function createsPerResource(requests: readonly RequestLogEntry[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of requests) if (entry.method === "PUT" && entry.status === 201) counts.set(idKey(entry.path), (counts.get(idKey(entry.path)) ?? 0) + 1);
  return counts;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- TypeScript child processes -------------------------------------------------------------

/**
 * Node 22 runs the project's TypeScript directly with `--experimental-transform-types` (parameter
 * properties need the transform, not just stripping); this resolve hook maps the `.js` specifiers of
 * relative imports onto the `.ts` files beside them, so no build step is needed.
 */
const RESOLVE_HOOK = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (error?.code === "ERR_MODULE_NOT_FOUND" && /^\\.{1,2}\\//.test(specifier) && specifier.endsWith(".js")) return next(specifier.slice(0, -3) + ".ts", context);
    throw error;
  }
}`;

let registerPath: string | undefined;

/** Node arguments that run a .ts entry point of this repository. */
export async function tsNodeArgs(): Promise<string[]> {
  if (!registerPath) {
    const { mkdtemp, writeFile } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { pathToFileURL } = await import("node:url");
    const dir = await mkdtemp(join(tmpdir(), "ama-remediator-ts-"));
    const hook = join(dir, "hook.mjs");
    await writeFile(hook, RESOLVE_HOOK);
    registerPath = join(dir, "register.mjs");
    await writeFile(registerPath, `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hook).href)});\n`);
  }
  return ["--experimental-transform-types", "--disable-warning=ExperimentalWarning", "--import", registerPath];
}
