/**
 * Imported for its effect by the Function App's entry files (src/functions/*), which the worker loads at
 * start-up: starts telemetry there, once (azureMonitor.ts), before any function runs.
 */
import { loadSettings } from "../config/settings.js";
import { createLogger, type Logger } from "../log.js";
import { startTelemetry } from "./azureMonitor.js";

/** The settings' log level when they load; a bad setting is reported by the first invocation, not here. */
function startupLogger(): Logger {
  try {
    return createLogger({ level: loadSettings(process.env).logLevel ?? "info" });
  } catch {
    return createLogger({ level: "info" });
  }
}

await startTelemetry(process.env, startupLogger());
