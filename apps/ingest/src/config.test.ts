import { type ConfigError, parseEnv } from "@sluice/config";
import { describe, expect, it } from "vitest";
import { ingestEnvSchema } from "./config";

const variables = (env: Record<string, string>) => {
  try {
    parseEnv(ingestEnvSchema, env);
    return [];
  } catch (error) {
    return (error as ConfigError).issues.map((i) => i.variable);
  }
};

describe("ingest config", () => {
  it("has the documented defaults", () => {
    const config = parseEnv(ingestEnvSchema, {});
    expect(config).toMatchObject({
      SERVER_PORT: 8080,
      METRICS_PORT: 9101,
      INGEST_API_KEYS: [],
      MAX_FUTURE_SKEW_MS: 300_000,
      PRODUCE_LANES: 1,
      PRODUCE_LINGER_MS: 2,
      PRODUCE_TIMEOUT_MS: 5000,
      KAFKA_TOPIC: "events",
    });
    expect(config.RATE_LIMIT_PER_SEC).toBeUndefined();
  });

  it("parses keys and the rate limit", () => {
    const config = parseEnv(ingestEnvSchema, { INGEST_API_KEYS: " a, b ,", RATE_LIMIT_PER_SEC: "100", RATE_LIMIT_BURST: "200" });
    expect(config.INGEST_API_KEYS).toEqual(["a", "b"]);
    expect(config.RATE_LIMIT_PER_SEC).toBe(100);
    expect(config.RATE_LIMIT_BURST).toBe(200);
  });

  it("refuses production without keys unless AUTH_DISABLED=true, naming INGEST_API_KEYS", () => {
    expect(variables({ NODE_ENV: "production" })).toEqual(["INGEST_API_KEYS"]);
    expect(variables({ NODE_ENV: "production", AUTH_DISABLED: "true" })).toEqual([]);
    expect(variables({ NODE_ENV: "production", INGEST_API_KEYS: "k" })).toEqual([]);
    expect(variables({ NODE_ENV: "development" })).toEqual([]);
  });

  it("names bad values", () => {
    expect(variables({ RATE_LIMIT_PER_SEC: "-1" })).toEqual(["RATE_LIMIT_PER_SEC"]);
    expect(variables({ RATE_LIMIT_BURST: "5" })).toEqual(["RATE_LIMIT_PER_SEC"]);
    expect(variables({ MAX_BODY_BYTES: "lots" })).toEqual(["MAX_BODY_BYTES"]);
    expect(variables({ ACCESS_LOG_SAMPLE_RATE: "2" })).toEqual(["ACCESS_LOG_SAMPLE_RATE"]);
  });
});
