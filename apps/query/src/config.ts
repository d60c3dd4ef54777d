import { baseEnv, clickhouseEnv, csv, flag, kafkaEnv, port, positiveInt } from "@sluice/config";
import { z } from "zod";

/**
 * Every setting of the query app, read from the environment once in main. QUERY_API_KEYS (read-only) and
 * QUERY_ADMIN_API_KEYS (read and write) guard the API; in production having neither is refused unless
 * AUTH_DISABLED=true says the API is open on purpose.
 */
export const queryEnvSchema = z
  .object({
    ...baseEnv,
    ...kafkaEnv,
    ...clickhouseEnv,
    SERVER_PORT: port(8081),
    METRICS_PORT: port(9103),
    /** gRPC, gRPC-Web and Connect (h2c) for service-to-service readers. */
    GRPC_PORT: port(50052),
    QUERY_API_KEYS: csv(),
    QUERY_ADMIN_API_KEYS: csv(),
    AUTH_DISABLED: flag(false),
    CLICKHOUSE_REQUEST_TIMEOUT_MS: positiveInt(10_000),
    /** Groups (buckets, channels, campaigns) of GET /metrics answers kept for reuse; 0 turns the cache off. */
    METRICS_CACHE_MAX_GROUPS: z.coerce.number().int().min(0).default(200_000),
  })
  .refine(
    (env) =>
      env.NODE_ENV !== "production" || env.AUTH_DISABLED || env.QUERY_API_KEYS.length + env.QUERY_ADMIN_API_KEYS.length > 0,
    {
      path: ["QUERY_API_KEYS"],
      message: "set at least one key (or QUERY_ADMIN_API_KEYS), or AUTH_DISABLED=true to serve the API without keys",
    },
  );

export type QueryConfig = z.infer<typeof queryEnvSchema>;
