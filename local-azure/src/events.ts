/**
 * Azure Resource Manager's events, as a subscription's `Microsoft.Resources.Subscriptions` system topic
 * raises them (MicrosoftDocs/azure-docs `articles/event-grid/event-schema-subscriptions.md`): one event per
 * PUT, PATCH, POST or DELETE the resource provider carried out, `subject` and `data.resourceUri` the
 * resource operated on, `data.operationName` the RBAC-style operation (`…/write`, `…/delete`,
 * `…/<action>/action`), `data.status` its outcome. Long-running operations raise theirs when they end.
 *
 * Also the samples tests build by hand (docs/azure-domain.md §8.2, §8.3), and what an Event Grid
 * subscription's filter lets through (`eventGridDelivers`), so tests deliver events as Event Grid would.
 */
import { randomUUID } from "node:crypto";

export type ArmEventType =
  | "Microsoft.Resources.ResourceWriteSuccess"
  | "Microsoft.Resources.ResourceWriteFailure"
  | "Microsoft.Resources.ResourceDeleteSuccess"
  | "Microsoft.Resources.ResourceActionSuccess"
  | "Microsoft.Resources.ResourceActionFailure";

export type ArmEvent = Record<string, unknown>;

export interface ArmOperation {
  readonly eventType: ArmEventType;
  readonly resourceUri: string;
  readonly operationName: string;
  readonly status: "Succeeded" | "Failed";
  /** The request's method and URL; `data.httpRequest` is only documented for updates of existing resources, deletes and actions. */
  readonly httpRequest?: { readonly method: string; readonly url: string };
  readonly correlationId?: string;
  readonly tenantId?: string;
  readonly eventTime?: string;
  readonly id?: string;
}

/** One system-topic event in the Event Grid schema. */
export function systemTopicEvent(operation: ArmOperation): ArmEvent {
  const subscriptionId = operation.resourceUri.split("/")[2] as string;
  const resourceGroup = /\/resourceGroups\/([^/]+)/i.exec(operation.resourceUri)?.[1];
  return {
    topic: `/subscriptions/${subscriptionId}`,
    subject: operation.resourceUri,
    eventType: operation.eventType,
    eventTime: operation.eventTime ?? new Date().toISOString(),
    id: operation.id ?? randomUUID(),
    dataVersion: "2",
    metadataVersion: "1",
    data: {
      authorization: {
        scope: operation.resourceUri,
        action: operation.operationName,
        evidence: { role: "Contributor", roleAssignmentScope: `/subscriptions/${subscriptionId}`, roleAssignmentId: "3e5f", roleDefinitionId: "b24988ac-6180-42a0-ab88-20f7382dd24c", principalId: "11111111-2222-3333-4444-555555555555", principalType: "User" },
      },
      claims: { aud: "https://management.core.windows.net/", appid: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", name: "Ada Admin", "http://schemas.microsoft.com/identity/claims/objectidentifier": "11111111-2222-3333-4444-555555555555" },
      correlationId: operation.correlationId ?? randomUUID(),
      ...(operation.httpRequest ? { httpRequest: { clientRequestId: randomUUID(), clientIpAddress: "203.0.113.7", ...operation.httpRequest } } : {}),
      resourceProvider: providerOf(operation.resourceUri),
      resourceUri: operation.resourceUri,
      operationName: operation.operationName,
      status: operation.status,
      subscriptionId,
      ...(resourceGroup ? { resourceGroup } : {}),
      tenantId: operation.tenantId ?? "72f988bf-0000-0000-0000-000000000000",
    },
  };
}

/** The namespace of the resource's own type (the last `providers/<ns>`), `Microsoft.Resources` for groups and subscriptions. */
function providerOf(resourceUri: string): string {
  const segments = resourceUri.split("/");
  const index = segments.map((segment) => segment.toLowerCase()).lastIndexOf("providers");
  return index >= 0 ? (segments[index + 1] as string) : "Microsoft.Resources";
}

/**
 * Resource write events shaped like the sample of docs/azure-domain.md §8.2 (Event Grid schema) and its
 * CloudEvents 1.0 twin (§8.3), for any resource id; fixed id, time and correlation id for tests.
 */
export function resourceWriteEvent(resourceUri: string, overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}): ArmEvent {
  const operationName = `${resourceUri.split("/").slice(6, 8).join("/")}/write`;
  const event = systemTopicEvent({
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    resourceUri,
    operationName,
    status: "Succeeded",
    httpRequest: { method: "PUT", url: `https://management.azure.com${resourceUri}?api-version=2024-07-01` },
    correlationId: "c0a8f3d2-9b7e-4d16-a2c4-5e6f7a8b9c0d",
    eventTime: "2026-11-24T09:15:02.1234567Z",
    id: "6a1e0c7e-2f5b-4d7e-8a61-1f0b9f3c2d11",
  });
  const { resourceGroup: _resourceGroup, ...sampleData } = event["data"] as Record<string, unknown>;
  return { ...event, data: { ...sampleData, ...data }, ...overrides };
}

/** The same event in CloudEvents 1.0. */
export function asCloudEvent(event: ArmEvent, overrides: Record<string, unknown> = {}): ArmEvent {
  return { specversion: "1.0", type: event["eventType"], source: event["topic"], subject: event["subject"], id: event["id"], time: event["eventTime"], data: event["data"], ...overrides };
}

/** The events a subscription system topic has raised, oldest first; bounded so long benchmark runs stay flat. */
export class EventFeed {
  private raised: ArmEvent[] = [];

  constructor(private readonly limit = 10_000) {}

  raise(operation: ArmOperation): void {
    if (this.limit <= 0) return;
    this.raised.push(systemTopicEvent(operation));
    if (this.raised.length > this.limit) this.raised.splice(0, this.raised.length - this.limit);
  }

  /** Takes every event raised so far, leaving the feed empty: each event is delivered once. */
  take(): ArmEvent[] {
    const taken = this.raised;
    this.raised = [];
    return taken;
  }

  recent(): ArmEvent[] {
    return [...this.raised];
  }

  reset(): void {
    this.raised = [];
  }
}

/** An event subscription's `filter` as ARM templates write it (Microsoft.EventGrid eventSubscriptions). */
export interface EventGridFilter {
  readonly includedEventTypes?: readonly string[];
  readonly advancedFilters?: readonly { readonly operatorType: string; readonly key: string; readonly values?: readonly unknown[] }[];
}

/**
 * Whether Event Grid delivers an event (Event Grid schema) to a subscription with this filter
 * (MicrosoftDocs/azure-docs `articles/event-grid/event-filtering.md`): its type is one of
 * `includedEventTypes` (all when absent) and every advanced filter holds; string comparisons ignore case.
 * Keys are `eventType`, `subject`, `id`, `topic`, `dataVersion` or `data.<field>`. Operators the service's
 * filter does not use are refused loudly rather than guessed.
 */
export function eventGridDelivers(filter: EventGridFilter, event: ArmEvent): boolean {
  const eventType = String(event["eventType"] ?? "").toLowerCase();
  if (filter.includedEventTypes && !filter.includedEventTypes.some((type) => type.toLowerCase() === eventType)) return false;
  return (filter.advancedFilters ?? []).every(({ operatorType, key, values = [] }) => {
    const value = valueAt(event, key);
    const candidates = values.map((candidate) => String(candidate).toLowerCase());
    const text = typeof value === "string" ? value.toLowerCase() : undefined;
    switch (operatorType) {
      case "StringIn":
        return text !== undefined && candidates.includes(text);
      case "StringNotIn":
        return text === undefined || !candidates.includes(text);
      case "StringBeginsWith":
        return text !== undefined && candidates.some((candidate) => text.startsWith(candidate));
      case "StringEndsWith":
        return text !== undefined && candidates.some((candidate) => text.endsWith(candidate));
      case "StringContains":
        return text !== undefined && candidates.some((candidate) => text.includes(candidate));
      default:
        throw new Error(`advanced filter operator ${operatorType} is not modelled`);
    }
  });
}

/** `data.operationName` -> the event's data.operationName; top-level keys as the Event Grid schema names them. */
function valueAt(event: ArmEvent, key: string): unknown {
  const [head, ...rest] = key.split(".");
  const top = Object.entries(event).find(([name]) => name.toLowerCase() === head?.toLowerCase())?.[1];
  return rest.reduce<unknown>((value, part) => (value !== null && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined), top);
}
