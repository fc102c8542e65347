import type { TokenCredential } from "@azure/core-auth";
import { describe, expect, it } from "vitest";
import { SettingsError } from "../../src/errors.js";
import { connectionStringConnection, createTableClient, storageConnectionFromSettings } from "../../src/state/storageConnection.js";

const credential: TokenCredential = { getToken: async () => ({ token: "t", expiresOnTimestamp: Date.now() + 60_000 }) };

describe("storageConnectionFromSettings", () => {
  it("takes a connection string, expanding UseDevelopmentStorage=true to Azurite's defaults", () => {
    const connection = storageConnectionFromSettings({ AzureWebJobsStorage: "UseDevelopmentStorage=true" }, () => credential);
    expect(connection).toMatchObject({ kind: "connectionString", connectionString: expect.stringContaining("TableEndpoint=http://127.0.0.1:10002/devstoreaccount1") });
    expect(createTableClient(connection, "runs").url).toBe("http://127.0.0.1:10002/devstoreaccount1");
  });

  it("takes the identity-based form with a client id for a user-assigned identity", () => {
    let clientIdSeen: string | undefined = "unset";
    const connection = storageConnectionFromSettings(
      { AzureWebJobsStorage__accountName: "amaremediator", AzureWebJobsStorage__clientId: "abc" },
      (clientId) => {
        clientIdSeen = clientId;
        return credential;
      },
    );
    expect(connection).toEqual({
      kind: "identity",
      tableServiceUri: "https://amaremediator.table.core.windows.net",
      queueServiceUri: "https://amaremediator.queue.core.windows.net",
      credential,
    });
    expect(clientIdSeen).toBe("abc");
  });

  it("names the setting when it is missing or malformed, without echoing the secret", () => {
    expect(() => storageConnectionFromSettings({}, () => credential)).toThrow(SettingsError);
    expect(() => storageConnectionFromSettings({ AzureWebJobsStorage__accountName: "Bad_Name" }, () => credential)).toThrow(/__accountName/);
    try {
      connectionStringConnection("AccountName=x;Secret=hunter2");
      expect.unreachable();
    } catch (error) {
      expect((error as SettingsError).field).toBe("AzureWebJobsStorage");
      expect((error as Error).message).not.toContain("hunter2");
    }
  });
});
