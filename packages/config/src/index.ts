import { z } from "zod";

/** Raised when the environment does not satisfy an app's schema; names every offending variable. */
export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join("; ")}`);
    this.name = "ConfigError";
  }
}

/** Parses `env` with `schema`, throwing a ConfigError that names each bad variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => ({ variable: issue.path.map(String).join(".") || "(env)", message: issue.message })),
  );
}

/** Parses the environment once at start-up; on error prints the variables at fault and exits with code 78 (EX_CONFIG). */
export function loadConfigOrExit<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  try {
    return parseEnv(schema, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const issue of error.issues) process.stderr.write(`config error: ${issue.variable}: ${issue.message}\n`);
    process.exit(78);
  }
}

/** A TCP port number given as a string. */
export const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

/** A positive integer given as a string. */
export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** A comma-separated list; blank entries are dropped. */
export const csv = (fallback = "") =>
  z
    .string()
    .default(fallback)
    .transform((value) =>
      value
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item.length > 0),
    );

/** A boolean flag written as true/false/1/0/yes/no. */
export const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no", ""])
    .default(fallback ? "true" : "false")
    .transform((value) => value === "true" || value === "1" || value === "yes");

/** pino log levels accepted by LOG_LEVEL. */
export const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info");

/** Settings every app shares: logging, the admin (metrics) port and the environment name. */
export const baseEnv = {
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  LOG_LEVEL: logLevel,
  LOG_PRETTY: flag(false),
  SERVER_HOST: z.string().min(1).default("0.0.0.0"),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000),
  /** Longest a client may take to send a whole request (its headers: at most 10 s); cuts off slowloris clients. */
  REQUEST_TIMEOUT_MS: positiveInt(30_000),
};

/** Kafka connection settings shared by the apps that talk to the broker. */
export const kafkaEnv = {
  KAFKA_BROKERS: csv("127.0.0.1:9092").refine((list) => list.length > 0, "at least one broker is required"),
  KAFKA_CLIENT_ID: z.string().min(1).default("sluice"),
  KAFKA_TOPIC: z.string().min(1).default("events"),
  KAFKA_DLQ_TOPIC: z.string().min(1).default("events.dlq"),
  KAFKA_CAMPAIGNS_TOPIC: z.string().min(1).default("campaigns"),
  /** How long one attempt to read the campaigns topic up to its end may take before it is retried. */
  CAMPAIGNS_READY_TIMEOUT_MS: positiveInt(30_000),
};

/** ClickHouse connection settings: either CLICKHOUSE_URL or the host/port parts. */
export const clickhouseEnv = {
  CLICKHOUSE_URL: z.string().url().optional(),
  CLICKHOUSE_HOST: z.string().min(1).default("127.0.0.1"),
  CLICKHOUSE_PORT: port(8123),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a plain identifier")
    .default("sluice"),
  CLICKHOUSE_USERNAME: z.string().default("default"),
  CLICKHOUSE_PASSWORD: z.string().default(""),
};

/** Resolves the ClickHouse base URL from CLICKHOUSE_URL or the host and port settings. */
export function clickhouseUrl(env: {
  CLICKHOUSE_URL?: string | undefined;
  CLICKHOUSE_HOST: string;
  CLICKHOUSE_PORT: number;
}): string {
  return env.CLICKHOUSE_URL ?? `http://${env.CLICKHOUSE_HOST}:${env.CLICKHOUSE_PORT}`;
}
