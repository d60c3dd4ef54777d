import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, services, type TestDatabase } from "@sluice/testing";
import { afterEach, describe, expect, it } from "vitest";
import { clickhouseErrorCode } from "./client";
import { loadMigrations, migrate } from "./migrations";
import { raw, sql } from "./sql";
import { createTabSeparatedInserter } from "./tab-separated";

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

  it("rejects a failing SELECT with the server's error code, whether it fails before or after the first rows", async () => {
    database = await createTestDatabase();
    const missing = await database.db.query(raw("SELECT * FROM no_such_table")).catch((error: unknown) => error);
    expect(clickhouseErrorCode(missing)).toBe(60);
    // throwIf fails on a later block than the first, after a 200 status and the first rows went out.
    const late = await database.db
      .query(raw("SELECT throwIf(number = 200000) AS x FROM system.numbers LIMIT 300000 SETTINGS max_block_size = 1000"))
      .catch((error: unknown) => error);
    expect(clickhouseErrorCode(late)).toBe(395);
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

  it("inserts TabSeparated bodies given whole, line by line, or as chunks streamed from a generator", async () => {
    database = await createTestDatabase();
    const { db, name } = database;
    await db.command(raw("CREATE TABLE lines (id UInt32, name String) ENGINE = MergeTree ORDER BY id"));
    const inserter = createTabSeparatedInserter({
      url: services.clickhouseUrl,
      database: name,
      username: "default",
      password: "",
    });
    try {
      await inserter.insert("lines", ["id", "name"], "1\tone\n2\ttab\\there\n");
      function* chunks() {
        for (let from = 3; from <= 3000; from += 1000) {
          let chunk = "";
          for (let id = from; id < from + 1000; id++) chunk += `${id}\tname ${id}\n`;
          yield chunk;
        }
      }
      await inserter.insert("lines", ["id", "name"], chunks());
      await inserter.insert("lines", ["id", "name"], "");
      await inserter.insert(
        "lines",
        ["id", "name"],
        Array.from({ length: 20_000 }, (_, i) => `${5000 + i}\tline ${i}\n`),
      );
    } finally {
      await inserter.close();
    }
    const [row] = await db.query<{ n: string; top: number; tab: string }>(
      raw("SELECT toString(count()) AS n, max(id) AS top, anyIf(name, id = 2) AS tab FROM lines"),
    );
    expect(row).toEqual({ n: "23002", top: 24999, tab: "tab\there" });
  });
});
