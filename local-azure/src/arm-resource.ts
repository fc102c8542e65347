/**
 * A resource as Azure Resource Manager puts it on the wire (the body of a GET), shared by the estate
 * generator and the emulator. Declared with `type` aliases, not interfaces, so a value also fits a
 * loose `{ [key: string]: unknown }` shape (interfaces get no implicit index signature).
 */

/** `{ principalId, clientId }` of one user-assigned identity attached to a resource. */
export type ArmUserAssignedIdentity = {
  principalId: string;
  clientId: string;
};

/**
 * A managed identity block. `type` is free text on the wire: "SystemAssigned", "UserAssigned",
 * "SystemAssigned, UserAssigned" or "None" as Compute writes it; other providers drop the space.
 */
export type ArmIdentity = {
  type: string;
  principalId?: string;
  tenantId?: string;
  userAssignedIdentities?: Record<string, ArmUserAssignedIdentity>;
};

export type ArmSku = {
  name: string;
  tier?: string;
  capacity?: number;
  family?: string;
  size?: string;
};

/** Marketplace plan; Log Analytics solutions carry `{ name, publisher, product, promotionCode }`. */
export type ArmPlan = {
  name: string;
  publisher: string;
  product: string;
  promotionCode?: string;
  version?: string;
};

export type ArmSystemData = {
  createdBy?: string;
  createdByType?: string;
  createdAt?: string;
  lastModifiedBy?: string;
  lastModifiedByType?: string;
  lastModifiedAt?: string;
};

export type ArmResource = {
  id: string;
  name: string;
  type: string;
  location?: string;
  tags?: Record<string, string>;
  identity?: ArmIdentity;
  properties?: Record<string, unknown>;
  sku?: ArmSku;
  plan?: ArmPlan;
  kind?: string;
  etag?: string;
  systemData?: ArmSystemData;
};
