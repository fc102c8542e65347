/**
 * Resource write events shaped like the sample of docs/azure-domain.md §8.2 (Event Grid schema) and its
 * CloudEvents 1.0 twin (§8.3), for any resource id.
 */
export function resourceWriteEvent(resourceUri: string, overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}): Record<string, unknown> {
  const subscriptionId = resourceUri.split("/")[2] as string;
  const operationName = `${resourceUri.split("/").slice(6, 8).join("/")}/write`;
  return {
    topic: `/subscriptions/${subscriptionId}`,
    subject: resourceUri,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: "2026-11-24T09:15:02.1234567Z",
    id: "6a1e0c7e-2f5b-4d7e-8a61-1f0b9f3c2d11",
    dataVersion: "2",
    metadataVersion: "1",
    data: {
      authorization: {
        scope: resourceUri,
        action: operationName,
        evidence: { role: "Contributor", roleAssignmentScope: `/subscriptions/${subscriptionId}`, roleAssignmentId: "3e5f", roleDefinitionId: "b24988ac-6180-42a0-ab88-20f7382dd24c", principalId: "11111111-2222-3333-4444-555555555555", principalType: "User" },
      },
      claims: { aud: "https://management.core.windows.net/", appid: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", name: "Ada Admin", "http://schemas.microsoft.com/identity/claims/objectidentifier": "11111111-2222-3333-4444-555555555555" },
      correlationId: "c0a8f3d2-9b7e-4d16-a2c4-5e6f7a8b9c0d",
      httpRequest: { clientRequestId: "e1d2c3b4-a596-4788-99aa-bbccddeeff00", clientIpAddress: "203.0.113.7", method: "PUT", url: `https://management.azure.com${resourceUri}?api-version=2024-07-01` },
      resourceProvider: resourceUri.split("/")[6],
      resourceUri,
      operationName,
      status: "Succeeded",
      subscriptionId,
      tenantId: "72f988bf-0000-0000-0000-000000000000",
      ...data,
    },
    ...overrides,
  };
}

/** The same event in CloudEvents 1.0. */
export function asCloudEvent(event: Record<string, unknown>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { specversion: "1.0", type: event["eventType"], source: event["topic"], subject: event["subject"], id: event["id"], time: event["eventTime"], data: event["data"], ...overrides };
}
