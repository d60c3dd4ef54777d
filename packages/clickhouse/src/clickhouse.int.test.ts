import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "@sluice/testing";
import { afterEach, describe, expect, it } from "vitest";
import { loadMigrations, migrate } from "./migrations";
import { raw, sql } from "./sql";

describe("real ClickHouse server", () => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it("creates a table, inserts rows and selects them back", async () => {
    database = await createTestDatabase();
    const { db } = database;
    await db.command(raw("CREATE TABLE smoke (id UInt32, name String) ENGINE = MergeTree ORDER BY id"));
    await db.insert("smoke", [
      { id: 1, name: "it's" },
      { id: 2, name: "back\\slash" },
    ]);
    const rows = await db.query<{ id: number; name: string }>(
      sql`SELECT id, name FROM smoke WHERE name IN ${["it's", "back\\slash"]} ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: 1, name: "it's" },
      { id: 2, name: "back\\slash" },
    ]);
    expect(await db.ping()).toBe(true);
  });

  it("round-trips hostile strings through literal binding unchanged", async () => {
    database = await createTestDatabase();
    const corpus = [
      "'",
      "\\",
      "\\'",
      "'; DROP TABLE x; --",
      "a\nb\tc\r",
      "\0",
      "/* c */",
      "' UNION SELECT 1 --",
      "ünïcødé 🚀",
      "\u2028",
    ];
    for (const value of corpus) {
      const [row] = await database.db.query<{ v: string }>(sql`SELECT ${value} AS v`);
      expect(row?.v).toBe(value);
    }
  });

  it("applies migrations once and records them", async () => {
    database = await createTestDatabase();
    const dir = await mkdtemp(join(tmpdir(), "migrations-"));
    await writeFile(join(dir, "0001_first.sql"), "-- a table\nCREATE TABLE a (x UInt8) ENGINE = MergeTree ORDER BY x;\n");
    await writeFile(
      join(dir, "0002_second.sql"),
      "CREATE TABLE b (x UInt8) ENGINE = MergeTree ORDER BY x;\nINSERT INTO b VALUES (7);\n",
    );
    const first = await migrate(database.db, await loadMigrations(dir));
    expect(first.map((m) => m.version)).toEqual([1, 2]);
    expect(await migrate(database.db, await loadMigrations(dir))).toEqual([]);
    expect(await database.db.query(raw("SELECT x FROM b"))).toEqual([{ x: 7 }]);

    await writeFile(join(dir, "0001_first.sql"), "CREATE TABLE a (x UInt16) ENGINE = MergeTree ORDER BY x;\n");
    await expect(migrate(database.db, await loadMigrations(dir))).rejects.toThrow(/changed after it was applied/);
  });
});
