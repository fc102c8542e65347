/**
 * Where Built-In-Identity-RG belongs. Defender for SQL's AMA initiatives (d7c3ea3a, de01d381) create this
 * group themselves, at their `builtInIdentityResourceGroupLocation` parameter (default eastus), and ARM
 * refuses a PUT that would give an existing group another location: had the service created the group
 * elsewhere, every later deployment of the initiative would fail and Defender's own remediation with it.
 * So the group and the initiative must agree on one location. Pure.
 */
import { BUILT_IN_IDENTITY_RESOURCE_GROUP_LOCATION, normaliseRegion } from "../defender/names.js";
import type { PolicyAssignmentState } from "../model.js";

/**
 * An existing group keeps its location (ARM never moves one), and an initiative the service assigns must
 * name it. Otherwise, where the initiative is already assigned (at the subscription or inherited), its
 * deployments create the group where that assignment says (its parameter, or the initiative's default),
 * so the service creates it there too. Otherwise the service assigns the initiative itself, naming this
 * same location: the region of the first machine the group serves.
 */
export function builtInIdentityGroupLocation(existingGroupLocation: string | undefined, assignment: Pick<PolicyAssignmentState, "builtInIdentityResourceGroupLocation"> | undefined, firstMachineRegion: string): string {
  if (existingGroupLocation) return normaliseRegion(existingGroupLocation);
  if (assignment) return normaliseRegion(assignment.builtInIdentityResourceGroupLocation ?? BUILT_IN_IDENTITY_RESOURCE_GROUP_LOCATION);
  return normaliseRegion(firstMachineRegion);
}
