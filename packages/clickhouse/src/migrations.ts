import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join as joinPath } from "node:path";
import type { ClickHouse } from "./client";
import { identifier, raw, sql } from "./sql";

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  statements: string[];
}

const FILE_NAME = /^(\d+)_([A-Za-z0-9_-]+)\.sql$/;

/** Splits a migration file into statements: `--` comment lines dropped, split on `;` at the end of a line. */
export function splitStatements(text: string): string[] {
  const withoutComments = text
    .split("\n")
    .filter((line) => !line.trim().startsWith("--"))
    .join("\n");
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}

/** Reads numbered `NNNN_name.sql` files from a folder, ordered by version; rejects duplicate versions. */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith(".sql"));
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_NAME.exec(file);
    if (!match?.[1] || !match[2]) throw new Error(`migration file name must look like 0001_name.sql: ${file}`);
    const text = await readFile(joinPath(dir, file), "utf8");
    migrations.push({
      version: Number(match[1]),
      name: match[2],
      checksum: createHash("sha256").update(text).digest("hex"),
      statements: splitStatements(text),
    });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]?.version === migrations[i - 1]?.version)
      throw new Error(`duplicate migration version ${migrations[i]?.version}`);
  }
  return migrations;
}

const LEDGER = "schema_migrations";

/** Creates the database if it is missing; `server` must not be bound to that database. */
export async function ensureDatabase(server: ClickHouse, database: string): Promise<void> {
  await server.command(sql`CREATE DATABASE IF NOT EXISTS ${identifier(database)}`);
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in order, recording each after its
 * statements succeed. Running it again applies nothing. A recorded migration whose file changed is
 * an error: migrations are append-only.
 */
export async function migrate(db: ClickHouse, migrations: readonly Migration[]): Promise<Migration[]> {
  await db.command(
    raw(`CREATE TABLE IF NOT EXISTS ${LEDGER} (
      version UInt32, name String, checksum String, applied_at DateTime
    ) ENGINE = ReplacingMergeTree ORDER BY version`),
  );
  const rows = await db.query<{ version: number; checksum: string }>(
    raw(`SELECT version, any(checksum) AS checksum FROM ${LEDGER} GROUP BY version`),
  );
  const applied = new Map(rows.map((row) => [Number(row.version), row.checksum]));
  const done: Migration[] = [];
  for (const migration of migrations) {
    const recorded = applied.get(migration.version);
    if (recorded !== undefined) {
      if (recorded !== migration.checksum) {
        throw new Error(`migration ${migration.version}_${migration.name} changed after it was applied`);
      }
      continue;
    }
    for (const statement of migration.statements) await db.command(raw(statement));
    await db.insert(LEDGER, [
      {
        version: migration.version,
        name: migration.name,
        checksum: migration.checksum,
        applied_at: Math.floor(Date.now() / 1000),
      },
    ]);
    done.push(migration);
  }
  return done;
}
