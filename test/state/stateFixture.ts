import { afterAll, beforeAll } from "vitest";
import { createStateStore, type StateStore } from "../../src/state/stateStore.js";
import { connectionStringConnection, type StorageConnection } from "../../src/state/storageConnection.js";
import { startAzurite, type AzuriteInstance } from "../../local-azure/src/azurite.js";

/** A settable clock for expiries and leases. */
export class TestClock {
  constructor(private epochMs = Date.parse("2026-11-24T09:00:00.000Z")) {}
  readonly now = (): Date => new Date(this.epochMs);
  advance(ms: number): void {
    this.epochMs += ms;
  }
}

/** One real Azurite per test file, and a fresh state store over it. */
export function useAzurite(): { readonly connection: () => StorageConnection; readonly store: (options?: { now?: () => Date; queueName?: string }) => Promise<StateStore> } {
  let azurite: AzuriteInstance | undefined;
  beforeAll(async () => {
    azurite = await startAzurite();
  }, 60_000);
  afterAll(async () => {
    await azurite?.close();
  });
  const connection = () => {
    if (!azurite) throw new Error("Azurite not started");
    return connectionStringConnection(azurite.connectionString);
  };
  return { connection, store: (options = {}) => createStateStore(connection(), options) };
}
