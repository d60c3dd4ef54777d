import { randomUUID } from "node:crypto";
import { type ClickHouse, createTabSeparatedInserter, EVENT_COLUMNS } from "@sluice/clickhouse";
import type { EventMessage } from "@sluice/events";
import type { Kafka } from "@sluice/kafka";
import { createRegistry } from "@sluice/metrics";
import { testLogger, uniqueName } from "@sluice/testing";
import { createEventConsumer, type EventConsumer } from "./consumer";
import { createDeadLetterWriter } from "./dead-letters";
import { insertBody } from "./decode";
import { createWorkerMetrics } from "./metrics";
import { createViewRepair } from "./repair";
import { createMessageReader } from "./reread";
import { createSink, type Sink } from "./sink";
import { createViewStore, VIEWS } from "./views";

/** A full event with typed metadata; `i` varies names, channels, users and hours. Test-only. */
export function makeEvent(i: number, overrides: Partial<EventMessage> = {}): EventMessage {
  const channels = ["web", "mobile", "api"] as const;
  const base = Date.UTC(2026, 2, 10, 8, 0, 0);
  return {
    event_id: randomUUID(),
    event_name: i % 2 === 0 ? "page_view" : "purchase",
    user_id: `user-${i % 7}`,
    timestamp: base + (i % 5) * 3_600_000 + i,
    channel: channels[i % 3],
    ...(i % 4 === 0 ? {} : { campaign_id: `c-${i % 3}` }),
    session_id: `s-${i}`,
    tags: ["t1", `t-${i}`],
    metadata: { plan: "pro", amount: i + 0.5, seats: i, trial: i % 2 === 0 },
    user_properties: { country: "DE", age: 30 + (i % 5), vip: true },
    device: { category: "phone", os: "ios", os_version: "18.1" },
    app: { id: "shop", version: "1.2.3" },
    items: [{ id: `sku-${i}`, price: 9.99, quantity: 2 }],
    received_at: base + 1000 + i,
    ...overrides,
  };
}

/** Produces values to a topic keyed by user_id (as the ingest app does), acks=all. Test-only. */
export async function produce(kafka: Kafka, topic: string, values: (EventMessage | string)[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < values.length; i += 500) {
      await producer.send({
        topic,
        acks: -1,
        messages: values
          .slice(i, i + 500)
          .map((value) =>
            typeof value === "string" ? { key: "poison", value } : { key: value.user_id, value: JSON.stringify(value) },
          ),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface InProcessWorker {
  consumer: EventConsumer;
  sink: Sink;
  stop(): Promise<void>;
}

/** Runs the worker's consumer and sink in this process against a topic and database. Test-only. */
export async function startInProcessWorker(
  kafka: Kafka,
  target: { db: ClickHouse; url: string; database: string },
  topics: { events: string; dlq: string },
  batch = { maxRows: 500, maxWaitMs: 200, maxBuffered: 2000 },
): Promise<InProcessWorker> {
  const { db } = target;
  const inserter = createTabSeparatedInserter({ url: target.url, database: target.database, username: "default", password: "" });
  const metrics = createWorkerMetrics(createRegistry("worker-test"));
  const producer = kafka.producer();
  await producer.connect();
  const backoff = { initialMs: 50, maxMs: 500 };
  const sink = createSink({
    db,
    insertRows: (rows) => inserter.insert("events", EVENT_COLUMNS, insertBody(rows)),
    deadLetters: createDeadLetterWriter({ db, producer, dlqTopic: topics.dlq }),
    reread: createMessageReader(kafka, { groupPrefix: uniqueName("worker-test"), timeoutMs: 10_000 }),
    views: createViewRepair({ store: createViewStore(db), views: VIEWS, logger: testLogger, metrics }),
    logger: testLogger,
    metrics,
    backoff,
    dedupWindow: 10_000,
  });
  const consumer = createEventConsumer({
    kafka,
    sink,
    logger: testLogger,
    metrics,
    topic: topics.events,
    groupId: uniqueName("worker-test"),
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
    batch,
    backoff,
  });
  await consumer.start();
  return {
    consumer,
    sink,
    async stop() {
      await consumer.stop();
      await producer.disconnect();
      await inserter.close();
    },
  };
}
