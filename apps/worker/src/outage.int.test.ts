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
    await clickhouse.stop();
    const stoppedAt = Date.now();
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
    const [view] = await db.query<{ total: string }>(raw("SELECT toString(countMerge(events)) AS total FROM events_hourly"));
    expect({ rows: Number(stored?.n), ids: Number(stored?.ids) }).toEqual({ rows: acknowledged, ids: acknowledged });
    // Known gap, tracked in the worker issue: ClickHouse writes an insert's raw part before it feeds the
    // views, so an outage that cuts an insert between the two leaves the views short of that insert's
    // rows (seen here in about one run of three). The views must never count a row twice, though.
    expect(Number(view?.total)).toBeLessThanOrEqual(acknowledged);
    await worker.stop();
    await db.close();
  });
});
