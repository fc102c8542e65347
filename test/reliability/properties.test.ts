/**
 * Property tests for the untrusted-input parsers that test/events and test/azure do not cover: work
 * items (queue messages), settings (the environment) and the scope check every trigger goes through.
 * Each either accepts the input into something safe or refuses it with the service's own error type.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeWorkItem, encodeWorkItem, parseWorkItem } from "../../src/state/workQueue.js";
import { loadSettings } from "../../src/config/settings.js";
import { machinesInScope } from "../../src/engine.js";
import { machineKindOf, parseResourceId } from "../../src/azure/ids.js";
import { InputError, SettingsError } from "../../src/errors.js";

const IN = "8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f";
const OUT = "99999999-9999-4999-8999-999999999999";
const settings = loadSettings({ REMEDIATION_SUBSCRIPTIONS: IN });

const segment = fc.string({ unit: fc.constantFrom(..."abZ09 ._()-".split("")), minLength: 1, maxLength: 8 });
const machineType = fc.constantFrom("Microsoft.Compute/virtualMachines", "Microsoft.HybridCompute/machines", "Microsoft.SqlVirtualMachine/sqlVirtualMachines", "Microsoft.Storage/storageAccounts");
/** Ids built from pieces an attacker would try: other subscriptions, traversal, tenant roots, odd casing. */
const hostileId = fc
  .tuple(
    fc.constantFrom(IN, IN.toUpperCase(), OUT, "not-a-guid", ""),
    fc.option(segment, { nil: undefined }),
    machineType,
    segment,
    fc.array(fc.constantFrom("..", ".", "", "providers", "extensions", "x", `subscriptions/${OUT}`, "%2F"), { maxLength: 3 }),
    fc.constantFrom("/subscriptions/", "/Subscriptions/", "subscriptions/", "/tenants/", "//subscriptions/"),
  )
  .map(([subscription, group, type, name, tail, root]) => `${root}${subscription}${group === undefined ? "" : `/resourceGroups/${group}`}/providers/${type}/${name}${tail.map((part) => `/${part}`).join("")}`);

describe("parseWorkItem", () => {
  const field = fc.constantFrom("kind", "workItemId", "runId", "subscriptionId", "dryRun", "mode", "since", "resourceIds", "extra");
  const value = fc.oneof(fc.jsonValue(), fc.constantFrom("subscription", "machine", "full", "new-since", "events", IN, `/subscriptions/${IN}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm`, "2026-01-01T00:00:00Z"));

  it("throws only InputError on arbitrary objects, and what it accepts survives the queue unchanged", () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.dictionary(field, value, { maxKeys: 8 })), (input) => {
        let item;
        try {
          item = parseWorkItem(input);
        } catch (error) {
          expect(error).toBeInstanceOf(InputError);
          return;
        }
        expect(decodeWorkItem(encodeWorkItem(item))).toEqual(item);
        if (item.kind === "machine") for (const id of item.resourceIds) expect(machineKindOf(parseResourceId(id))).toBeDefined();
      }),
      { numRuns: 1_000 },
    );
  });

  it("decodeWorkItem throws only InputError on arbitrary message text", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.base64String(), fc.json().map((text) => Buffer.from(text).toString("base64"))), (text) => {
        try {
          decodeWorkItem(text);
        } catch (error) {
          expect(error).toBeInstanceOf(InputError);
        }
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("loadSettings", () => {
  const names = ["ARM_ENDPOINT", "REMEDIATION_SUBSCRIPTIONS", "REMEDIATION_PROFILES", "LOG_ANALYTICS_WORKSPACE_ID", "DATA_COLLECTION_RULE_ID", "OPT_OUT_TAG", "REMOVE_LEGACY_MMA", "SCOPE_TO_SUPPORTED_IMAGES", "SQL_MODE", "DRY_RUN", "SWEEP_SCHEDULE", "FULL_RECONCILE_HOURS", "EVENT_BATCH_SECONDS", "ARM_POLL_INTERVAL_MS", "ARM_OPERATION_CHECK_AFTER_MS", "ARM_OPERATION_TIMEOUT_MS", "ARM_CONFLICT_RETRY_DELAY_MS"];

  it("throws only SettingsError naming one of the settings, and accepts only https endpoints", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...names), fc.oneof(fc.string(), fc.constantFrom("true", "0", "ama", "https://x", "http://x", IN, "* * * * * *")), { maxKeys: 4 }), (env) => {
        try {
          const loaded = loadSettings(env);
          expect(loaded.armEndpoint).toMatch(/^https:\/\//);
          for (const id of loaded.subscriptions) expect(id).toMatch(/^[0-9a-f-]{36}$/);
        } catch (error) {
          expect(error).toBeInstanceOf(SettingsError);
          expect(names).toContain((error as SettingsError).field);
          expect((error as Error).message).not.toMatch(/\n/);
        }
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("machinesInScope", () => {
  it("returns only machine ids inside the configured subscriptions, or refuses with InputError", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(hostileId, fc.string()), { minLength: 1, maxLength: 4 }), (ids) => {
        let machines: string[];
        try {
          machines = machinesInScope(ids, settings);
        } catch (error) {
          expect(error).toBeInstanceOf(InputError);
          return;
        }
        for (const id of machines) {
          const parsed = parseResourceId(id);
          expect(parsed.subscriptionId).toBe(IN);
          expect(machineKindOf(parsed)).toBeDefined();
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
