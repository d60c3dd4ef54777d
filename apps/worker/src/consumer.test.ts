import { EventEmitter } from "node:events";
import { createRegistry } from "@sluice/metrics";
import { testLogger } from "@sluice/testing";
import type { Kafka } from "kafkajs";
import { describe, expect, it } from "vitest";
import { createEventConsumer } from "./consumer";
import { createWorkerMetrics } from "./metrics";
import type { Sink } from "./sink";

const EVENTS = { GROUP_JOIN: "consumer.group_join", CRASH: "consumer.crash" } as const;

/** A stand-in for a kafkajs consumer that records its lifecycle and lets the test emit its events. */
class FakeConsumer extends EventEmitter {
  readonly events = EVENTS;
  runs = 0;
  disconnects = 0;
  async connect() {}
  async subscribe() {}
  async run() {
    this.runs++;
  }
  async disconnect() {
    this.disconnects++;
  }
  pause() {}
  resume() {}
  async commitOffsets() {}
}

function setup() {
  const consumers: FakeConsumer[] = [];
  const kafka = {
    consumer: () => {
      const consumer = new FakeConsumer();
      consumers.push(consumer);
      return consumer;
    },
  } as unknown as Kafka;
  const consumer = createEventConsumer({
    kafka,
    sink: { isLoaded: () => true, load: async () => undefined, forget: () => undefined } as unknown as Sink,
    logger: testLogger,
    metrics: createWorkerMetrics(createRegistry("test")),
    topic: "events",
    groupId: "g",
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1000,
    batch: { maxRows: 10, maxWaitMs: 50, maxBuffered: 100 },
    backoff: { initialMs: 10, maxMs: 20 },
  });
  return { consumer, consumers };
}

const join = (fake: FakeConsumer | undefined) =>
  fake?.emit(EVENTS.GROUP_JOIN, { payload: { memberAssignment: { events: [0] } } });

describe("event consumer", () => {
  it("rejoins with a fresh consumer when kafkajs gives up after a non-retriable crash", async () => {
    const { consumer, consumers } = setup();
    await consumer.start();
    join(consumers[0]);
    expect(consumer.joined).toBe(true);

    consumers[0]?.emit(EVENTS.CRASH, { payload: { restart: false, error: new Error("Failed to find group coordinator") } });
    expect(consumer.joined).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(consumers).toHaveLength(2);
    expect(consumers[1]?.runs).toBe(1);
    join(consumers[1]);
    expect(consumer.joined).toBe(true);
    await consumer.stop();
  });

  it("leaves restarts to kafkajs when it restarts by itself, and never restarts once stopping", async () => {
    const { consumer, consumers } = setup();
    await consumer.start();
    consumers[0]?.emit(EVENTS.CRASH, { payload: { restart: true, error: new Error("retriable") } });
    await consumer.stop();
    consumers[0]?.emit(EVENTS.CRASH, { payload: { restart: false, error: new Error("late") } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(consumers).toHaveLength(1);
  });
});
