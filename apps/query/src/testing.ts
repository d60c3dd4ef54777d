import { type CampaignSink, CampaignStore } from "@sluice/campaigns";
import type { ClickHouse, SqlFragment } from "@sluice/clickhouse";
import { toSql } from "@sluice/clickhouse";
import { Readiness } from "@sluice/http";
import { createLogger } from "@sluice/logger";
import { createRegistry } from "@sluice/metrics";
import { createApp, type QueryDeps } from "./app";

/** A ClickHouse stand-in for unit tests: records the SQL it is sent and answers with `answer`. */
export function fakeClickHouse(
  answer: (sql: string) => Promise<unknown[]> | unknown[] = () => [],
): ClickHouse & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    async query<T>(query: SqlFragment) {
      const text = toSql(query);
      seen.push(text);
      return (await answer(text)) as T[];
    },
    async command() {},
    async insert() {},
    async ping() {
      return true;
    },
    async close() {},
  };
}

/** A campaign reader over an in-memory store, as the registry would be once caught up. */
export function memoryCampaigns() {
  const store = new CampaignStore();
  return {
    get: (id: string) => store.get(id),
    list: () => store.list(),
    apply: (c: Parameters<CampaignStore["put"]>[0]) => store.put(c),
  };
}

/** Builds the app with fakes for whatever a test does not pass in. */
export function buildTestApp(overrides: Partial<QueryDeps> = {}) {
  const readiness = new Readiness();
  const publisher: CampaignSink = { publish: async (input) => ({ ...input, updated_at: 1 }) };
  const deps: QueryDeps = {
    logger: createLogger({ name: "test", level: "silent" }),
    registry: createRegistry("test"),
    readiness,
    db: fakeClickHouse(),
    campaigns: memoryCampaigns(),
    publisher,
    apiKeys: [],
    ...overrides,
  };
  return { app: createApp(deps), deps, readiness };
}
