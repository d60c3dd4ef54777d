import { Counter, Gauge, type Registry } from "@sluice/metrics";

export interface IngestMetrics {
  accepted: Counter<never>;
  rejected: Counter<"reason">;
  inFlightRequests: Gauge<never>;
}

/** The ingest app's own series: events accepted, events and requests rejected by reason, requests in flight. */
export function createIngestMetrics(registry: Registry): IngestMetrics {
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
    inFlightRequests: new Gauge({
      name: "ingest_in_flight_requests",
      help: "Ingest requests being processed",
      registers: [registry],
    }),
  };
}
