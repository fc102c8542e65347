/**
 * Where Built-In-Identity-RG belongs. Defender for SQL's AMA initiatives (d7c3ea3a, de01d381) create this
 * group themselves, at their `builtInIdentityResourceGroupLocation` parameter (default eastus), and ARM
 * refuses a PUT that would give an existing group another location: had the service created the group
 * elsewhere, every later deployment of the initiative would fail and Defender's own remediation with it.
 * So the group and the initiative must agree on one location. Pure.
 */
import { BUILT_IN_IDENTITY_RESOURCE_GROUP_LOCATION, normaliseRegion } from "../defender/names.js";

/**
 * `initiativeAssigned`: the initiative is already assigned (at the subscription or inherited): its
 * deployments will create the group where that assignment says, so the service creates it there too.
 * Discovery does not read assignments' parameters, so that is the initiative's default location.
 * Otherwise the service assigns the initiative itself, naming this same location: the region of the
 * first machine the group serves.
 */
export function builtInIdentityGroupLocation(initiativeAssigned: boolean, firstMachineRegion: string): string {
  return initiativeAssigned ? BUILT_IN_IDENTITY_RESOURCE_GROUP_LOCATION : normaliseRegion(firstMachineRegion);
}
