/**
 * The service's error vocabulary, in one place.
 * - InputError / SettingsError: the caller's fault, terminal, never retried, no stack trace shown.
 * - ScopeError: a request for something outside the configured scope or opted out; terminal.
 * - ArmError: what Azure Resource Manager answered, with its code, status and correlation id, and
 *   for a write a deny policy refused (403 RequestDisallowedByPolicy) the policies that refused it.
 */

export class InputError extends Error {
  override readonly name: string = "InputError";
  constructor(
    message: string,
    /** The field, setting or argument at fault, when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

export class SettingsError extends InputError {
  override readonly name = "SettingsError";
}

export class ScopeError extends InputError {
  override readonly name = "ScopeError";
}

/** ARM's code for a write an Azure Policy assignment with a deny effect refused (403). */
export const REQUEST_DISALLOWED_BY_POLICY = "RequestDisallowedByPolicy";

/**
 * One policy that denied a write, from an `error.additionalInfo[]` entry of `type: "PolicyViolation"`
 * (Microsoft Learn's RequestDisallowedByPolicy examples show its `info` fields).
 */
export interface PolicyViolation {
  readonly policyAssignmentId: string;
  readonly policyAssignmentName: string;
  readonly policyAssignmentDisplayName?: string;
  readonly policyDefinitionId?: string;
  readonly policyDefinitionDisplayName?: string;
}

/** `'<display name or name>' (<assignment id>)`: what an operator needs to find the assignment. */
export function describePolicyViolation(violation: PolicyViolation): string {
  return `'${violation.policyAssignmentDisplayName ?? violation.policyAssignmentName}' (${violation.policyAssignmentId})`;
}

/** What else ARM (and the pipeline) said about a refused request, as typed fields. */
export interface ArmErrorDetails {
  readonly statusCode?: number;
  readonly correlationId?: string;
  /** The codes of ARM's `error.details[]`, where some services (Resource Graph) put the specific one. */
  readonly detailCodes?: readonly string[];
  /** The deny policies that refused the request, read from ARM's `additionalInfo`, never from the message. */
  readonly policyViolations?: readonly PolicyViolation[];
  /** A write's requests (retries and polls included) and how many ARM turned away, when the pipeline counted them. */
  readonly attempts?: { readonly requests: number; readonly retried: number };
  /** ARM's Retry-After on the refusal, so the work item waits as long as ARM asked. */
  readonly retryAfterInMs?: number;
}

export class ArmError extends Error {
  override readonly name = "ArmError";
  readonly statusCode?: number;
  readonly correlationId?: string;
  readonly detailCodes: readonly string[];
  readonly policyViolations: readonly PolicyViolation[];
  readonly attempts?: { readonly requests: number; readonly retried: number };
  readonly retryAfterInMs?: number;

  constructor(
    readonly code: string,
    message: string,
    details: ArmErrorDetails = {},
  ) {
    super(message);
    if (details.statusCode !== undefined) this.statusCode = details.statusCode;
    if (details.correlationId !== undefined) this.correlationId = details.correlationId;
    this.detailCodes = details.detailCodes ?? [];
    this.policyViolations = details.policyViolations ?? [];
    if (details.attempts) this.attempts = details.attempts;
    if (details.retryAfterInMs !== undefined) this.retryAfterInMs = details.retryAfterInMs;
  }

  /** The same error with more known about it (a write adds its status, correlation id and attempt counts). */
  with(more: ArmErrorDetails): ArmError {
    const { statusCode, correlationId, detailCodes, policyViolations, attempts, retryAfterInMs } = this;
    return new ArmError(this.code, this.message, { statusCode, correlationId, detailCodes, policyViolations, attempts, retryAfterInMs, ...more });
  }

  /** Whether ARM answered with this code, at the top or among the details. */
  is(code: string): boolean {
    return this.code === code || this.detailCodes.includes(code);
  }
}

/** One line for logs, poison reasons and health: ARM's code and correlation id make it actionable. */
export function describeError(error: unknown): string {
  if (error instanceof ArmError) return `${error.code}: ${error.message}${error.correlationId ? ` (correlation id ${error.correlationId})` : ""}`;
  return toError(error).message;
}

/** Turns anything thrown into an Error (libraries throw strings and plain objects too). */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === "string") return new Error(thrown);
  try {
    return new Error(JSON.stringify(thrown));
  } catch {
    return new Error(String(thrown));
  }
}

/**
 * Normalises an SDK error (core-rest-pipeline RestError, ms-rest-js RestError, core-lro failures)
 * into an ArmError carrying ARM's code and message. `responseBody`: the failed response's parsed body,
 * for errors that do not carry it (the modular clients' long-running operations).
 */
export function toArmError(thrown: unknown, responseBody?: unknown): ArmError {
  if (thrown instanceof ArmError) return thrown;
  const error = toError(thrown) as Error & {
    code?: string;
    statusCode?: number;
    details?: { error?: ArmErrorBody };
    response?: { headers?: { get?(name: string): string | undefined }; bodyAsText?: string | null; parsedBody?: unknown };
    body?: ArmErrorBody;
  };
  const detail: ArmErrorBody | undefined = error.details?.error ?? error.body ?? errorBodyOf(error.response) ?? errorBodyOf({ parsedBody: responseBody }) ?? failedOperation(error.message);
  const code = detail?.code ?? error.code ?? (error.statusCode ? `Http${error.statusCode}` : "Unknown");
  const message = detail?.message ?? error.message;
  const correlationId = error.response?.headers?.get?.("x-ms-correlation-request-id");
  const retryAfterInMs = retryAfterInMsOf(error.response?.headers?.get?.("retry-after"));
  const detailCodes = (error.details?.error?.details ?? []).flatMap((entry) => (typeof entry?.code === "string" ? [entry.code] : []));
  return new ArmError(code, message, { statusCode: error.statusCode, correlationId, retryAfterInMs, detailCodes, policyViolations: policyViolationsOf(detail?.additionalInfo) });
}

/** Retry-After in seconds (ARM's form), as milliseconds; undefined when absent or unusable. */
export function retryAfterInMsOf(header: string | undefined): number | undefined {
  const seconds = Number(header);
  return header !== undefined && header.trim() !== "" && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

/** ARM's `error` object, as far as the service reads it. */
interface ArmErrorBody {
  code?: string;
  message?: string;
  details?: { code?: unknown }[];
  additionalInfo?: unknown;
}

/** `additionalInfo[]` entries of type PolicyViolation; entries without an assignment id say nothing usable. */
function policyViolationsOf(additionalInfo: unknown): PolicyViolation[] {
  if (!Array.isArray(additionalInfo)) return [];
  return additionalInfo.flatMap((entry: { type?: unknown; info?: Record<string, unknown> } | null) => {
    const info = entry?.type === "PolicyViolation" ? entry.info : undefined;
    const text = (field: string): string | undefined => (typeof info?.[field] === "string" ? (info[field] as string) : undefined);
    const policyAssignmentId = text("policyAssignmentId");
    if (!policyAssignmentId) return [];
    const optional = (field: keyof PolicyViolation) => (text(field) ? { [field]: text(field) } : {});
    return [
      {
        policyAssignmentId,
        policyAssignmentName: text("policyAssignmentName") ?? (policyAssignmentId.split("/").pop() as string),
        ...optional("policyAssignmentDisplayName"),
        ...optional("policyDefinitionId"),
        ...optional("policyDefinitionDisplayName"),
      },
    ];
  });
}

/**
 * core-lro reports a long-running operation that ended Failed as a plain Error:
 * "The long-running operation has failed. <code>. <message>" (without the suffix when ARM gave no error).
 */
function failedOperation(message: string): { code: string; message: string } | undefined {
  const match = /^The long-running operation has failed(?:\. ([^\s.]+)\. ([\s\S]*))?$/.exec(message);
  if (!match) return undefined;
  return { code: match[1] ?? "LongRunningOperationFailed", message: match[2] ?? "the long-running operation has failed without an error from Azure" };
}

/** ARM's `{ "error": { code, message } }` from a raw response, when the SDK did not parse it for us. */
function errorBodyOf(response: { bodyAsText?: string | null; parsedBody?: unknown } | undefined): ArmErrorBody | undefined {
  let body = response?.parsedBody;
  if (body === undefined && response?.bodyAsText) {
    try {
      body = JSON.parse(response.bodyAsText);
    } catch {
      return undefined;
    }
  }
  const error = (body as { error?: { code?: unknown; message?: unknown; additionalInfo?: unknown } } | undefined)?.error;
  return typeof error?.code === "string" ? { code: error.code, ...(typeof error.message === "string" ? { message: error.message } : {}), additionalInfo: error.additionalInfo } : undefined;
}
