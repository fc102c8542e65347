/**
 * Structured logs: one JSON line per event, with the run id and the resource id on every line.
 * Tokens never reach a log line: the credential stays inside the SDK pipeline, and the redaction
 * paths below catch anything that carries an Authorization header or a token by name.
 */
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service: "ama-remediator" },
      redact: { paths: ["*.authorization", "*.Authorization", "*.headers.authorization", "token", "*.token", "armToken", "*.armToken"], censor: "[redacted]" },
    },
    options.destination ?? pino.destination(2),
  );
}
