/**
 * Event Grid, for the benchmark's service process: every `intervalMs` the events ARM raised (the emulator's feed,
 * `POST /_emulator/events/take`) are taken and those that end one of the service's own operations reach its
 * confirmations, as the service's Event Grid handler hands them on (src/service/events.ts). The interval is the
 * delivery delay the benchmark assumes: events wait up to one interval.
 */
import type { EngineDependencies } from "../src/engine.js";
import { confirmationsFor } from "../src/engine.js";
import { parseEvent } from "../src/events/parse.js";
import { eventContextOf } from "../src/events/targets.js";
import { operationEndedOf } from "../src/events/operationEnded.js";

export interface EventRelay {
  /** Events that ended one of the service's own operations, handed on so far. */
  readonly heard: () => number;
  stop(): Promise<void>;
}

export function startEventRelay({ settings, gateway }: Pick<EngineDependencies, "settings" | "gateway">, intervalMs: number): EventRelay {
  const confirmations = confirmationsFor(gateway, settings);
  const context = eventContextOf(settings);
  let heard = 0;
  let running = true;
  const relay = (async () => {
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
      const response = await fetch(new URL("/_emulator/events/take", settings.armEndpoint), { method: "POST" });
      if (!response.ok) throw new Error(`taking the emulator's events: ${response.status}`);
      for (const event of ((await response.json()) as { value: unknown[] }).value) {
        const parsed = await parseEvent(event, context);
        const ended = parsed.outcome === "accepted" ? operationEndedOf(parsed.event) : undefined;
        if (!ended) continue;
        confirmations.hear(ended);
        heard++;
      }
    }
  })();
  return {
    heard: () => heard,
    stop: async () => {
      running = false;
      await relay;
    },
  };
}
