import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type Registry } from "@sluice/metrics";

/** The worker's Prometheus series. */
export interface WorkerMetrics {
  lag: Gauge<"topic" | "partition">;
  batchSize: Histogram;
  insertDuration: Histogram;
  rowsInserted: Counter;
  deadLetters: Counter<"reason">;
  retries: Counter<"operation">;
  duplicates: Counter<"kind">;
  viewRepairs: Counter<"view">;
  buffered: Gauge;
}

/** Registers the worker's metrics on `registry`. */
export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const registers = [registry];
  return {
    lag: new Gauge({
      name: "sluice_worker_consumer_lag",
      help: "Messages between the partition's high watermark and the last one the worker took",
      labelNames: ["topic", "partition"],
      registers,
    }),
    batchSize: new Histogram({
      name: "sluice_worker_batch_rows",
      help: "Rows per ClickHouse insert",
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10_000, 20_000, 50_000],
      registers,
    }),
    insertDuration: new Histogram({
      name: "sluice_worker_insert_duration_seconds",
      help: "Duration of one ClickHouse insert into events",
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    rowsInserted: new Counter({ name: "sluice_worker_rows_inserted_total", help: "Rows inserted into events", registers }),
    deadLetters: new Counter({
      name: "sluice_worker_dead_letters_total",
      help: "Messages sent to the dead-letter topic",
      labelNames: ["reason"],
      registers,
    }),
    retries: new Counter({
      name: "sluice_worker_retries_total",
      help: "Retries after transient ClickHouse or Kafka errors",
      labelNames: ["operation"],
      registers,
    }),
    duplicates: new Counter({
      name: "sluice_worker_duplicates_skipped_total",
      help: "Messages not inserted because they were already stored (event_id seen, offset already landed)",
      labelNames: ["kind"],
      registers,
    }),
    viewRepairs: new Counter({
      name: "sluice_worker_view_rows_repaired_total",
      help: "Rows replayed into a materialized view that missed them (an insert cut between its raw part and the view)",
      labelNames: ["view"],
      registers,
    }),
    buffered: new Gauge({ name: "sluice_worker_buffered_messages", help: "Messages buffered or being flushed", registers }),
  };
}
