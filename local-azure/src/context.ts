import type { EventFeed } from "./events.js";
import type { FaultInjector } from "./faults.js";
import type { OperationTracker } from "./lro.js";
import type { ResourceStore } from "./store.js";
import type { Throttle } from "./throttle.js";

/** The emulator's shared state, handed to the request pipeline and the resource handlers. */
export interface EmulatorContext {
  store: ResourceStore;
  operations: OperationTracker;
  throttle: Throttle;
  faults: FaultInjector;
  /** The subscriptions' system topic: ARM's events for the operations carried out. */
  events: EventFeed;
  tenantId: string;
  /** Page size of paged ARM lists. */
  pageSize: number;
  /** `https://127.0.0.1:<port>`, the base of nextLink and polling URLs. */
  endpoint: string;
}
