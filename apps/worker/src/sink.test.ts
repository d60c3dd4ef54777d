import { type ClickHouse, type SqlFragment, toSql } from "@sluice/clickhouse";
import { createLogger } from "@sluice/logger";
import { createRegistry } from "@sluice/metrics";
import { describe, expect, it } from "vitest";
import { type DeadLetter, eventIdOf, type PendingRow, type RawMessage } from "./decode";
import { createWorkerMetrics } from "./metrics";
import type { ViewRepair } from "./repair";
import type { MessageReader } from "./reread";
import { createSink, type Item, positionOf, scopeOf } from "./sink";
import { makeEvent } from "./test-support";

/** An in-memory `events` table that answers the sink's three reads and can fail inserts on demand. */
class FakeClickHouse implements ClickHouse {
  rows: PendingRow[] = [];
  inserts: PendingRow[][] = [];
  /** Failures for the next inserts: `landed` simulates a timeout after the server stored the rows. */
  failures: { error: Error; landed: boolean }[] = [];
  rejectOffset: string | undefined;
  /** Offsets events_offsets missed (an insert cut before that view): its maximum ignores them. */
  offsetsMissed = new Set<string>();

  async query<T>(query: SqlFragment): Promise<T[]> {
    const text = toSql(query);
    const partition = Number(/kafka_partition = (\d+)/.exec(text)?.[1] ?? -1);
    const inPartition = this.rows.filter((row) => partition === -1 || row.partition === partition);
    if (text.includes("FROM events_offsets")) {
      const max = new Map<number, number>();
      for (const row of this.rows) {
        if (this.offsetsMissed.has(row.offset)) continue;
        max.set(row.partition, Math.max(max.get(row.partition) ?? -1, Number(row.offset)));
      }
      return [...max].map(([part, stored]) => ({ part, stored_max: String(stored) })) as T[];
    }
    if (text.includes("AS id,")) {
      const limit = Number(/LIMIT (\d+)/.exec(text)?.[1]);
      return [...inPartition]
        .sort((a, b) => Number(b.offset) - Number(a.offset))
        .slice(0, limit)
        .map((row) => ({ id: eventIdOf(row), stored_offset: row.offset })) as T[];
    }
    if (text.includes("AS stored_offset")) {
      const [, lo, hi] = /kafka_offset >= (\d+) AND kafka_offset <= (\d+)/.exec(text) ?? [];
      return inPartition
        .filter((row) => Number(row.offset) >= Number(lo) && Number(row.offset) <= Number(hi))
        .map((row) => ({ stored_offset: String(row.offset) })) as T[];
    }
    throw new Error(`unexpected query: ${text}`);
  }
  async command() {}
  async insert() {
    throw new Error("the sink writes through insertRows");
  }
  async insertRows(rows: readonly PendingRow[]) {
    const typed = [...rows];
    const failure = this.failures.shift();
    if (failure) {
      if (failure.landed) this.rows.push(...typed);
      this.log.push(`insert failed${failure.landed ? " after landing" : ""}`);
      throw failure.error;
    }
    if (typed.some((row) => String(row.offset) === this.rejectOffset))
      throw new Error("Code: 27, e.displayText() = DB::Exception: Cannot parse input");
    this.inserts.push([...typed]);
    this.rows.push(...typed);
    this.log.push(`insert ${typed.length}`);
  }
  /** What happened, in order: inserts, settles and view repairs (with the scope's SQL). */
  log: string[] = [];
  async ping() {
    return true;
  }
  async close() {}
}

/** Records the sink's calls into the view repair in the fake's log. */
function fakeViews(db: FakeClickHouse): ViewRepair {
  return {
    async settle() {
      db.log.push("settle");
    },
    async repair(scope) {
      db.log.push(`repair ${toSql(scope).replace(/\s+/g, " ")}`);
    },
  };
}

/** Reads the fake topic's messages back, as the worker's reader reads Kafka. */
const readPublished: MessageReader = async (positions) =>
  positions.map(
    (position) =>
      published.get(`${position.partition}/${position.offset}`) ?? {
        topic: position.topic,
        partition: position.partition,
        offset: position.offset,
        key: null,
        value: null,
      },
  );

function setup(db: FakeClickHouse, dedupWindow = 1000, reread: MessageReader = readPublished) {
  const dead: DeadLetter[] = [];
  const metrics = createWorkerMetrics(createRegistry("sink-test"));
  const sink = createSink({
    db,
    insertRows: (rows) => db.insertRows(rows),
    views: fakeViews(db),
    deadLetters: {
      async write(items) {
        dead.push(...items);
      },
    },
    reread,
    logger: createLogger({ name: "test", level: "silent" }),
    metrics,
    backoff: { initialMs: 1, maxMs: 2 },
    dedupWindow,
  });
  return { sink, dead, metrics };
}

/** The messages of the fake topic by partition and offset (the last made for a position), for reread. */
const published = new Map<string, RawMessage>();

function message(offset: number, value: unknown, partition = 0): RawMessage {
  const made = {
    topic: "events",
    partition,
    offset: String(offset),
    key: Buffer.from(`key-${offset}`),
    value: Buffer.from(typeof value === "string" ? value : JSON.stringify(value)),
  };
  published.set(`${partition}/${offset}`, made);
  return made;
}

function admitAll(sink: ReturnType<typeof setup>["sink"], values: unknown[], from = 0): Item[] {
  return values.flatMap((value, i) => sink.admit(message(from + i, value)) ?? []);
}

describe("exactly-once sink", () => {
  it("inserts a flush and returns the next offset to commit per partition", async () => {
    const db = new FakeClickHouse();
    const { sink } = setup(db);
    await sink.load("events", 0);
    const commits = await sink.write(admitAll(sink, [makeEvent(1), makeEvent(2), "{bad"]));
    expect(db.rows).toHaveLength(2);
    expect(commits).toEqual([{ topic: "events", partition: 0, offset: "3" }]);
  });

  it("retries a failed insert without duplicating the rows that landed before the error", async () => {
    const db = new FakeClickHouse();
    const { sink, metrics } = setup(db);
    await sink.load("events", 0);
    db.failures.push({ error: new Error("connect ECONNREFUSED"), landed: false });
    db.failures.push({ error: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), landed: true });
    await sink.write(admitAll(sink, [makeEvent(1), makeEvent(2)]));
    expect(db.rows).toHaveLength(2);
    expect(new Set(db.rows.map((row) => eventIdOf(row))).size).toBe(2);
    expect((await metrics.retries.get()).values.find((v) => v.labels.operation === "insert")?.value).toBe(2);
    expect(sink.healthy).toBe(true);
  });

  it("after a crash, a new sink skips what landed even when its id window forgot it (offset check)", async () => {
    const db = new FakeClickHouse();
    const events = Array.from({ length: 6 }, (_, i) => makeEvent(i));
    const first = setup(db);
    await first.sink.load("events", 0);
    await first.sink.write(admitAll(first.sink, events.slice(0, 4)));

    // Restart with a one-id window, which forgets the stored ids as new ones arrive: only the offset check is left.
    const second = setup(db, 1);
    await second.sink.load("events", 0);
    const items = admitAll(second.sink, events, 0);
    expect(items.every((item) => item.kind === "row")).toBe(true);
    await second.sink.write(items);
    expect(db.rows.map((row) => Number(row.offset)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect((await second.metrics.duplicates.get()).values.find((v) => v.labels.kind === "landed")?.value).toBe(4);
  });

  it("drops a repeated event_id within the buffer and against the window, but commits past it", async () => {
    const db = new FakeClickHouse();
    const { sink } = setup(db);
    await sink.load("events", 0);
    const event = makeEvent(1);
    const items = admitAll(sink, [event, event, makeEvent(2)]);
    expect(items.map((item) => item.kind)).toEqual(["row", "skip", "row"]);
    await sink.write(items);
    const again = admitAll(sink, [event], 3);
    expect(again.map((item) => item.kind)).toEqual(["skip"]);
    expect(await sink.write(again)).toEqual([{ topic: "events", partition: 0, offset: "4" }]);
    expect(db.rows).toHaveLength(2);
  });

  it("ignores messages redelivered below what it already took", async () => {
    const db = new FakeClickHouse();
    const { sink } = setup(db);
    await sink.load("events", 0);
    admitAll(sink, [makeEvent(1), makeEvent(2)]);
    expect(sink.admit(message(1, makeEvent(2)))).toBeUndefined();
  });

  it("sends one insert per month so each insert lands whole", async () => {
    const db = new FakeClickHouse();
    const { sink } = setup(db);
    await sink.load("events", 0);
    const march = makeEvent(1);
    const april = makeEvent(2, { timestamp: Date.UTC(2026, 3, 1, 0, 0, 1) });
    await sink.write(admitAll(sink, [march, april, makeEvent(3)]));
    expect(db.inserts.map((rows) => rows.length).sort()).toEqual([1, 2]);
  });

  it("isolates a row ClickHouse rejects and dead-letters it while the rest land", async () => {
    const db = new FakeClickHouse();
    const { sink, dead } = setup(db);
    await sink.load("events", 0);
    db.rejectOffset = "2";
    await sink.write(
      admitAll(
        sink,
        Array.from({ length: 5 }, (_, i) => makeEvent(i)),
      ),
    );
    expect(db.rows.map((row) => Number(row.offset)).sort()).toEqual([0, 1, 3, 4]);
    expect(dead.map((item) => [item.reason, item.message.offset])).toEqual([["clickhouse_rejected", "2"]]);
    // The row kept only its line: its original message is read back for the dead letter.
    const original = published.get("0/2");
    expect(original?.key).not.toBeNull();
    expect(dead[0]?.message).toEqual(original);
    expect(dead[0]?.eventId).toBe(JSON.parse(String(original?.value)).event_id);
  });

  it("reads a rejected row's message back again when a read-back fails, then dead-letters it whole", async () => {
    const db = new FakeClickHouse();
    let reads = 0;
    const { sink, dead, metrics } = setup(db, 1000, async (positions) => {
      reads++;
      if (reads === 1) throw new Error("read 0 of 1 messages back from Kafka in 30000 ms");
      return readPublished(positions);
    });
    await sink.load("events", 0);
    db.rejectOffset = "1";
    await sink.write(admitAll(sink, [makeEvent(0), makeEvent(1)]));
    expect(reads).toBe(2);
    expect(dead[0]?.message).toEqual(published.get("0/1"));
    const retries = (await metrics.retries.get()).values.find((value) => value.labels.operation === "reread");
    expect(retries?.value).toBe(1);
  });

  it("dead-letters a rejected row by its position when its message cannot be read back, and moves on", async () => {
    const db = new FakeClickHouse();
    let reads = 0;
    const { sink, dead } = setup(db, 1000, async () => {
      reads++;
      throw new Error("group authorization failed");
    });
    await sink.load("events", 0);
    db.rejectOffset = "1";
    const commits = await sink.write(admitAll(sink, [makeEvent(0), makeEvent(1), makeEvent(2)]));
    expect(reads).toBe(5);
    expect(dead.map((item) => [item.reason, item.message])).toEqual([
      ["clickhouse_rejected", { topic: "events", partition: 0, offset: "1", key: null, value: null }],
    ]);
    expect(commits).toEqual([{ topic: "events", partition: 0, offset: "3" }]);
  });

  it("dead-letters messages that are not JSON or break the schema, with the event_id when readable", async () => {
    const db = new FakeClickHouse();
    const { sink, dead } = setup(db);
    await sink.load("events", 0);
    const invalid = { ...makeEvent(1), channel: "fax" };
    await sink.write(admitAll(sink, ["nope", invalid, makeEvent(2)]));
    expect(dead.map((item) => [item.reason, item.eventId])).toEqual([
      ["invalid_json", ""],
      ["schema_violation", invalid.event_id],
    ]);
    expect(dead[1]?.details).toContain("channel");
    expect(db.rows).toHaveLength(1);
  });
});

const repairs = (db: FakeClickHouse) => db.log.filter((entry) => entry.startsWith("repair"));

describe("sink: views after a cut insert", () => {
  it("settles in-flight inserts, then repairs the views for exactly the failed insert's landed rows", async () => {
    const db = new FakeClickHouse();
    const { sink } = setup(db);
    await sink.load("events", 0);
    db.failures.push({ error: new Error("connect ECONNREFUSED"), landed: false });
    db.failures.push({ error: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), landed: true });
    const commits = await sink.write(admitAll(sink, [makeEvent(1), makeEvent(2), makeEvent(3)]));
    expect(commits).toEqual([{ topic: "events", partition: 0, offset: "3" }]);
    expect(db.log.map((entry) => entry.replace(/^repair .*/, "repair"))).toEqual([
      "insert failed",
      "settle",
      "insert failed after landing",
      "settle",
      "repair",
    ]);
    expect(repairs(db)[0]).toContain(
      "kafka_topic = 'events' AND kafka_partition = 0 AND (kafka_offset >= 0 AND kafka_offset <= 2)",
    );
    expect(db.rows).toHaveLength(3);
  });

  it("does not repair when a failed insert did not land", async () => {
    const db = new FakeClickHouse();
    const { sink } = setup(db);
    await sink.load("events", 0);
    db.failures.push({ error: new Error("connect ECONNREFUSED"), landed: false });
    await sink.write(admitAll(sink, [makeEvent(1)]));
    expect(repairs(db)).toEqual([]);
    expect(db.rows).toHaveLength(1);
  });

  it("after a crash, the new owner checks the views of rows stored past the committed position once, first", async () => {
    const db = new FakeClickHouse();
    const events = Array.from({ length: 6 }, (_, i) => makeEvent(i));
    const first = setup(db);
    await first.sink.load("events", 0);
    await first.sink.write(admitAll(first.sink, events.slice(0, 4)));

    // Nothing was committed: the new owner is redelivered everything from offset 0.
    db.log = [];
    const second = setup(db);
    await second.sink.load("events", 0);
    await second.sink.write(admitAll(second.sink, events.slice(0, 3)));
    await second.sink.write(admitAll(second.sink, events.slice(3), 3));
    expect(db.log[0]).toBe("repair (kafka_topic = 'events' AND kafka_partition = 0 AND kafka_offset >= 0 AND kafka_offset <= 3)");
    expect(repairs(db)).toHaveLength(1);
    expect(db.rows.map((row) => Number(row.offset)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("checks every partition known by then in one repair, so an insert spanning partitions is judged whole", async () => {
    const db = new FakeClickHouse();
    const first = setup(db);
    await first.sink.load("events", 0);
    await first.sink.load("events", 1);
    const flush = [0, 1, 2, 3].flatMap((i) => first.sink.admit(message(Math.floor(i / 2), makeEvent(i), i % 2)) ?? []);
    await first.sink.write(flush);

    db.log = [];
    const second = setup(db);
    await second.sink.load("events", 0);
    await second.sink.load("events", 1);
    const again = [0, 1, 2, 3].flatMap((i) => second.sink.admit(message(Math.floor(i / 2), makeEvent(i), i % 2)) ?? []);
    // The first flush after the restart holds partition 0 only; partition 1's messages wait in the buffer.
    await second.sink.write(again.filter((item) => item.kind !== "dead" && positionOf(item).partition === 0));
    expect(repairs(db)).toEqual([
      "repair (kafka_topic = 'events' AND kafka_partition = 0 AND kafka_offset >= 0 AND kafka_offset <= 1) OR " +
        "(kafka_topic = 'events' AND kafka_partition = 1 AND kafka_offset >= 0 AND kafka_offset <= 1)",
    ]);
    await second.sink.write(again.filter((item) => item.kind !== "dead" && positionOf(item).partition === 1));
    expect(repairs(db)).toHaveLength(1);
  });

  it("has nothing to check when the committed position is past every stored row", async () => {
    const db = new FakeClickHouse();
    const events = Array.from({ length: 6 }, (_, i) => makeEvent(i));
    const first = setup(db);
    await first.sink.load("events", 0);
    await first.sink.write(admitAll(first.sink, events.slice(0, 4)));
    const second = setup(db);
    await second.sink.load("events", 0);
    await second.sink.write(admitAll(second.sink, events.slice(4), 4));
    expect(repairs(db)).toEqual([]);
    expect(db.rows).toHaveLength(6);
  });

  it("treats rows up to the raw maximum read at load as suspects when events_offsets missed them", async () => {
    const db = new FakeClickHouse();
    const events = Array.from({ length: 4 }, (_, i) => makeEvent(i));
    const first = setup(db);
    await first.sink.load("events", 0);
    await first.sink.write(admitAll(first.sink, events));
    db.offsetsMissed = new Set(["2", "3"]);
    // A one-id window forgets offsets 0..2, so only the offset check can catch their redelivery.
    const second = setup(db, 1);
    await second.sink.load("events", 0);
    await second.sink.write(admitAll(second.sink, events));
    expect(db.rows).toHaveLength(4);
  });

  it("does not split and re-insert rows a view rejected after they landed; it repairs them", async () => {
    const db = new FakeClickHouse();
    const { sink, dead } = setup(db);
    await sink.load("events", 0);
    db.failures.push({
      error: new Error("Code: 53, e.displayText() = DB::Exception: Type mismatch: while pushing to view"),
      landed: true,
    });
    await sink.write(admitAll(sink, [makeEvent(1), makeEvent(2)]));
    expect(dead).toEqual([]);
    expect(db.rows).toHaveLength(2);
    expect(repairs(db)).toHaveLength(1);
  });
});

describe("scopeOf", () => {
  const row = (offset: number, partition = 0): PendingRow => ({
    kind: "row",
    bytes: Buffer.alloc(0),
    lineStart: 0,
    lineEnd: 0,
    eventName: offset % 2 ? "b" : "a",
    timestamp: 1000 + offset,
    month: 202603,
    topic: "events",
    partition,
    offset: String(offset),
  });

  it("describes the rows by runs of offsets per partition, with names and time range", () => {
    const text = toSql(scopeOf([9, 5, 6, 7].map((offset) => row(offset)).concat(row(3, 1)))).replace(/\s+/g, " ");
    expect(text).toBe(
      "event_name IN ('b', 'a') AND timestamp >= toDateTime(1003) AND timestamp <= toDateTime(1009) AND " +
        "((kafka_topic = 'events' AND kafka_partition = 0 AND (kafka_offset >= 5 AND kafka_offset <= 7 OR kafka_offset >= 9 AND kafka_offset <= 9)) OR " +
        "(kafka_topic = 'events' AND kafka_partition = 1 AND (kafka_offset >= 3 AND kafka_offset <= 3)))",
    );
  });

  it("falls back to the offset range when the rows have too many gaps", () => {
    const text = toSql(scopeOf(Array.from({ length: 600 }, (_, i) => row(i * 2))));
    expect(text).toContain("(kafka_offset >= 0 AND kafka_offset <= 1198)");
    expect(text.length).toBeLessThan(500);
  });
});
