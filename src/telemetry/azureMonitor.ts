/**
 * Starts the Azure Monitor OpenTelemetry distro once per process, at Function App start-up, when
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set (the setting the Functions docs on OpenTelemetry name).
 * Without it the distro is not even loaded: the service's instruments record into OpenTelemetry's
 * no-op meter and logger and nothing is sent. The connection string never reaches a log line.
 *
 * Authentication: the component infra deploys refuses its instrumentation key (DisableLocalAuth), so the
 * exporter must present an Entra token of an identity holding Monitoring Metrics Publisher on it
 * (learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication, Node.js). The exporter takes that
 * only as `azureMonitorExporterOptions.credential`: it does not read APPLICATIONINSIGHTS_AUTHENTICATION_STRING
 * (in @azure/monitor-opentelemetry only live metrics, which are off, do). So with AZURE_CLIENT_ID set (infra
 * sets it to the app's user-assigned identity, which holds that role) the exporter gets that managed identity;
 * without it, the connection string's key, for components that still accept one.
 */
import { ManagedIdentityCredential } from "@azure/identity";
import type { AzureMonitorOpenTelemetryOptions } from "@azure/monitor-opentelemetry";
import { isGuid } from "../azure/ids.js";
import { appInsightsConnectionString, quoted } from "../config/settingSchemas.js";
import type { Environment } from "../config/settings.js";
import { describeError } from "../errors.js";
import type { Logger } from "../log.js";

const CONNECTION_STRING_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING";
/** The client id of the user-assigned managed identity the exporter authenticates as (DefaultAzureCredential reads it too). */
const CLIENT_ID_SETTING = "AZURE_CLIENT_ID";

export type TelemetryStart = "started" | "not configured" | "invalid setting" | "failed";

export type UseAzureMonitor = (options: AzureMonitorOpenTelemetryOptions) => void;

const loadAzureMonitor = async (): Promise<UseAzureMonitor> => (await import("@azure/monitor-opentelemetry")).useAzureMonitor;

/** A start function that runs once, however often it is called; `load` supplies the distro (tests pass their own). */
export function telemetryStarter(load: () => Promise<UseAzureMonitor> = loadAzureMonitor): (env: Environment, logger: Logger) => Promise<TelemetryStart> {
  let started: Promise<TelemetryStart> | undefined;
  return (env, logger) => (started ??= start(env, logger, load));
}

/** The process's one start. */
export const startTelemetry = telemetryStarter();

/**
 * What the distro is started with: the exporter, authenticated as the managed identity `managedIdentityClientId`
 * when given (no token is asked for until the first export), and the service's own metrics and log records only.
 */
export function azureMonitorOptions(connectionString: string, managedIdentityClientId?: string): AzureMonitorOpenTelemetryOptions {
  const off = { enabled: false };
  return {
    azureMonitorExporterOptions: {
      connectionString,
      ...(managedIdentityClientId ? { credential: new ManagedIdentityCredential({ clientId: managedIdentityClientId }) } : {}),
    },
    // The Functions host already records invocations and logs; a span per ARM or Storage call would multiply ingestion.
    instrumentationOptions: { azureSdk: off, http: off, mongoDb: off, mySql: off, postgreSql: off, redis: off, redis4: off, bunyan: off, winston: off, console: off },
    enableLiveMetrics: false,
  };
}

async function start(env: Environment, logger: Logger, load: () => Promise<UseAzureMonitor>): Promise<TelemetryStart> {
  const log = logger.child({ runId: null, resourceId: null });
  const connectionString = env[CONNECTION_STRING_SETTING]?.trim();
  if (!connectionString) {
    log.debug(`${CONNECTION_STRING_SETTING} is not set: metrics are not sent`);
    return "not configured";
  }
  const checked = appInsightsConnectionString.safeParse(connectionString);
  if (!checked.success) {
    log.error(`${CONNECTION_STRING_SETTING}: ${checked.error.issues[0]?.message ?? "invalid"}; metrics are not sent`);
    return "invalid setting";
  }
  const clientId = env[CLIENT_ID_SETTING]?.trim() || undefined;
  if (clientId !== undefined && !isGuid(clientId)) {
    log.error(`${CLIENT_ID_SETTING}: expected the client id (a GUID) of the app's user-assigned managed identity, got ${quoted(clientId)}; metrics are not sent`);
    return "invalid setting";
  }
  try {
    (await load())(azureMonitorOptions(connectionString, clientId));
  } catch (error) {
    log.error({ error: describeError(error).replaceAll(connectionString, "[redacted]") }, "Azure Monitor OpenTelemetry did not start; metrics are not sent");
    return "failed";
  }
  log.info({ authentication: clientId ? "managed identity" : "connection string" }, "Azure Monitor OpenTelemetry started: metrics and log records go to Application Insights");
  return "started";
}
