import { type ClickHouseClientConfigOptions, ClickHouseLogLevel } from "@clickhouse/client";
import type { ClickHouseSettings } from "./client";

/** The settings with their defaults filled in: one place for every client this package opens. */
export function resolveSettings(settings: ClickHouseSettings, defaultConnections: number): Required<ClickHouseSettings> {
  return {
    ...settings,
    requestTimeoutMs: settings.requestTimeoutMs ?? 30_000,
    maxOpenConnections: settings.maxOpenConnections ?? defaultConnections,
  };
}

/** @clickhouse/client options for resolved settings, using only what 18.16 understands. */
export function clientOptions(settings: Required<ClickHouseSettings>): ClickHouseClientConfigOptions {
  return {
    url: settings.url,
    database: settings.database,
    username: settings.username,
    password: settings.password,
    request_timeout: settings.requestTimeoutMs,
    max_open_connections: settings.maxOpenConnections,
    compression: { request: false, response: false },
    // Failures reach callers as rejected promises, which log them with context; the client's own
    // console logger would print each one a second time, unstructured.
    log: { level: ClickHouseLogLevel.OFF },
  };
}
