/** The one scope and opt-out decision that evaluate, plan and the write guard all ask. */
import { describe, expect, it } from "vitest";
import { writeRefusal } from "../../src/evaluate/writeScope.js";
import { OTHER_SUB, SUB, snapshot, subscription, vm } from "../support/snapshotBuilder.js";

const machine = vm("vm-1");
const tagged = vm("vm-2", { tags: { "AMA-Remediation": "Skip" } });
const group = (name: string) => `/subscriptions/${SUB}/resourceGroups/${name}`;

describe("may the service write here?", () => {
  const refusal = writeRefusal(snapshot([machine, tagged], { subscriptions: [subscription({ optedOutResourceGroups: ["rg-frozen"] })] }), "ama-remediation");

  it.each<[string, string, string | undefined]>([
    ["a discovered machine", machine.id, undefined],
    ["its agent", `${machine.id}/extensions/AzureMonitorWindowsAgent`, undefined],
    ["its association", `${machine.id}/providers/Microsoft.Insights/dataCollectionRuleAssociations/ama-remediator`, undefined],
    ["a shared resource group", group("DefaultResourceGroup-EUS"), undefined],
    ["a machine tagged skip (any case)", tagged.id, "machine tagged ama-remediation: skip"],
    ["the agent of a machine tagged skip", `${tagged.id}/extensions/x`, "machine tagged ama-remediation: skip"],
    ["a resource group tagged skip", `${group("rg-frozen")}/providers/Microsoft.OperationalInsights/workspaces/w`, "resource group tagged ama-remediation: skip"],
    ["a machine the run did not discover", vm("vm-9").id, "its machine was not discovered in this run"],
    ["another subscription", `/subscriptions/${OTHER_SUB}/resourceGroups/rg`, `subscription ${OTHER_SUB} is outside the configured scope`],
    ["something that is not an ARM id", "not-an-id", "not an Azure resource id"],
  ])("%s", (_name, id, expected) => {
    expect(refusal(id)).toBe(expected);
  });

  it("refuses everything in a subscription tagged skip", () => {
    const optedOut = writeRefusal(snapshot([machine], { subscriptions: [subscription({ tags: { "ama-remediation": "skip" } })] }), "ama-remediation");
    expect([machine.id, group("DefaultResourceGroup-EUS")].map(optedOut)).toEqual(["subscription tagged ama-remediation: skip", "subscription tagged ama-remediation: skip"]);
  });

  it("refuses a group a targeted run did not read the tags of", () => {
    const targeted = writeRefusal(snapshot([machine], { subscriptions: [subscription({ resourceGroupsRead: new Set(["rg-workload"]) })] }), "ama-remediation");
    expect(targeted(group("rg-elsewhere"))).toBe("this run did not read the tags of resource group rg-elsewhere");
    expect(targeted(machine.id)).toBeUndefined();
  });
});
