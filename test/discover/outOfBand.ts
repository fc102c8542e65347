/**
 * Someone else changing Azure through ARM (a portal user, a pipeline), as the incremental sweep must notice:
 * real requests to the local Azure, so Resource Graph's change history records them. (`azure.load` and
 * `azure.remove` change the store without ARM, as if long before the history began.)
 */
import { ResourceManagementClient } from "@azure/arm-resources";
import { apiVersionFor } from "../../src/azure/apiVersions.js";
import { parseResourceId } from "../../src/azure/ids.js";
import type { LocalAzure } from "../../local-azure/src/emulator.js";
import type { ArmResource } from "../../local-azure/src/arm-resource.js";

export interface OutOfBand {
  /** PUT the resource (long-running ones waited for); returns its id. */
  put(resource: Pick<ArmResource, "id"> & Record<string, unknown>): Promise<string>;
  delete(id: string): Promise<void>;
}

export function outOfBand(azure: LocalAzure): OutOfBand {
  const arm = new ResourceManagementClient(azure.credential, { endpoint: azure.endpoint });
  const apiVersion = (id: string) => apiVersionFor(parseResourceId(id).resourceType);
  return {
    put: async ({ id, ...body }) => {
      await arm.resources.beginCreateOrUpdateByIdAndWait(id, apiVersion(id), body, { updateIntervalInMs: 1 });
      return id;
    },
    delete: async (id) => {
      await arm.resources.beginDeleteByIdAndWait(id, apiVersion(id), { updateIntervalInMs: 1 });
    },
  };
}

/** A new VM next to `templateId` (same group and region), as a user would create it: no identity, no agents. */
export function newVirtualMachineBody(azure: LocalAzure, templateId: string, name: string): Pick<ArmResource, "id"> & Record<string, unknown> {
  const template = azure.get(templateId);
  if (!template) throw new Error(`no template machine ${templateId}`);
  const { id: _id, name: _name, identity: _identity, properties, ...rest } = structuredClone(template);
  const { instanceView: _instanceView, vmId: _vmId, timeCreated: _timeCreated, provisioningState: _state, ...settable } = (properties ?? {}) as Record<string, unknown>;
  return { ...rest, id: `${templateId.slice(0, templateId.lastIndexOf("/"))}/${name}`, properties: settable };
}
