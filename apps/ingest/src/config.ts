import { baseEnv, csv, flag, kafkaEnv, port, positiveInt } from "@sluice/config";
import { z } from "zod";

const optionalPositive = z.coerce.number().positive().optional();

/** Every setting of the ingest app, read from the environment once in main. */
export const ingestEnvSchema = z
  .object({
    ...baseEnv,
    ...kafkaEnv,
    SERVER_PORT: port(8080),
    METRICS_PORT: port(9101),
    /** gRPC, gRPC-Web and Connect (h2c) for service-to-service producers. */
    GRPC_PORT: port(50051),
    /** Comma-separated API keys; empty means open (refused in production unless AUTH_DISABLED=true). */
    INGEST_API_KEYS: csv(""),
    AUTH_DISABLED: flag(false),
    /** Per-key sustained requests per second and burst; rate limiting is off while RATE_LIMIT_PER_SEC is unset. */
    RATE_LIMIT_PER_SEC: optionalPositive,
    RATE_LIMIT_BURST: optionalPositive,
    MAX_FUTURE_SKEW_MS: positiveInt(300_000),
    /** Decompressed body limits: one event, and one batch of up to 1000 events. */
    MAX_BODY_BYTES: positiveInt(1_048_576),
    MAX_BATCH_BODY_BYTES: positiveInt(16_777_216),
    /** Largest serialized Kafka message; stays under the broker's default message.max.bytes (1048588). */
    MAX_MESSAGE_BYTES: positiveInt(1_000_000),
    /**
     * Idempotent producers sending concurrently; each user_id always uses the same one, so its order holds.
     * One by default: each produce request has a fixed client CPU cost on top of its messages, so fewer,
     * larger requests leave more CPU for requests (two lanes did not win clearly in bench-ingest on 2 cores).
     */
    PRODUCE_LANES: positiveInt(1),
    /** Producer coalescing: flush once this many messages wait, or after the linger. */
    PRODUCE_BATCH_SIZE: positiveInt(500),
    PRODUCE_LINGER_MS: z.coerce.number().int().min(0).default(2),
    /** Upper bound of one produce request (sum of message sizes), kept under the broker's batch limit. */
    PRODUCE_MAX_FLUSH_BYTES: positiveInt(1_000_000),
    /** How long a request waits for its acknowledgement before it is answered 503. */
    PRODUCE_TIMEOUT_MS: positiveInt(5000),
    /** Messages queued or being produced; beyond this, requests are answered 503 at once. */
    MAX_IN_FLIGHT: positiveInt(50_000),
    /**
     * Worker threads that read /events/batch bodies (validation and message writing) off the event loop,
     * which then only serves HTTP and produces; 0 reads them on the event loop.
     */
    BATCH_READ_THREADS: z.coerce.number().int().min(0).max(16).default(1),
    /** How often /ready re-checks that the broker answers metadata requests. */
    BROKER_PROBE_INTERVAL_MS: positiveInt(2000),
    /** Share of successful requests logged at info (0..1); errors are always logged. */
    ACCESS_LOG_SAMPLE_RATE: z.coerce.number().min(0).max(1).default(0.01),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === "production" && env.INGEST_API_KEYS.length === 0 && !env.AUTH_DISABLED) {
      ctx.addIssue({
        code: "custom",
        path: ["INGEST_API_KEYS"],
        message: "required when NODE_ENV=production (set AUTH_DISABLED=true to run without authentication)",
      });
    }
    if (env.RATE_LIMIT_BURST !== undefined && env.RATE_LIMIT_PER_SEC === undefined) {
      ctx.addIssue({ code: "custom", path: ["RATE_LIMIT_PER_SEC"], message: "required when RATE_LIMIT_BURST is set" });
    }
    if (env.RATE_LIMIT_BURST !== undefined && env.RATE_LIMIT_BURST < 1) {
      ctx.addIssue({ code: "custom", path: ["RATE_LIMIT_BURST"], message: "must be at least 1" });
    }
  });

export type IngestConfig = z.infer<typeof ingestEnvSchema>;
