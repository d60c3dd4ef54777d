import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { raw } from "@sluice/clickhouse";
import {
  createTestDatabase,
  createTestTopic,
  eventually,
  freePort,
  services,
  type TestDatabase,
  testKafka,
  uniqueName,
} from "@sluice/testing";
import { afterEach, describe, expect, it } from "vitest";
import { makeEvent } from "./test-support";

const kafka = testKafka("worker-crash");
const WORKER_DIR = fileURLToPath(new URL("..", import.meta.url));

/** Starts the real worker entry point as a child process with its own topic, group and database. */
async function spawnWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn("node", ["--import", "tsx", "src/main.ts"], {
    cwd: WORKER_DIR,
    env: { ...process.env, ...env, SERVER_PORT: String(await freePort()), METRICS_PORT: String(await freePort()) },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("worker killed with SIGKILL while events flow", () => {
  let database: TestDatabase | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited(child);
    }
    await database?.drop();
  });

  it("ends with raw rows = distinct event_ids = view total = events acknowledged", { timeout: 180_000 }, async () => {
    database = await createTestDatabase({ migrate: true });
    const topic = await createTestTopic(kafka, "worker-crash", 3);
    const env = {
      KAFKA_BROKERS: services.kafkaBrokers.join(","),
      KAFKA_TOPIC: topic,
      KAFKA_DLQ_TOPIC: uniqueName("dlq"),
      KAFKA_GROUP_ID: uniqueName("crash-group"),
      // A SIGKILLed member holds its partitions until its session expires; the test broker allows
      // 2 s sessions (infra/kafka/server.properties), so each restart resumes within seconds.
      KAFKA_SESSION_TIMEOUT_MS: "2000",
      KAFKA_HEARTBEAT_INTERVAL_MS: "500",
      CLICKHOUSE_URL: services.clickhouseUrl,
      CLICKHOUSE_DATABASE: database.name,
      BATCH_MAX_ROWS: "400",
      BATCH_MAX_WAIT_MS: "150",
      BUFFER_MAX_ROWS: "1200",
      LOG_LEVEL: "warn",
    };

    let acknowledged = 0;
    let producing = true;
    const producer = kafka.producer();
    await producer.connect();
    const flow = (async () => {
      for (let i = 0; producing && i < 4000; i++) {
        const events = Array.from({ length: 25 }, (_, j) => makeEvent(i * 25 + j));
        await producer.send({
          topic,
          acks: -1,
          messages: events.map((event) => ({ key: event.user_id, value: JSON.stringify(event) })),
        });
        acknowledged += events.length;
        await pause(40);
      }
    })();

    const db = database;
    const rows = async () => {
      const [row] = await db.db.query<{ n: string }>(raw("SELECT count() AS n FROM events"));
      return Number(row?.n ?? 0);
    };
    child = await spawnWorker(env);
    for (let kill = 0; kill < 3; kill++) {
      // Let the worker get going (rows landing), then kill it at a random moment of its work.
      const landed = await rows();
      await eventually(async () => ((await rows()) > landed ? true : undefined), 30_000, 100);
      await pause(200 + Math.random() * 1200);
      child.kill("SIGKILL");
      await exited(child);
      child = await spawnWorker(env);
    }
    await pause(1000);
    producing = false;
    await flow;
    await producer.disconnect();

    // Each 400-row insert feeds six tables (raw, by-user copy and four views): on a loaded machine the
    // backlog left by the kills takes the worker ~20 s to drain.
    await eventually(async () => ((await rows()) >= acknowledged ? true : undefined), 90_000, 200);
    // Give a late duplicate the chance to show up before counting.
    await pause(1500);
    const [raw_] = await db.db.query<{ n: string; ids: string }>(
      raw("SELECT toString(count()) AS n, toString(uniqExact(event_id)) AS ids FROM events"),
    );
    const [view] = await db.db.query<{ total: string }>(raw("SELECT toString(countMerge(events)) AS total FROM events_hourly"));
    expect(acknowledged).toBeGreaterThan(1000);
    expect({ rows: Number(raw_?.n), ids: Number(raw_?.ids), view: Number(view?.total) }).toEqual({
      rows: acknowledged,
      ids: acknowledged,
      view: acknowledged,
    });

    // A graceful stop exits cleanly (stop consumer, flush, commit, close).
    child.kill("SIGTERM");
    expect(await exited(child)).toBe(0);
  });
});
