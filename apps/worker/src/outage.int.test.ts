import { createClickHouse, ensureDatabase, loadMigrations, migrate, raw } from "@sluice/clickhouse";
import { Readiness } from "@sluice/http";
import {
  createTestTopic,
  eventually,
  MIGRATIONS_DIR,
  type PrivateService,
  startPrivateClickHouse,
  testKafka,
  uniqueName,
} from "@sluice/testing";
import { afterAll, describe, expect, it } from "vitest";
import { registerWorkerReadiness } from "./readiness";
import { makeEvent, startInProcessWorker } from "./test-support";

const kafka = testKafka("worker-outage");
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("ClickHouse outage while events flow", () => {
  let clickhouse: PrivateService | undefined;
  afterAll(async () => {
    await clickhouse?.destroy();
  });

  it("loses nothing and duplicates nothing once ClickHouse is back; /ready is 503 meanwhile", { timeout: 90_000 }, async () => {
    clickhouse = await startPrivateClickHouse();
    const connection = { url: clickhouse.address, username: "default", password: "", requestTimeoutMs: 3000 };
    const server = createClickHouse({ ...connection, database: "default" });
    await ensureDatabase(server, "sluice");
    await server.close();
    const db = createClickHouse({ ...connection, database: "sluice" });
    await migrate(db, await loadMigrations(MIGRATIONS_DIR));

    const topic = await createTestTopic(kafka, "worker-outage", 2);
    const worker = await startInProcessWorker(
      kafka,
      { db, url: clickhouse.address, database: "sluice" },
      { events: topic, dlq: uniqueName("dlq") },
    );
    const readiness = new Readiness();
    registerWorkerReadiness({ readiness, consumer: worker.consumer, sink: worker.sink, db });

    let acknowledged = 0;
    let producing = true;
    const producer = kafka.producer();
    await producer.connect();
    const flow = (async () => {
      for (let i = 0; producing && i < 1000; i++) {
        const events = Array.from({ length: 50 }, (_, j) => makeEvent(i * 50 + j));
        await producer.send({
          topic,
          acks: -1,
          messages: events.map((event) => ({ key: event.user_id, value: JSON.stringify(event) })),
        });
        acknowledged += events.length;
        await pause(50);
      }
    })();
    const rows = async () => {
      const [row] = await db.query<{ n: string }>(raw("SELECT count() AS n FROM events"));
      return Number(row?.n ?? 0);
    };

    await eventually(async () => ((await rows()) > 0 ? true : undefined), 20_000);
    await eventually(async () => ((await readiness.report()).ready ? true : undefined), 20_000);
    // SIGTERM closes the listener at once; the private server is killed 3 s later if the worker's
    // keep-alive connections still hold it. The 10 s of outage count from the signal.
    const stoppedAt = Date.now();
    await clickhouse.stop();
    const unready = await eventually(async () => {
      const report = await readiness.report();
      return report.ready ? undefined : report;
    }, 8_000);
    expect(unready.checks.clickhouse?.ok).toBe(false);
    await pause(Math.max(0, 10_000 - (Date.now() - stoppedAt)));
    await clickhouse.start();
    await pause(1500);
    producing = false;
    await flow;
    await producer.disconnect();

    await eventually(async () => ((await rows()) >= acknowledged ? true : undefined), 40_000, 200);
    await eventually(async () => ((await readiness.report()).ready ? true : undefined), 20_000);
    await pause(1000);
    const [stored] = await db.query<{ n: string; ids: string }>(
      raw("SELECT toString(count()) AS n, toString(uniqExact(event_id)) AS ids FROM events"),
    );
    const [view] = await db.query<{ total: string; users: string }>(
      raw("SELECT toString(countMerge(events)) AS total, toString(uniqMerge(users)) AS users FROM events_hourly"),
    );
    const [users] = await db.query<{ n: string }>(raw("SELECT toString(uniqExact(user_id)) AS n FROM events"));
    const [unfindable] = await db.query<{ n: string }>(
      raw("SELECT toString(count()) AS n FROM events WHERE event_id NOT IN (SELECT event_id FROM events_by_id)"),
    );
    const offsets = await db.query<{ part: number; stored: string }>(
      raw(`SELECT kafka_partition AS part, toString(maxMerge(max_offset)) AS stored FROM events_offsets
           GROUP BY kafka_partition ORDER BY kafka_partition`),
    );
    const highest = await db.query<{ part: number; stored: string }>(
      raw(`SELECT kafka_partition AS part, toString(max(kafka_offset)) AS stored FROM events
           GROUP BY kafka_partition ORDER BY kafka_partition`),
    );
    expect({ rows: Number(stored?.n), ids: Number(stored?.ids) }).toEqual({ rows: acknowledged, ids: acknowledged });
    // An insert cut between its raw part and the views is repaired by the worker: the views agree to the event.
    expect({ view: Number(view?.total), users: Number(view?.users), unfindable: Number(unfindable?.n) }).toEqual({
      view: acknowledged,
      users: Number(users?.n),
      unfindable: 0,
    });
    expect(offsets).toEqual(highest);
    await worker.stop();
    await db.close();
  });
});
