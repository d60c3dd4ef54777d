import {
  type ClickHouse,
  createClickHouse,
  createTabSeparatedInserter,
  EVENT_COLUMNS,
  ensureDatabase,
  identifier,
  loadMigrations,
  migrate,
  raw,
  sql,
  type TabSeparatedInserter,
} from "@sluice/clickhouse";
import { createRegistry } from "@sluice/metrics";
import { MIGRATIONS_DIR, type PrivateService, startPrivateClickHouse, testLogger } from "@sluice/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ByteArena } from "./arena";
import { decodeMessage, insertBody, type PendingRow, type RawMessage } from "./decode";
import { createWorkerMetrics } from "./metrics";
import { createViewRepair } from "./repair";
import { createSink } from "./sink";
import { makeEvent } from "./test-support";
import { createViewStore, VIEWS, type ViewSpec } from "./views";

/**
 * Reproduces "raw part written, views not fed" deterministically on a private ClickHouse: the insert
 * runs with materialized views detached (exactly what a server stopped between the raw part and the
 * views leaves behind), then fails as a cut connection would. The repaired database must then hold in
 * every view exactly what a reference database fed normally with the same rows holds.
 */
describe("views after an insert cut between the raw part and the views", () => {
  let clickhouse: PrivateService;
  let server: ClickHouse;
  const open: { close(): Promise<void> }[] = [];
  let reference: Snapshot;

  async function database(name: string): Promise<{ db: ClickHouse; inserter: TabSeparatedInserter }> {
    await ensureDatabase(server, name);
    const connection = { url: clickhouse.address, database: name, username: "default", password: "" };
    const db = createClickHouse(connection);
    const inserter = createTabSeparatedInserter(connection);
    open.push(db, inserter);
    await migrate(db, await loadMigrations(MIGRATIONS_DIR));
    return { db, inserter };
  }

  beforeAll(async () => {
    clickhouse = await startPrivateClickHouse();
    server = createClickHouse({ url: clickhouse.address, database: "default", username: "default", password: "" });
    const { db, inserter } = await database("reference");
    const byMonth = new Map<number, PendingRow[]>();
    for (const row of rows(messages)) byMonth.set(row.month, [...(byMonth.get(row.month) ?? []), row]);
    for (const body of byMonth.values()) await inserter.insert("events", EVENT_COLUMNS, insertBody(body));
    reference = await snapshot(db);
    expect(reference.raw).toEqual({ rows: 600, ids: 600 });
  }, 60_000);

  afterAll(async () => {
    for (const client of open) await client.close();
    await server?.close();
    await clickhouse?.destroy();
  });

  it("every materialized view in the schema reads FROM events and has a repair entry; no view reads FROM a target", async () => {
    const { db } = await database("schema");
    const tables = await db.query<{ name: string; engine: string; dependants: string[] }>(
      raw("SELECT name, engine, dependencies_table AS dependants FROM system.tables WHERE database = currentDatabase()"),
    );
    const views = tables.filter((table) => table.engine === "MaterializedView").map((table) => table.name);
    expect(views.sort()).toEqual(VIEWS.map((view) => view.view).sort());
    const onEvents = tables.find((table) => table.name === "events")?.dependants ?? [];
    expect([...onEvents].sort()).toEqual([...views].sort());
    for (const view of VIEWS) {
      const target = tables.find((table) => table.name === view.target);
      expect(target, view.target).toBeDefined();
      expect(target?.dependants, `views reading FROM ${view.target}`).toEqual([]);
      // A replay aliases each expression as its target column; one named like a column of events must be that column.
      const columns = view.kind === "rows" ? view.columns : [...view.keys, ...view.states];
      for (const column of columns)
        if ([...EVENT_COLUMNS, "inserted_at"].includes(column.column)) expect(column.expr, view.view).toBe(column.column);
    }
  });

  it("a failed insert whose rows landed without any view: the retry repairs every view to the reference", async () => {
    const { db, inserter } = await database("cut_all");
    const { sink, repaired } = sinkWithCut(db, inserter, { views: VIEWS });
    expect(await writeAll(sink)).toHaveLength(2);
    expect(await snapshot(db)).toEqual(reference);
    expect(await repaired()).toEqual(each(VIEWS, 600));
  });

  it("a cut between views (as 18.16 orders them, events_by_id first): only the views that missed the rows are replayed", async () => {
    const { db, inserter } = await database("cut_some");
    const missed = VIEWS.filter((view) => view.target !== "events_by_id");
    const { sink, repaired } = sinkWithCut(db, inserter, { views: missed });
    await writeAll(sink);
    expect(await snapshot(db)).toEqual(reference);
    expect(await repaired()).toEqual(each(missed, 600));
  });

  it("a worker crashed after the cut: the next owner repairs before committing, a third run changes nothing", async () => {
    const { db, inserter } = await database("cut_crash");
    const crash = new AbortController();
    const first = sinkWithCut(db, inserter, { views: VIEWS, crash });
    // The flush's first insert (April, 60 rows) is cut and the worker dies: March is never sent.
    await expect(writeAll(first.sink)).rejects.toThrow(/socket hang up/);
    const cut = await snapshot(db);
    expect(cut.raw).toEqual({ rows: APRIL, ids: APRIL });
    expect(cut.views.events_hourly_mv).toEqual([]);

    // Nothing was committed, so the next owner is redelivered everything from offset 0.
    const second = sinkWithCut(db, inserter, {});
    await writeAll(second.sink);
    expect(await snapshot(db)).toEqual(reference);
    expect(await second.repaired()).toEqual(each(VIEWS, APRIL));
    expect(second.inserted()).toBe(600 - APRIL);

    const third = sinkWithCut(db, inserter, {});
    await writeAll(third.sink);
    expect(await snapshot(db)).toEqual(reference);
    expect(await third.repaired()).toEqual({});
    expect(third.inserted()).toBe(0);
  });

  it("repairing the same rows twice, or a repair cut after some views, never counts twice", async () => {
    const { db, inserter } = await database("twice");
    // Several inserts, so several units share groups (each is short by the others' rows too).
    await withViewsDetached(db, VIEWS, async () => {
      const all = rows(messages);
      for (let i = 0; i < all.length; i += 100) {
        for (const month of [202603, 202604]) {
          const body = all.slice(i, i + 100).filter((row) => row.month === month);
          await inserter.insert("events", EVENT_COLUMNS, insertBody(body));
          await new Promise((resolve) => setTimeout(resolve, 150));
        }
      }
    });
    const metrics = createWorkerMetrics(createRegistry("repair-int"));
    const repair = createViewRepair({ store: createViewStore(db), views: VIEWS, logger: testLogger, metrics, recheckMs: 20 });
    const scope = sql`kafka_topic = 'events'`;
    // A repair "cut" after its first view: only events_by_id was replayed.
    const byId = VIEWS.filter((view) => view.kind === "rows");
    await createViewRepair({ store: createViewStore(db), views: byId, logger: testLogger, metrics, recheckMs: 20 }).repair(scope);
    await repair.repair(scope);
    await repair.repair(scope);
    expect(await snapshot(db)).toEqual(reference);
  });
});

// 600 events over two partitions, two months (two inserts per flush), several hours, names, channels, users.
const messages: RawMessage[] = Array.from({ length: 600 }, (_, i) => {
  const event = makeEvent(i, i % 10 === 0 ? { timestamp: Date.UTC(2026, 3, 1, 3, 0, i) } : {});
  return {
    topic: "events",
    partition: i % 2,
    offset: String(Math.floor(i / 2)),
    key: null,
    value: Buffer.from(JSON.stringify(event)),
  };
});
const APRIL = 60;

/** The repair metric expected when every one of `views` replayed `rows` rows. */
const each = (views: readonly ViewSpec[], rows: number) => Object.fromEntries(views.map((view) => [view.view, rows]));

interface Snapshot {
  raw: { rows: number; ids: number };
  /** Every view's target, finalized and sorted, by view name. */
  views: Record<string, unknown[]>;
}

/** Finalizes a view's target: row views as they are, aggregates merged per key (xState or xStateIf → xMerge). */
function contents(view: ViewSpec) {
  if (view.kind === "rows") {
    const columns = view.columns.map((column) => `toString(${column.column})`).join(", ");
    return raw(`SELECT ${columns} FROM ${view.target} ORDER BY ${columns}`);
  }
  const keys = view.keys.map((key) => `toString(${key.column})`).join(", ");
  const merged = view.states.map(
    (state) => `toString(${state.expr.replace(/^(\w+?)State(If)?\(.*$/, "$1Merge")}(${state.column}))`,
  );
  return raw(`SELECT ${keys}, ${merged.join(", ")} FROM ${view.target} GROUP BY ${keys} ORDER BY ${keys}`);
}

async function snapshot(db: ClickHouse): Promise<Snapshot> {
  const [totals] = await db.query<{ n: string; ids: string }>(
    raw("SELECT toString(count()) AS n, toString(uniqExact(event_id)) AS ids FROM events"),
  );
  const views: Record<string, unknown[]> = {};
  for (const view of VIEWS) views[view.view] = (await db.query<Record<string, string>>(contents(view))).map(Object.values);
  return { raw: { rows: Number(totals?.n), ids: Number(totals?.ids) }, views };
}

function rows(list: readonly RawMessage[]): PendingRow[] {
  const arena = new ByteArena();
  return list.flatMap((message) => {
    const decoded = decodeMessage(message, arena);
    return decoded.kind === "row" ? [decoded] : [];
  });
}

async function withViewsDetached(db: ClickHouse, views: readonly ViewSpec[], run: () => Promise<void>) {
  for (const view of views) await db.command(sql`DETACH TABLE ${identifier(view.view)}`);
  try {
    await run();
  } finally {
    for (const view of views) await db.command(sql`ATTACH TABLE ${identifier(view.view)}`);
  }
}

/** Loads both partitions and writes every message as one flush (as a redelivery from offset 0 would be). */
async function writeAll(sink: ReturnType<typeof createSink>) {
  await sink.load("events", 0);
  await sink.load("events", 1);
  return sink.write(messages.flatMap((message) => sink.admit(message) ?? []));
}

/**
 * A sink whose first insert of each month lands with `views` detached and then fails like a cut
 * connection; with `crash`, the failure also aborts the sink, as a worker killed then never retries.
 */
function sinkWithCut(
  db: ClickHouse,
  inserter: TabSeparatedInserter,
  cut: { views?: readonly ViewSpec[]; crash?: AbortController },
) {
  const metrics = createWorkerMetrics(createRegistry("repair-int"));
  let inserts = 0;
  const cutMonths = new Set<number>();
  const sink = createSink({
    db,
    async insertRows(pending) {
      const body = [...insertBody(pending)];
      const month = pending[0]?.month ?? 0;
      if (!cut.views || cutMonths.has(month)) {
        inserts += pending.length;
        return inserter.insert("events", EVENT_COLUMNS, body);
      }
      cutMonths.add(month);
      await withViewsDetached(db, cut.views, () => inserter.insert("events", EVENT_COLUMNS, body));
      cut.crash?.abort();
      throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    },
    deadLetters: {
      async write() {
        throw new Error("nothing here should be dead-lettered");
      },
    },
    async reread() {
      throw new Error("nothing here should be read back");
    },
    views: createViewRepair({ store: createViewStore(db), views: VIEWS, logger: testLogger, metrics, recheckMs: 20 }),
    logger: testLogger,
    metrics,
    backoff: { initialMs: 10, maxMs: 50 },
    dedupWindow: 10_000,
    ...(cut.crash ? { signal: cut.crash.signal } : {}),
  });
  const repaired = async () =>
    Object.fromEntries((await metrics.viewRepairs.get()).values.map((value) => [value.labels.view, value.value]));
  return { sink, repaired, inserted: () => inserts };
}
