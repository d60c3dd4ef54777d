import { type EventRow, fromEventRow, raw, sql } from "@sluice/clickhouse";
import type { EventMessage } from "@sluice/events";
import {
  createTestDatabase,
  createTestTopic,
  eventually,
  services,
  type TestDatabase,
  testKafka,
  testLogger,
  uniqueName,
} from "@sluice/testing";
import { afterEach, describe, expect, it } from "vitest";
import { replayDeadLetters } from "./replay";
import { type InProcessWorker, makeEvent, produce, startInProcessWorker } from "./test-support";

const kafka = testKafka("worker-int");

async function count(database: TestDatabase, where = "1"): Promise<number> {
  const [row] = await database.db.query<{ n: string }>(raw(`SELECT count() AS n FROM events WHERE ${where}`));
  return Number(row?.n ?? 0);
}

/**
 * Per hour/event/channel/campaign group: the view's states next to exact figures from the raw table.
 * ClickHouse makes an insert's raw part visible a moment before it has fed the views, so this first
 * waits (bounded) until the view's total catches up with the raw count; a view that stays short fails.
 */
async function viewsAgainstRaw(database: TestDatabase) {
  await eventually(async () => {
    const [row] = await database.db.query<{ view: string; raw: string }>(
      raw(
        "SELECT (SELECT toString(countMerge(events)) FROM events_hourly) AS view, (SELECT toString(count()) FROM events) AS raw",
      ),
    );
    return row?.view === row?.raw ? true : undefined;
  }, 10_000).catch(() => undefined);
  const view = await database.db.query<Record<string, string>>(
    raw(`SELECT toString(hour) AS hour, event_name, channel, campaign_id,
                toString(countMerge(events)) AS total, toString(uniqMerge(users)) AS users
         FROM events_hourly GROUP BY hour, event_name, channel, campaign_id ORDER BY hour, event_name, channel, campaign_id`),
  );
  const exact = await database.db.query<Record<string, string>>(
    raw(`SELECT toString(toStartOfHour(timestamp)) AS hour, event_name, channel, campaign_id,
                toString(count()) AS total, toString(uniqExact(user_id)) AS users
         FROM events GROUP BY hour, event_name, channel, campaign_id ORDER BY hour, event_name, channel, campaign_id`),
  );
  const [viewTotals] = await database.db.query<Record<string, string>>(
    raw("SELECT toString(countMerge(events)) AS total, toString(uniqMerge(users)) AS users FROM events_hourly"),
  );
  const [exactTotals] = await database.db.query<Record<string, string>>(
    raw("SELECT toString(count()) AS total, toString(uniqExact(user_id)) AS users FROM events"),
  );
  return { view, exact, viewTotals, exactTotals };
}

const target = (database: TestDatabase) => ({ db: database.db, url: services.clickhouseUrl, database: database.name });

async function deadRows(database: TestDatabase): Promise<number> {
  const [row] = await database.db.query<{ n: string }>(raw("SELECT count() AS n FROM events_dead_letter FINAL"));
  return Number(row?.n ?? 0);
}

describe("worker against real Kafka and ClickHouse", () => {
  let database: TestDatabase | undefined;
  let worker: InProcessWorker | undefined;
  afterEach(async () => {
    await worker?.stop();
    await database?.drop();
    worker = undefined;
    database = undefined;
  });

  it("stores N events as N rows with every field intact, and the views agree with the raw table", async () => {
    database = await createTestDatabase({ migrate: true });
    const topic = await createTestTopic(kafka, "worker-events", 3);
    const hostile = "tab\there\nnew 'quote' \\ back \u0000 ünï 🚀 [1,'x']";
    const events = Array.from({ length: 3000 }, (_, i) =>
      i % 500 === 0
        ? makeEvent(i, { tags: [hostile, "]"], metadata: { [hostile]: hostile, "n'": -1.5e-7, big: 1e21, no: false } })
        : makeEvent(i),
    );
    await produce(kafka, topic, events);
    worker = await startInProcessWorker(kafka, target(database), { events: topic, dlq: uniqueName("dlq") });
    const db = database;
    await eventually(async () => ((await count(db)) === events.length ? true : undefined), 30_000, 200);

    const rows = await db.db.query<EventRow>(raw("SELECT * FROM events"));
    expect(rows).toHaveLength(events.length);
    const byId = new Map(rows.map((row) => [row.event_id, row]));
    for (const event of events) {
      const row = byId.get(event.event_id);
      expect(row, event.event_id).toBeDefined();
      // What went on the wire, read back through the row mapping: types (number, boolean) must survive.
      expect(fromEventRow(row as EventRow)).toEqual(JSON.parse(JSON.stringify(event)) as EventMessage);
      expect(row?.kafka_topic).toBe(topic);
    }
    const { view, exact, viewTotals, exactTotals } = await viewsAgainstRaw(db);
    expect(view.length).toBeGreaterThan(10);
    expect(view).toEqual(exact);
    expect(viewTotals).toEqual(exactTotals);
    expect(viewTotals?.total).toBe(String(events.length));
  });

  it("counts an event_id sent twice once, within a batch, across batches and after a restart", async () => {
    database = await createTestDatabase({ migrate: true });
    const topics = { events: await createTestTopic(kafka, "worker-dups", 2), dlq: uniqueName("dlq") };
    const first = makeEvent(1);
    const second = makeEvent(2);
    await produce(kafka, topics.events, [first, first, second]);
    worker = await startInProcessWorker(kafka, target(database), topics);
    const db = database;
    await eventually(async () => ((await count(db)) === 2 ? true : undefined), 20_000);

    const later = makeEvent(3);
    await produce(kafka, topics.events, [second, later]);
    await eventually(async () => ((await count(db, `event_id = '${later.event_id}'`)) === 1 ? true : undefined), 20_000);

    // A fresh worker (same topic, new group: it replays everything) rebuilds its id window from ClickHouse.
    await worker.stop();
    worker = await startInProcessWorker(kafka, target(db), topics);
    const last = makeEvent(4);
    await produce(kafka, topics.events, [first, last]);
    await eventually(async () => ((await count(db, `event_id = '${last.event_id}'`)) === 1 ? true : undefined), 20_000);

    expect(await count(db)).toBe(4);
    expect(await count(db, `event_id = '${first.event_id}'`)).toBe(1);
    const { viewTotals } = await viewsAgainstRaw(db);
    expect(viewTotals?.total).toBe("4");
  });

  it("dead-letters a poison message with its reason and keeps consuming the partition", async () => {
    database = await createTestDatabase({ migrate: true });
    const topics = { events: await createTestTopic(kafka, "worker-poison", 1), dlq: await createTestTopic(kafka, "dlq", 1) };
    const before = makeEvent(1);
    const after = makeEvent(2);
    const invalid = { ...makeEvent(3), user_id: "" };
    await produce(kafka, topics.events, [before, "{not json", JSON.stringify(invalid), after]);
    worker = await startInProcessWorker(kafka, target(database), topics);
    const db = database;
    await eventually(async () => ((await count(db)) === 2 ? true : undefined), 20_000);
    expect(await count(db, `event_id = '${after.event_id}'`)).toBe(1);

    const dead = await eventually(async () => {
      const rows = await db.db.query<{ event_id: string; reason: string; status: string; offset: string; payload: string }>(
        sql`SELECT event_id, reason, status, toString(kafka_offset) AS offset, payload
            FROM events_dead_letter FINAL ORDER BY kafka_offset`,
      );
      return rows.length === 2 ? rows : undefined;
    });
    expect(dead).toEqual([
      { event_id: "", reason: "invalid_json", status: "failed", offset: "1", payload: "{not json" },
      {
        event_id: invalid.event_id,
        reason: "schema_violation",
        status: "failed",
        offset: "2",
        payload: JSON.stringify(invalid),
      },
    ]);

    const consumer = kafka.consumer({ groupId: uniqueName("dlq-reader") });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.dlq, fromBeginning: true });
    const received: { reason: string; details: string; source_offset: string; payload_base64: string }[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push(JSON.parse(String(message.value)));
      },
    });
    await eventually(async () => (received.length >= 2 ? true : undefined), 20_000);
    await consumer.disconnect();
    expect(received).toHaveLength(2);
    expect(received.map((m) => m.reason)).toEqual(["invalid_json", "schema_violation"]);
    expect(Buffer.from(received[0]?.payload_base64 ?? "", "base64").toString()).toBe("{not json");
    expect(received[1]?.details).toContain("user_id");

    // make replay-dlq: both go back to the event topic once, and are marked replayed. The worker is stopped
    // meanwhile: it would dead-letter the replayed (still poison) copies again, and a second replay started
    // after that would rightly replay those new letters.
    await worker.stop();
    const replay = { kafka, db: db.db, logger: testLogger, dlqTopic: topics.dlq, eventsTopic: topics.events };
    const groupId = uniqueName("replay");
    expect(await replayDeadLetters({ ...replay, groupId, timeoutMs: 20_000 })).toEqual({ replayed: 2, skipped: 0 });
    expect(await replayDeadLetters({ ...replay, groupId, timeoutMs: 20_000 })).toEqual({ replayed: 0, skipped: 0 });
    const statuses = await db.db.query<{ status: string }>(
      raw(`SELECT status FROM events_dead_letter FINAL
           WHERE kafka_offset IN (1, 2) ORDER BY kafka_offset`),
    );
    expect(statuses.map((row) => row.status)).toEqual(["replayed", "replayed"]);
    // A worker reads the replayed bytes again at offsets 4 and 5; still poison, so dead-lettered again.
    worker = await startInProcessWorker(kafka, target(database), topics);
    await eventually(async () => ((await count(db)) === 2 && (await deadRows(db)) === 4 ? true : undefined), 20_000);
  });
});
