/**
 * The first-seen memory: what a report teaches it (pure), and the table against Azurite: rows only for
 * machines out of line, written and deleted in batches per subscription.
 */
import { describe, expect, it } from "vitest";
import type { TableClient } from "@azure/data-tables";
import { idKey } from "../../src/azure/ids.js";
import type { ReportResource, ResourceStatus } from "../../src/report/buildReport.js";
import type { DriftSeen } from "../../src/report/timing.js";
import { firstSeenChanges } from "../../src/state/firstSeen.js";
import { rowKeyFor } from "../../src/state/keys.js";
import { TABLES } from "../../src/state/stateStore.js";
import { createTableClient } from "../../src/state/storageConnection.js";
import { useAzurite } from "./stateFixture.js";

const SUB_A = "aaaaaaaa-1111-4111-8111-111111111111";
const SUB_B = "bbbbbbbb-2222-4222-8222-222222222222";
const machineId = (subscriptionId: string, name: string) => `/subscriptions/${subscriptionId}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/${name}`;
const SEEN_AT = "2026-11-24T09:00:00.000Z";

/** A machine as a report has it: acted on (with timing) unless compliant or skipped. */
function machine(id: string, status: ResourceStatus, cause: DriftSeen["cause"] = "sweep"): ReportResource {
  const actedOn = status !== "compliant" && status !== "skipped";
  return {
    id,
    kind: "virtualMachine",
    subscriptionId: id.split("/")[2] as string,
    status,
    actions: [],
    notes: [],
    ...(actedOn ? { timing: { cause, driftBeganAt: SEEN_AT, startedAt: SEEN_AT } } : {}),
  };
}

describe("firstSeenChanges", () => {
  const earlier: DriftSeen = { cause: "sweep", since: "2026-11-20T00:00:00.000Z" };

  it("remembers a machine acted on and not verified, with its timing's cause and start; the first sighting wins", () => {
    const failed = machineId(SUB_A, "vm-failed");
    const planned = machineId(SUB_A, "vm-planned");
    const known = machineId(SUB_A, "vm-known");
    const changes = firstSeenChanges(new Map([[idKey(known), earlier]]), [machine(failed, "failed", "machineCreated"), machine(planned, "planned"), machine(known, "failed")], new Set());
    expect(changes).toEqual({
      remember: [
        { machineId: failed, seen: { cause: "machineCreated", since: SEEN_AT } },
        { machineId: planned, seen: { cause: "sweep", since: SEEN_AT } },
      ],
      forget: [],
    });
  });

  it("forgets a remembered machine back in line; a machine in line with nothing remembered costs nothing", () => {
    const fixed = machineId(SUB_A, "vm-fixed");
    const fixedElsewhere = machineId(SUB_A, "vm-fixed-by-someone");
    const remembered = new Map([[idKey(fixed), earlier], [idKey(fixedElsewhere), earlier]]);
    const resources = [machine(fixed, "remediated"), machine(fixedElsewhere, "compliant"), ...Array.from({ length: 50 }, (_, index) => machine(machineId(SUB_A, `vm-${index}`), "compliant"))];
    expect(firstSeenChanges(remembered, resources, new Set())).toEqual({ remember: [], forget: [idKey(fixed), idKey(fixedElsewhere)] });
  });

  it("a machine swept whole away (deleted, out of scope) is forgotten only where every machine was read", () => {
    const gone = machineId(SUB_A, "vm-deleted");
    const elsewhere = machineId(SUB_B, "vm-not-read");
    const remembered = new Map([[idKey(gone), earlier], [idKey(elsewhere), earlier]]);
    expect(firstSeenChanges(remembered, [], new Set([SUB_A])).forget).toEqual([idKey(gone)]);
    expect(firstSeenChanges(remembered, [], new Set()).forget).toEqual([]);
  });

  it("skipped machines and shared resources leave the memory as it is", () => {
    const stopped = machineId(SUB_A, "vm-stopped");
    const shared: ReportResource = { id: `/subscriptions/${SUB_A}/resourceGroups/DefaultResourceGroup-EUS`, kind: "shared", subscriptionId: SUB_A, status: "failed", actions: [], notes: [] };
    expect(firstSeenChanges(new Map([[idKey(stopped), earlier]]), [machine(stopped, "skipped"), shared], new Set())).toEqual({ remember: [], forget: [] });
  });
});

describe("FirstSeenTable", () => {
  const azurite = useAzurite();
  const table = (): TableClient => createTableClient(azurite.connection(), TABLES.firstSeen);

  it("remembers machines out of line per subscription (more than one transaction's worth), recalls them by id, forgets them once fixed", async () => {
    const { firstSeen } = await azurite.store();
    const many = Array.from({ length: 150 }, (_, index) => machineId(SUB_A, `vm-${String(index).padStart(3, "0")}`));
    const other = machineId(SUB_B, "VM-Mixed-Case");
    await firstSeen.update(new Map(), [...many.map((id) => machine(id, "failed")), machine(other, "planned", "machineStarted")], []);

    const remembered = await firstSeen.recall([SUB_A, SUB_B.toUpperCase()]);
    expect(remembered.size).toBe(151);
    expect(remembered.get(idKey(other))).toEqual({ cause: "machineStarted", since: SEEN_AT });
    expect(remembered.get(idKey(many[149] as string))).toEqual({ cause: "sweep", since: SEEN_AT });
    expect((await firstSeen.recall([SUB_B])).size).toBe(1);

    await firstSeen.update(remembered, [...many.map((id) => machine(id, "remediated")), machine(other, "compliant")], []);
    expect((await firstSeen.recall([SUB_A, SUB_B])).size).toBe(0);
  });

  it("a row an overlapping run already forgot does not fail the others' clean-up", async () => {
    const { firstSeen } = await azurite.store();
    const ids = ["vm-a", "vm-b", "vm-c"].map((name) => machineId(SUB_B, name));
    await firstSeen.update(new Map(), ids.map((id) => machine(id, "failed")), []);
    const remembered = await firstSeen.recall([SUB_B]);
    await table().deleteEntity(SUB_B, rowKeyFor(idKey(ids[1] as string)));

    await firstSeen.update(remembered, ids.map((id) => machine(id, "compliant")), []);
    expect((await firstSeen.recall([SUB_B])).size).toBe(0);
  });
});
