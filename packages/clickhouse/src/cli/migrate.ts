import { fileURLToPath } from "node:url";
import { clickhouseEnv, clickhouseUrl, loadConfigOrExit } from "@sluice/config";
import { z } from "zod";
import { createClickHouse } from "../client";
import { ensureDatabase, loadMigrations, migrate } from "../migrations";

// `make migrate`: creates the database and applies clickhouse/migrations in order.
const config = loadConfigOrExit(
  z.object({
    ...clickhouseEnv,
    MIGRATIONS_DIR: z.string().default(fileURLToPath(new URL("../../../../clickhouse/migrations", import.meta.url))),
  }),
  process.env,
);
const MIGRATION_TIMEOUT_MS = 3_600_000;
const connection = {
  url: clickhouseUrl(config),
  username: config.CLICKHOUSE_USERNAME,
  password: config.CLICKHOUSE_PASSWORD,
};
const server = createClickHouse({ ...connection, database: "default" });
await ensureDatabase(server, config.CLICKHOUSE_DATABASE);
await server.close();

// Backfills read every stored event: on a large database they outlast an app's 30 s request timeout, and a
// migration whose statement timed out client-side may still finish server-side unrecorded, so a rerun would
// backfill it twice.
const db = createClickHouse({ ...connection, database: config.CLICKHOUSE_DATABASE, requestTimeoutMs: MIGRATION_TIMEOUT_MS });
try {
  const applied = await migrate(db, await loadMigrations(config.MIGRATIONS_DIR));
  const names = applied.map((m) => `${m.version}_${m.name}`);
  process.stdout.write(
    names.length
      ? `applied ${names.join(", ")} to ${config.CLICKHOUSE_DATABASE}\n`
      : `${config.CLICKHOUSE_DATABASE} is up to date\n`,
  );
} finally {
  await db.close();
}
