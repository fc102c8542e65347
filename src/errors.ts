/**
 * The service's error vocabulary, in one place.
 * - InputError / SettingsError: the caller's fault, terminal, never retried, no stack trace shown.
 * - ScopeError: a request for something outside the configured scope or opted out; terminal.
 * - ArmError: what Azure Resource Manager answered, with its code, status and correlation id.
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

export class ArmError extends Error {
  override readonly name = "ArmError";
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode?: number,
    readonly correlationId?: string,
  ) {
    super(message);
  }
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
 * into an ArmError carrying ARM's code and message.
 */
export function toArmError(thrown: unknown): ArmError {
  if (thrown instanceof ArmError) return thrown;
  const error = toError(thrown) as Error & {
    code?: string;
    statusCode?: number;
    details?: { error?: { code?: string; message?: string } };
    response?: { headers?: { get?(name: string): string | undefined } };
    body?: { code?: string; message?: string };
  };
  const detail = error.details?.error ?? error.body;
  const code = detail?.code ?? error.code ?? (error.statusCode ? `Http${error.statusCode}` : "Unknown");
  const message = detail?.message ?? error.message;
  const correlationId = error.response?.headers?.get?.("x-ms-correlation-request-id");
  return new ArmError(code, message, error.statusCode, correlationId);
}
