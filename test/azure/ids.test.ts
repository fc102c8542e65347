import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { idKey, machineKindOf, owningMachineId, parseResourceId, sameId } from "../../src/azure/ids.js";
import { InputError } from "../../src/errors.js";

const SUB = "8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f";
const VM = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1`;

const RESERVED = new Set(["providers", "resourcegroups", "subscriptions"]);
const segment = fc
  .string({ unit: fc.constantFrom(..."abcXYZ019 ._()-".split("")), minLength: 1, maxLength: 12 })
  .filter((value) => value !== "." && value !== ".." && !RESERVED.has(value.toLowerCase()));
const guid = fc.tuple(fc.uuid(), fc.boolean()).map(([value, upper]) => (upper ? value.toUpperCase() : value));
const namespace = fc.constantFrom("Microsoft.Compute", "Microsoft.HybridCompute", "Microsoft.Insights", "Contoso.Widgets");
const typedPairs = fc.array(fc.tuple(segment, segment), { minLength: 1, maxLength: 3 });

const generatedId = fc.record({
  subscriptionId: guid,
  resourceGroup: fc.option(segment, { nil: undefined }),
  namespace,
  pairs: typedPairs,
});

function render(id: { subscriptionId: string; resourceGroup?: string; namespace: string; pairs: [string, string][] }): string {
  const group = id.resourceGroup === undefined ? "" : `/resourceGroups/${id.resourceGroup}`;
  return `/subscriptions/${id.subscriptionId}${group}/providers/${id.namespace}/${id.pairs.map(([type, name]) => `${type}/${name}`).join("/")}`;
}

describe("parseResourceId", () => {
  it("reads a VM id", () => {
    expect(parseResourceId(`${VM}/`)).toEqual({
      id: VM,
      subscriptionId: SUB,
      resourceGroup: "rg",
      resourceType: "Microsoft.Compute/virtualMachines",
      name: "vm-1",
      names: ["vm-1"],
    });
  });

  it("round-trips generated valid ids", () => {
    fc.assert(
      fc.property(generatedId, (generated) => {
        const id = render(generated);
        const parsed = parseResourceId(id);
        expect(parsed.id).toBe(id);
        expect(parsed.subscriptionId).toBe(generated.subscriptionId.toLowerCase());
        expect(parsed.resourceGroup).toBe(generated.resourceGroup);
        expect(parsed.resourceType).toBe(`${generated.namespace}/${generated.pairs.map(([type]) => type).join("/")}`);
        expect(parsed.names).toEqual(generated.pairs.map(([, name]) => name));
        expect(parsed.name).toBe(generated.pairs.at(-1)?.[1]);
        expect(parsed.parentScope).toBeUndefined();
        expect(sameId(parseResourceId(id.toUpperCase()).id, id)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("round-trips extension resources and maps them to their machine", () => {
    fc.assert(
      fc.property(guid, segment, segment, segment, (subscriptionId, group, machine, association) => {
        const machineId = `/subscriptions/${subscriptionId}/resourceGroups/${group}/providers/Microsoft.HybridCompute/machines/${machine}`;
        const dcra = `${machineId}/providers/Microsoft.Insights/dataCollectionRuleAssociations/${association}`;
        const parsed = parseResourceId(dcra);
        expect(parsed.parentScope).toBe(machineId);
        expect(parsed.resourceType).toBe("Microsoft.Insights/dataCollectionRuleAssociations");
        expect(owningMachineId(parsed)).toBe(machineId);
        expect(owningMachineId(parseResourceId(`${machineId}/extensions/${association}`))).toBe(machineId);
        expect(machineKindOf(parseResourceId(machineId))).toBe("arcMachine");
      }),
      { numRuns: 300 },
    );
  });

  it("throws only InputError on arbitrary strings", () => {
    const arbitrary = fc.oneof(
      fc.string(),
      fc.string({ unit: "binary" }),
      fc.array(fc.oneof(segment, fc.constantFrom("", ".", "..", "providers", "subscriptions", "resourceGroups", SUB, "a/b", "%2F")), { maxLength: 10 }).map((parts) => `/${parts.join("/")}`),
      generatedId.map(render).chain((id) => fc.nat(id.length).map((cut) => id.slice(0, cut))),
    );
    fc.assert(
      fc.property(arbitrary, (input) => {
        try {
          const parsed = parseResourceId(input);
          expect(idKey(parsed.id)).toBe(idKey(input));
        } catch (error) {
          expect(error).toBeInstanceOf(InputError);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it.each([
    ["relative", "subscriptions/x"],
    ["dot-dot", `/subscriptions/${SUB}/resourceGroups/../providers/A/b/c`],
    ["non-GUID subscription", "/subscriptions/abc/resourceGroups/rg"],
    ["odd pairs", `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines`],
    ["too long", `/subscriptions/${SUB}/${"a/".repeat(1_100)}`],
  ])("refuses a %s id", (_name, input) => {
    expect(() => parseResourceId(input)).toThrow(InputError);
  });

  it("throws InputError (not TypeError) for non-strings at runtime", () => {
    for (const value of [undefined, null, 42, {}, []]) expect(() => parseResourceId(value as unknown as string)).toThrow(InputError);
  });

  it("finds no machine for a child of something that only looks like a machine (no resource group)", () => {
    // Found by the property suite: a machine type without a resource group, a foreign subscription as its "child".
    const id = "/subscriptions/8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f/providers/Microsoft.Compute/virtualMachines/a/subscriptions/99999999-9999-4999-8999-999999999999";
    expect(owningMachineId(parseResourceId(id))).toBeUndefined();
    expect(machineKindOf(parseResourceId("/subscriptions/8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f/providers/Microsoft.Compute/virtualMachines/a"))).toBeUndefined();
  });
});
