/**
 * The api-version the service writes each resource type with: the installed SDK's own version
 * where a typed client exists, otherwise the newest stable version that carries the fields we send
 * (Arc extensions need 2022-11-10+ for enableAutomaticUpgrade; solutions have only one version).
 */
const API_VERSIONS: Readonly<Record<string, string>> = {
  "microsoft.resources/resourcegroups": "2025-04-01",
  "microsoft.compute/virtualmachines": "2026-04-01",
  "microsoft.compute/virtualmachines/extensions": "2026-04-01",
  "microsoft.hybridcompute/machines": "2024-07-10",
  "microsoft.hybridcompute/machines/extensions": "2024-07-10",
  "microsoft.sqlvirtualmachine/sqlvirtualmachines": "2023-10-01",
  "microsoft.operationalinsights/workspaces": "2025-07-01",
  "microsoft.operationsmanagement/solutions": "2015-11-01-preview",
  "microsoft.insights/datacollectionrules": "2024-03-11",
  "microsoft.insights/datacollectionruleassociations": "2024-03-11",
  "microsoft.managedidentity/userassignedidentities": "2024-11-30",
  "microsoft.authorization/policyassignments": "2025-03-01",
  "microsoft.authorization/roleassignments": "2022-04-01",
  // Read only (the legacy MMA switch); the version the installed @azure/arm-security uses.
  "microsoft.security/autoprovisioningsettings": "2017-08-01-preview",
};

export function apiVersionFor(resourceType: string): string {
  const version = API_VERSIONS[resourceType.toLowerCase()];
  if (!version) throw new Error(`no api-version known for resource type ${resourceType}`);
  return version;
}
