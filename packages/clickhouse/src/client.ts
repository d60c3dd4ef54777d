import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { clientOptions, resolveSettings } from "./client-options";
import { createJsonReader } from "./json-reader";
import { type SqlFragment, toSql } from "./sql";

/** The small surface the apps need from ClickHouse; tests can hand in a fake. */
export interface ClickHouse {
  /** Runs a SELECT and returns its rows as plain objects. */
  query<T = Record<string, unknown>>(query: SqlFragment): Promise<T[]>;
  /** Runs a statement that returns no rows (DDL, ALTER, OPTIMIZE). */
  command(statement: SqlFragment): Promise<void>;
  /** Inserts rows as JSONEachRow. */
  insert(table: string, rows: readonly object[]): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface ClickHouseSettings {
  url: string;
  database: string;
  username: string;
  password: string;
  requestTimeoutMs?: number;
  maxOpenConnections?: number;
}

/** Settings every statement runs with: DateTime values given as text are read in any common format. */
const QUERY_SETTINGS = { date_time_input_format: "best_effort" } as const;

/**
 * Wraps @clickhouse/client in the ClickHouse interface, using only settings 18.16 understands. SELECTs take
 * a leaner keep-alive path of their own (json-reader.ts), with the same rows and error shapes.
 */
export function createClickHouse(settings: ClickHouseSettings): ClickHouse {
  const resolved = resolveSettings(settings, 10);
  const reader = createJsonReader({ ...resolved, settings: QUERY_SETTINGS });
  const client: ClickHouseClient = createClient({ ...clientOptions(resolved), clickhouse_settings: QUERY_SETTINGS });
  return {
    query: <T>(query: SqlFragment) => reader.read<T>(toSql(query)),
    async command(statement) {
      await client.command({ query: toSql(statement) });
    },
    async insert(table, rows) {
      if (rows.length === 0) return;
      await client.insert({ table, values: rows as object[], format: "JSONEachRow" });
    },
    async ping() {
      const result = await client.ping();
      return result.success;
    },
    async close() {
      reader.close();
      await client.close();
    },
  };
}

/** Extracts the numeric ClickHouse error code from an error message (`Code: 60, ...`), if any. */
export function clickhouseErrorCode(error: unknown): number | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const match = /Code: (\d+)/.exec(message);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
