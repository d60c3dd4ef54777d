import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { startGrpcServer } from "@sluice/grpc";
import { callFailure } from "@sluice/grpc/testing";
import { Readiness } from "@sluice/http";
import { createKafka, type Kafka } from "@sluice/kafka";
import { createRegistry } from "@sluice/metrics";
import { EventSchema, IngestService, RetryInfoSchema } from "@sluice/proto";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@sluice/proto/health";
import {
  createTestTopic,
  type PrivateService,
  services,
  startPrivateKafka,
  testKafka,
  testLogger,
  uniqueName,
} from "@sluice/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, createIngestCore, createIngestFastLane } from "./app";
import { startBrokerProbe } from "./broker-probe";
import { noCampaignRules } from "./campaigns";
import { createIngestGrpc } from "./grpc/server";
import { createKafkaPublisher } from "./kafka-publisher";
import { createLaneProducer } from "./lane-producer";
import { serveTestApp, TEST_CONFIG } from "./testing/fakes";
import { kafkajsPartition } from "./testing/partitions";

interface Consumed {
  key: string;
  partition: number;
  value: Record<string, unknown>;
}

/** The ingest app wired as main wires it, over a real broker (`brokers` are the ones `kafka` reaches). */
async function startIngest(kafka: Kafka, brokers: string[], topic: string, timeoutMs = 5000) {
  const producers = [0, 1].map(() => createLaneProducer({ brokers, clientId: "ingest-int", produceTimeoutMs: timeoutMs }));
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
  const deps = { logger: testLogger, registry, readiness, config: TEST_CONFIG, publisher, campaigns: noCampaignRules };
  // HTTP and gRPC share one core and one publisher, as in main.
  const core = createIngestCore(deps);
  const app = createApp({ ...deps, core });
  return {
    app,
    /** Serves the app over HTTP as main does, its POST /events fast lane first; the caller closes the server. */
    http: () => serveTestApp({ app, fastLane: createIngestFastLane({ ...deps, core }) }),
    /** Serves the same core over gRPC; the caller closes the server. */
    grpc: () => startGrpcServer({ port: 0, host: "127.0.0.1", ...createIngestGrpc({ ...deps, core }) }),
    async stop() {
      probe.stop();
      await publisher.close();
      await Promise.all([...producers.map((p) => p.disconnect()), admin.disconnect()]);
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
      eachMessage: async ({ partition, message }) => {
        seen.push({ key: String(message.key), partition, value: JSON.parse(String(message.value)) as Record<string, unknown> });
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
    const ingest = await startIngest(kafka, services.kafkaBrokers, topic);
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
            events: [{ ...event, event_id: undefined, user_id: "user-8" }, { bad: true }],
            sent_at: before,
          }),
        }),
      );
      expect(batch.status).toBe(207);
      // Over a real connection a compact event is answered by the fast lane, ahead of Hono.
      const server = await ingest.http();
      const compact = { event_name: "signup", user_id: "user-7", timestamp: before, channel: "mobile" };
      const viaLane = await fetch(`http://127.0.0.1:${server.port}/events`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": "lane-1" },
        body: JSON.stringify(compact),
      });
      await server.close();
      expect(viaLane.status).toBe(202);
      expect(viaLane.headers.get("x-request-id")).toBe("lane-1");
      const { event_id: laneId } = (await viaLane.json()) as { event_id: string };
      // The users may sit on different partitions, so the order of consumption is not defined.
      const consumed = await consumeAll(kafka, topic, 3);
      expect(consumed).toHaveLength(3);
      const first = consumed.find((m) => m.key === "user-42");
      const second = consumed.find((m) => m.key === "user-8");
      const third = consumed.find((m) => m.key === "user-7");
      expect(third?.value).toEqual({ ...compact, event_id: laneId, received_at: third?.value.received_at });
      expect(third?.value.received_at).toBeGreaterThanOrEqual(before);
      expect(third?.partition).toBe(kafkajsPartition("user-7", 3));
      const { received_at: receivedAt, ...rest } = first?.value ?? {};
      expect(rest).toEqual({ ...event, timestamp: Date.parse(event.timestamp) });
      expect(receivedAt).toBeGreaterThanOrEqual(before);
      expect(second?.value).toMatchObject({ user_id: "user-8", sent_at: before });
      // Each user's events land on the partition the Java client (and kafkajs before) would pick; user-8's
      // hash has the sign bit set, so a partitioner hashing to an unsigned int would put it elsewhere.
      expect(first?.partition).toBe(kafkajsPartition("user-42", 3));
      expect(second?.partition).toBe(kafkajsPartition("user-8", 3));
    } finally {
      await ingest.stop();
    }
  });
});

describe("lane producer against the shared broker", () => {
  const kafka = testKafka("lane-int");

  it("lands every record of successive record-set requests once, each user's in order, on the Java client's partition", async () => {
    const topic = await createTestTopic(kafka, "lanes", 6);
    const lane = createLaneProducer({ brokers: services.kafkaBrokers, clientId: "lane-int", produceTimeoutMs: 5000 });
    await lane.connect();
    const users = 40;
    const requests = 6;
    const perRequest = 100;
    try {
      for (let r = 0; r < requests; r += 1) {
        const records = Array.from({ length: perRequest }, (_, i) => {
          const n = r * perRequest + i;
          return { key: Buffer.from(`user-${n % users}`), value: Buffer.from(JSON.stringify({ n })) };
        });
        await lane.sendBatch(topic, records);
      }
    } finally {
      await lane.disconnect();
    }
    const consumed = await consumeAll(kafka, topic, requests * perRequest);
    // Had a request reused an earlier one's sequence numbers, the broker would have dropped it as a duplicate.
    expect(consumed.map((m) => m.value.n).sort((x, y) => Number(x) - Number(y))).toEqual(
      Array.from({ length: requests * perRequest }, (_, n) => n),
    );
    for (let u = 0; u < users; u += 1) {
      const mine = consumed.filter((m) => m.key === `user-${u}`);
      expect(new Set(mine.map((m) => m.partition))).toEqual(new Set([kafkajsPartition(`user-${u}`, 6)]));
      const order = mine.map((m) => Number(m.value.n));
      expect(order).toEqual([...order].sort((x, y) => x - y));
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

  it("answers 503 with Retry-After (gRPC: UNAVAILABLE with RetryInfo) within the produce timeout, never 202, and /ready turns 503", async () => {
    const topic = await createTestTopic(kafka, "outage", 1);
    const ingest = await startIngest(kafka, [broker.address], topic, 2000);
    const server = await ingest.grpc();
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` });
    const grpc = createClient(IngestService, transport);
    const health = createClient(Health, transport);
    const grpcEvent = (i: number) =>
      create(EventSchema, { eventName: "e", userId: `g${i}`, timestamp: { case: "timestampMs", value: BigInt(Date.now()) } });
    try {
      expect((await ingest.app.request(post({ event_name: "e", user_id: "u", timestamp: Date.now() }))).status).toBe(202);
      expect((await grpc.publishEvent({ event: grpcEvent(0) })).eventId).toMatch(/.+/);
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
      for (let i = 1; i <= 3; i++) {
        const started = Date.now();
        const error = await callFailure(grpc.publishEvent({ event: grpcEvent(i) }));
        expect(Date.now() - started).toBeLessThan(4000);
        expect(error.code).toBe(Code.Unavailable);
        expect(error.findDetails(RetryInfoSchema)).toHaveLength(1);
      }
      expect((await callFailure(grpc.publishEvents({ events: [grpcEvent(4), grpcEvent(5)] }))).code).toBe(Code.Unavailable);
      const deadline = Date.now() + 10_000;
      let ready = 200;
      while (ready === 200 && Date.now() < deadline) {
        ready = (await ingest.app.request("/ready")).status;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(ready).toBe(503);
      expect((await health.check({})).status).toBe(Status.NOT_SERVING);
      expect((await ingest.app.request("/health")).status).toBe(200);
    } finally {
      await server.close();
      await Promise.race([ingest.stop(), new Promise((resolve) => setTimeout(resolve, 3000))]);
    }
  });
});
