import { baseEnv, clickhouseEnv, kafkaEnv, port, positiveInt } from "@sluice/config";
import { z } from "zod";

/** Every setting of the worker app, read from the environment once in main. */
export const workerEnvSchema = z
  .object({
    ...baseEnv,
    ...kafkaEnv,
    ...clickhouseEnv,
    SERVER_PORT: port(8082),
    METRICS_PORT: port(9102),
    KAFKA_GROUP_ID: z.string().min(1).default("sluice-worker"),
    /** Lower than Kafka's 30 s default would let a crashed worker's partitions move faster; 6 s is the broker minimum. */
    KAFKA_SESSION_TIMEOUT_MS: positiveInt(30_000),
    KAFKA_HEARTBEAT_INTERVAL_MS: positiveInt(3_000),
    /**
     * A flush starts once this many rows (or BATCH_MAX_BYTES) are buffered and carries at most that
     * many, so a backlog goes in few large inserts: each insert into `events` and its views costs
     * ClickHouse a fixed share whatever its size, and every part it writes is merged again later (the
     * same 1M rows sent by curl in 30 inserts: 5.0M rows merged, 47-61 ClickHouse CPU s; in 10:
     * 2.1M rows, 44 s). The byte bound decides for typical events (a row weighs its line, ~280 B, and
     * 160 B for its object: ~90k rows); 40/80 MiB flushes keep the worker's peak RSS under 300 MB
     * (measured 255-275 MB; 48/96 MiB, with rows of two objects, 283 MB). Under normal load
     * BATCH_MAX_WAIT_MS decides.
     */
    BATCH_MAX_ROWS: positiveInt(100_000),
    BATCH_MAX_BYTES: positiveInt(40 * 1024 * 1024),
    BATCH_MAX_WAIT_MS: positiveInt(1_000),
    /** Messages (and their approximate bytes) held in memory before the consumer pauses; bounds RSS whatever the backlog. */
    BUFFER_MAX_ROWS: positiveInt(200_000),
    BUFFER_MAX_BYTES: positiveInt(80 * 1024 * 1024),
    /** Event ids remembered per partition to drop client retries that reuse an event_id. */
    DEDUP_WINDOW_PER_PARTITION: positiveInt(50_000),
    RETRY_INITIAL_MS: positiveInt(200),
    RETRY_MAX_MS: positiveInt(10_000),
    CLICKHOUSE_TIMEOUT_MS: positiveInt(30_000),
  })
  .refine((env) => env.BUFFER_MAX_ROWS >= env.BATCH_MAX_ROWS, {
    path: ["BUFFER_MAX_ROWS"],
    message: "must be at least BATCH_MAX_ROWS",
  })
  .refine((env) => env.BUFFER_MAX_BYTES >= env.BATCH_MAX_BYTES, {
    path: ["BUFFER_MAX_BYTES"],
    message: "must be at least BATCH_MAX_BYTES",
  })
  .refine((env) => env.RETRY_MAX_MS >= env.RETRY_INITIAL_MS, {
    path: ["RETRY_MAX_MS"],
    message: "must be at least RETRY_INITIAL_MS",
  });

export type WorkerConfig = z.infer<typeof workerEnvSchema>;
