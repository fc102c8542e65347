import { describe, expect, it } from "vitest";
import { heldBackByReinstallLimit, heldBackReport, plannedReinstalls } from "../../src/events/reinstallLimit.js";
import type { Plan } from "../../src/plan/plan.js";

const VM = "/subscriptions/8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1";
const ARC = "/subscriptions/8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/arc-1";

describe("the reinstall limit", () => {
  it("holds back a machine named for a failed extension once today's reinstalls reach the limit", () => {
    const attempts = new Map([[VM.toLowerCase(), 3], [ARC.toLowerCase(), 2]]);
    expect(heldBackByReinstallLimit([{ resourceId: VM, cause: "extensionFailed" }, { resourceId: ARC, cause: "extensionFailed" }], attempts, 3)).toEqual(new Map([[VM.toLowerCase(), 3]]));
    expect(heldBackByReinstallLimit([{ resourceId: ARC, cause: "extensionFailed" }], new Map(), 0)).toEqual(new Map([[ARC.toLowerCase(), 0]]));
  });

  it("never holds back a machine named for another cause: that drift is new", () => {
    expect(heldBackByReinstallLimit([{ resourceId: VM, cause: "machineCreated" }, { resourceId: ARC }], new Map([[VM.toLowerCase(), 9], [ARC.toLowerCase(), 9]]), 3)).toEqual(new Map());
  });

  it("reports a held-back machine as skipped, naming the setting", () => {
    expect(heldBackReport(ARC, 3, 3)).toEqual({
      id: ARC,
      kind: "arcMachine",
      subscriptionId: "8f1c2b5e-3d4a-4c7b-9e21-5a6b7c8d9e0f",
      status: "skipped",
      actions: [],
      notes: [expect.stringMatching(/3 time\(s\) today \(EXTENSION_REINSTALL_ATTEMPTS_PER_DAY=3\)/)],
    });
    expect(heldBackReport(VM, 1, 1).kind).toBe("virtualMachine");
  });

  it("counts a planned reinstall of a Failed extension, not a first install or an upgrade switch", () => {
    const assessment = (id: string, why: "missing" | "failed" | "autoUpgradeOff") => ({ machine: { id }, status: "inScope", needs: [{ kind: "extension", why, extension: {} }], blocked: [], notes: [] });
    const plan = { assessments: [assessment(VM, "failed"), assessment(ARC, "missing"), assessment(`${VM}-2`, "autoUpgradeOff")] } as unknown as Plan;
    expect(plannedReinstalls(plan)).toEqual([VM]);
  });
});
