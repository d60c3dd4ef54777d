import { Readiness } from "@sluice/http";
import { createKafka, type Kafka, type Producer } from "@sluice/kafka";
import { createRegistry } from "@sluice/metrics";
import { createTestTopic, type PrivateService, startPrivateKafka, testKafka, testLogger, uniqueName } from "@sluice/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "./app";
import { startBrokerProbe } from "./broker-probe";
import { noCampaignRules } from "./campaigns";
import { createIdempotentProducer, createKafkaPublisher } from "./kafka-publisher";
import { TEST_CONFIG } from "./testing/fakes";

interface Consumed {
  key: string;
  value: Record<string, unknown>;
}

/** The ingest app wired as main wires it, over a real broker. */
async function startIngest(kafka: Kafka, topic: string, timeoutMs = 5000) {
  const producers = [createIdempotentProducer(kafka), createIdempotentProducer(kafka)];
  await Promise.all(producers.map((p) => p.connect()));
  const admin = kafka.admin();
  await admin.connect();
  const readiness = new Readiness();
  const registry = createRegistry("test");
  const probe = startBrokerProbe(admin, topic, 500, testLogger);
  readiness.register("kafka", () => probe.check());
  const publisher = createKafkaPublisher({
    producers,
    topic,
    batchSize: 500,
    lingerMs: 2,
    maxFlushBytes: 1_000_000,
    maxInFlight: 10_000,
    timeoutMs,
    registry,
    logger: testLogger,
  });
  const app = createApp({ logger: testLogger, registry, readiness, config: TEST_CONFIG, publisher, campaigns: noCampaignRules });
  return {
    app,
    async stop() {
      probe.stop();
      await publisher.close();
      await Promise.all([...producers.map((p: Producer) => p.disconnect()), admin.disconnect()]);
    },
  };
}

async function consumeAll(kafka: Kafka, topic: string, count: number, timeoutMs = 20_000): Promise<Consumed[]> {
  const consumer = kafka.consumer({ groupId: uniqueName("ingest-test") });
  const seen: Consumed[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen.push({ key: String(message.key), value: JSON.parse(String(message.value)) as Record<string, unknown> });
        if (seen.length >= count) resolve();
      },
    });
  });
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  await consumer.disconnect();
  return seen;
}

const post = (body: unknown) =>
  new Request("http://ingest/events", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("ingest against the shared broker", () => {
  const kafka = testKafka("ingest-int");

  it("a POST lands on the topic with the exact payload, keyed by user_id", async () => {
    const topic = await createTestTopic(kafka, "ingest", 3);
    const ingest = await startIngest(kafka, topic);
    try {
      const event = {
        event_id: "0190a0b0-0000-7000-8000-0000000000aa",
        event_name: "purchase",
        user_id: "user-42",
        timestamp: "2026-01-02T03:04:05.678Z",
        channel: "web",
        metadata: { plan: "pro", seats: 3, trial: false },
        items: [{ id: "sku-1", price: 9.5, quantity: 2 }],
      };
      const before = Date.now();
      const res = await ingest.app.request(post(event));
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ status: "accepted", event_id: event.event_id });
      const batch = await ingest.app.request(
        new Request("http://ingest/events/batch", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            events: [{ ...event, event_id: undefined, user_id: "user-7" }, { bad: true }],
            sent_at: before,
          }),
        }),
      );
      expect(batch.status).toBe(207);
      // The two users may sit on different partitions, so the order of consumption is not defined.
      const consumed = await consumeAll(kafka, topic, 2);
      expect(consumed).toHaveLength(2);
      const first = consumed.find((m) => m.key === "user-42");
      const second = consumed.find((m) => m.key === "user-7");
      const { received_at: receivedAt, ...rest } = first?.value ?? {};
      expect(rest).toEqual({ ...event, timestamp: Date.parse(event.timestamp) });
      expect(receivedAt).toBeGreaterThanOrEqual(before);
      expect(second?.value).toMatchObject({ user_id: "user-7", sent_at: before });
    } finally {
      await ingest.stop();
    }
  });
});

describe("ingest with the broker stopped", () => {
  let broker: PrivateService;
  let kafka: Kafka;

  beforeAll(async () => {
    broker = await startPrivateKafka();
    kafka = createKafka({ brokers: [broker.address], clientId: "ingest-outage", retries: 2 }, testLogger);
  }, 120_000);

  afterAll(async () => {
    await broker?.destroy();
  }, 60_000);

  it("answers 503 with Retry-After within the produce timeout, never 202, and /ready turns 503", async () => {
    const topic = await createTestTopic(kafka, "outage", 1);
    const ingest = await startIngest(kafka, topic, 2000);
    try {
      expect((await ingest.app.request(post({ event_name: "e", user_id: "u", timestamp: Date.now() }))).status).toBe(202);
      await broker.stop();
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        const started = Date.now();
        const res = await ingest.app.request(post({ event_name: "e", user_id: `u${i}`, timestamp: Date.now() }));
        expect(Date.now() - started).toBeLessThan(4000);
        statuses.push(res.status);
        expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
      }
      expect(statuses).toEqual([503, 503, 503, 503]);
      const deadline = Date.now() + 10_000;
      let ready = 200;
      while (ready === 200 && Date.now() < deadline) {
        ready = (await ingest.app.request("/ready")).status;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(ready).toBe(503);
      expect((await ingest.app.request("/health")).status).toBe(200);
    } finally {
      await Promise.race([ingest.stop(), new Promise((resolve) => setTimeout(resolve, 3000))]);
    }
  });
});
