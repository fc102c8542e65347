/**
 * ARM raises a write's event when its operation ends, with the write's correlation id
 * (docs/azure-domain.md §8.2, §9.4): for the service's own writes, that is the news that they are done.
 */
import type { OperationEnded } from "../apply/confirmations.js";
import type { ResourceEvent } from "./parse.js";
import { DELETE_SUCCESS, WRITE_FAILURE, WRITE_SUCCESS } from "./filter.js";

const OUTCOMES = new Map([
  [WRITE_SUCCESS.toLowerCase(), true],
  [DELETE_SUCCESS.toLowerCase(), true],
  [WRITE_FAILURE.toLowerCase(), false],
]);

/** What an accepted event says of the write or delete that raised it, when it names a machine and an operation. */
export function operationEndedOf(event: ResourceEvent): OperationEnded | undefined {
  const succeeded = OUTCOMES.get(event.eventType.toLowerCase());
  if (succeeded === undefined || !event.correlationId || event.scope !== "machine") return undefined;
  return { correlationId: event.correlationId, machineId: event.resourceId, succeeded };
}
