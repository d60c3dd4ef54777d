import { Counter, Gauge, type Registry } from "@sluice/metrics";

/** A count kept in a plain field and read only when the registry is scraped. */
export interface Tally {
  inc(): void;
  dec(): void;
}

export interface IngestMetrics {
  accepted: Counter<never>;
  rejected: Counter<"reason">;
  inFlightRequests: Tally;
}

/** The ingest app's own series: events accepted, events and requests rejected by reason, requests in flight. */
export function createIngestMetrics(registry: Registry): IngestMetrics {
  // Every request moves the in-flight count twice; a gauge's inc/dec would hash its labels each time.
  let inFlight = 0;
  new Gauge({
    name: "ingest_in_flight_requests",
    help: "Ingest requests being processed",
    registers: [registry],
    collect() {
      this.set(inFlight);
    },
  });
  return {
    accepted: new Counter({
      name: "ingest_events_accepted_total",
      help: "Events acknowledged by the broker and answered 202/207",
      registers: [registry],
    }),
    rejected: new Counter({
      name: "ingest_events_rejected_total",
      help: "Events (or whole requests, before their events are known) rejected, by error code",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    inFlightRequests: {
      inc: () => {
        inFlight += 1;
      },
      dec: () => {
        inFlight -= 1;
      },
    },
  };
}
