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
const connection = {
  url: clickhouseUrl(config),
  username: config.CLICKHOUSE_USERNAME,
  password: config.CLICKHOUSE_PASSWORD,
};
const server = createClickHouse({ ...connection, database: "default" });
await ensureDatabase(server, config.CLICKHOUSE_DATABASE);
await server.close();

const db = createClickHouse({ ...connection, database: config.CLICKHOUSE_DATABASE });
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
