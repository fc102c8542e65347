/**
 * How the service reaches its Storage account, read the way the Functions host reads `AzureWebJobsStorage`:
 * either a connection string (Azurite's `UseDevelopmentStorage=true` included) or the identity-based
 * form `AzureWebJobsStorage__accountName` / `__tableServiceUri` / `__queueServiceUri` (+ `__clientId`
 * for a user-assigned identity) with a token credential the caller supplies.
 *
 * Settings are passed in; nothing here reads the environment.
 */
import type { TokenCredential } from "@azure/core-auth";
import { TableClient } from "@azure/data-tables";
import { QueueClient } from "@azure/storage-queue";
import { SettingsError } from "../errors.js";

export type StorageConnection =
  | { readonly kind: "connectionString"; readonly connectionString: string }
  | {
      readonly kind: "identity";
      readonly tableServiceUri: string;
      readonly queueServiceUri: string;
      readonly credential: TokenCredential;
    };

/** Azurite's default endpoints (what `UseDevelopmentStorage=true` means to the Functions host). */
const DEVELOPMENT_STORAGE =
  "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
  "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
  "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;" +
  "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1";

/**
 * Reads a Functions-style storage connection named `name` (default `AzureWebJobsStorage`) from settings.
 * `credentialFor` builds the token credential for the identity-based form (it receives `__clientId` when set).
 */
export function storageConnectionFromSettings(
  settings: Readonly<Record<string, string | undefined>>,
  credentialFor: (clientId: string | undefined) => TokenCredential,
  name = "AzureWebJobsStorage",
): StorageConnection {
  const connectionString = settings[name]?.trim();
  if (connectionString) return connectionStringConnection(connectionString, name);
  const accountName = settings[`${name}__accountName`]?.trim();
  const tableServiceUri = settings[`${name}__tableServiceUri`]?.trim();
  const queueServiceUri = settings[`${name}__queueServiceUri`]?.trim();
  if (!accountName && !(tableServiceUri && queueServiceUri)) {
    throw new SettingsError(
      `${name} is not set: give a connection string, or ${name}__accountName (or both ${name}__tableServiceUri and ${name}__queueServiceUri)`,
      name,
    );
  }
  if (accountName && !/^[a-z0-9]{3,24}$/.test(accountName)) {
    throw new SettingsError(`${name}__accountName must be 3-24 lowercase letters and digits`, `${name}__accountName`);
  }
  const clientId = settings[`${name}__clientId`]?.trim() || undefined;
  return {
    kind: "identity",
    tableServiceUri: serviceUri(tableServiceUri, `https://${accountName}.table.core.windows.net`, `${name}__tableServiceUri`),
    queueServiceUri: serviceUri(queueServiceUri, `https://${accountName}.queue.core.windows.net`, `${name}__queueServiceUri`),
    credential: credentialFor(clientId),
  };
}

/** A connection from a connection string; checks its shape without echoing secrets into errors. */
export function connectionStringConnection(connectionString: string, name = "AzureWebJobsStorage"): StorageConnection {
  const expanded = /^UseDevelopmentStorage=true;?$/i.test(connectionString.trim()) ? DEVELOPMENT_STORAGE : connectionString;
  const parts = connectionStringParts(expanded);
  const hasAccount = Boolean(parts.get("accountname") && parts.get("accountkey"));
  const hasSas = Boolean(parts.get("sharedaccesssignature"));
  if (!hasAccount && !hasSas) {
    throw new SettingsError(`${name} is not a storage connection string (AccountName+AccountKey or SharedAccessSignature missing)`, name);
  }
  if (!tableEndpointOf(parts) || (!parts.get("accountname") && !parts.get("queueendpoint"))) {
    throw new SettingsError(`${name} names no table/queue endpoint`, name);
  }
  return { kind: "connectionString", connectionString: expanded };
}

export function createTableClient(connection: StorageConnection, tableName: string): TableClient {
  if (connection.kind === "connectionString") {
    const endpoint = tableEndpointOf(connectionStringParts(connection.connectionString)) ?? "";
    // Azurite speaks plain http; the SDK refuses that unless told, and must never be told for Azure.
    return TableClient.fromConnectionString(connection.connectionString, tableName, {
      allowInsecureConnection: endpoint.startsWith("http:"),
    });
  }
  return new TableClient(connection.tableServiceUri, tableName, connection.credential, {
    allowInsecureConnection: connection.tableServiceUri.startsWith("http:"),
  });
}

export function createQueueClient(connection: StorageConnection, queueName: string): QueueClient {
  if (connection.kind === "connectionString") return new QueueClient(connection.connectionString, queueName);
  return new QueueClient(`${connection.queueServiceUri.replace(/\/+$/, "")}/${queueName}`, connection.credential);
}

function serviceUri(given: string | undefined, fallback: string, setting: string): string {
  const uri = given || fallback;
  try {
    const url = new URL(uri);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("scheme");
  } catch {
    throw new SettingsError(`${setting} is not an http(s) URL`, setting);
  }
  return uri.replace(/\/+$/, "");
}

function connectionStringParts(connectionString: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const part of connectionString.split(";")) {
    const at = part.indexOf("=");
    if (at > 0) parts.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return parts;
}

function tableEndpointOf(parts: Map<string, string>): string | undefined {
  const explicit = parts.get("tableendpoint");
  if (explicit) return explicit;
  const account = parts.get("accountname");
  if (!account) return undefined;
  const protocol = parts.get("defaultendpointsprotocol") ?? "https";
  return `${protocol}://${account}.table.${parts.get("endpointsuffix") ?? "core.windows.net"}`;
}
