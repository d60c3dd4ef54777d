import { EventEmitter } from "node:events";
import { createRegistry } from "@sluice/metrics";
import { testLogger } from "@sluice/testing";
import type { ConsumerRunConfig, EachBatchPayload, Kafka } from "kafkajs";
import { describe, expect, it } from "vitest";
import { ByteArena } from "./arena";
import { createEventConsumer, itemWeight } from "./consumer";
import { decodeMessage, lineOf, type RawMessage } from "./decode";
import { createWorkerMetrics } from "./metrics";
import { type CommitPosition, type Item, positionOf, type Sink } from "./sink";
import { makeEvent } from "./test-support";

const EVENTS = { GROUP_JOIN: "consumer.group_join", CRASH: "consumer.crash" } as const;

/** A stand-in for a kafkajs consumer that records its lifecycle and lets the test emit its events. */
class FakeConsumer extends EventEmitter {
  readonly events = EVENTS;
  runs = 0;
  disconnects = 0;
  config: ConsumerRunConfig | undefined;
  paused = false;
  /** Each commitOffsets call; the test settles `done` when it wants the commit to finish. */
  commits: { offsets: string[]; done: () => void }[] = [];
  commitsFinish = false;
  async connect() {}
  async subscribe() {}
  async run(config: ConsumerRunConfig) {
    this.runs++;
    this.config = config;
  }
  async disconnect() {
    this.disconnects++;
  }
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  commitOffsets(offsets: { offset: string }[]) {
    return new Promise<void>((resolve) => {
      this.commits.push({ offsets: offsets.map((position) => position.offset), done: resolve });
      if (this.commitsFinish) resolve();
    });
  }
}

const IDLE_SINK = { isLoaded: () => true, load: async () => undefined, forget: () => undefined } as unknown as Sink;

/** A consumer over fake kafkajs consumers (one per (re)join), with the given sink and batch bounds. */
function setup(sink: Sink = IDLE_SINK, batch = { maxRows: 10, maxWaitMs: 50, maxBuffered: 100 }) {
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
    sink,
    logger: testLogger,
    metrics: createWorkerMetrics(createRegistry("test")),
    topic: "events",
    groupId: "g",
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1000,
    batch,
    backoff: { initialMs: 10, maxMs: 20 },
  });
  return { consumer, consumers };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

/** A sink whose writes wait until the test releases them, recording what each carried. */
function gatedSink() {
  const writes: { offsets: string[]; pinned: number; release: () => void }[] = [];
  let running = 0;
  let maxRunning = 0;
  const sink = {
    isLoaded: () => true,
    load: async () => undefined,
    forget: () => undefined,
    admit: (message: RawMessage): Item => ({ kind: "skip", message }),
    async write(items: readonly Item[]): Promise<CommitPosition[]> {
      running++;
      maxRunning = Math.max(maxRunning, running);
      const gate = deferred<void>();
      const offsets = items.map((item) => positionOf(item).offset);
      // Items still holding kafkajs's key or value slices (which pin the whole fetch response).
      const pinned = items.filter((item) => item.kind === "skip" && (item.message.value || item.message.key)).length;
      writes.push({ offsets, pinned, release: () => gate.resolve() });
      await gate.promise;
      running--;
      const last = Number(offsets[offsets.length - 1]);
      return [{ topic: "events", partition: 0, offset: String(last + 1) }];
    },
  } as unknown as Sink;
  return { sink, writes, maxRunning: () => maxRunning };
}

function batchOf(offsets: number[]): EachBatchPayload {
  return {
    batch: {
      topic: "events",
      partition: 0,
      highWatermark: "100",
      messages: offsets.map((offset) => ({ offset: String(offset), key: Buffer.from("k"), value: Buffer.from("{}") })),
    },
    resolveOffset: () => undefined,
    isRunning: () => true,
    isStale: () => false,
  } as unknown as EachBatchPayload;
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

  it("keeps fetching into the buffer while one flush is in flight, pauses when full, commits each flush after its insert", async () => {
    const { sink, writes, maxRunning } = gatedSink();
    const { consumer, consumers } = setup(sink, { maxRows: 2, maxWaitMs: 10_000, maxBuffered: 6 });
    await consumer.start();
    const fake = consumers[0] as FakeConsumer;
    join(fake);
    const eachBatch = (offsets: number[]) => fake.config?.eachBatch?.(batchOf(offsets));

    await eachBatch([0, 1, 2]);
    await tick();
    expect(writes.map((write) => write.offsets)).toEqual([["0", "1"]]);
    // The insert is in flight: fetching and buffering go on, but no second flush starts.
    await eachBatch([3, 4]);
    await tick();
    expect(writes).toHaveLength(1);
    expect(fake.paused).toBe(false);
    await eachBatch([5, 6]);
    expect(consumer.paused).toBe(true);
    expect(fake.paused).toBe(true);
    expect(fake.commits).toEqual([]);

    writes[0]?.release();
    await tick();
    // Committed only now, past the flushed rows; the next flush started without waiting for the commit.
    expect(fake.commits.map((commit) => commit.offsets)).toEqual([["2"]]);
    expect(writes.map((write) => write.offsets)).toEqual([
      ["0", "1"],
      ["2", "3"],
    ]);
    expect(fake.paused).toBe(false);
    writes[1]?.release();
    await tick();
    // Commits run in order: the second waits for the first to finish, so offsets never move back.
    expect(fake.commits).toHaveLength(1);
    fake.commits[0]?.done();
    await tick();
    expect(fake.commits.map((commit) => commit.offsets)).toEqual([["2"], ["4"]]);

    // Stop flushes what is left (in flight first, then the rest) and waits for its commits.
    fake.commitsFinish = true;
    fake.commits[1]?.done();
    const stopped = consumer.stop();
    for (let i = 0; i < 20 && writes.length < 4; i++) {
      writes[writes.length - 1]?.release();
      await tick();
    }
    writes[writes.length - 1]?.release();
    await stopped;
    expect(writes.map((write) => write.offsets)).toEqual([["0", "1"], ["2", "3"], ["4", "5"], ["6"]]);
    expect(fake.commits.map((commit) => commit.offsets).at(-1)).toEqual(["7"]);
    expect(maxRunning()).toBe(1);
    // The sink called every message a duplicate: each was buffered as its position only.
    expect(writes.map((write) => write.pinned)).toEqual([0, 0, 0, 0]);
  });

  it("admits a whole fetched batch even past full, resolving the last offset of each chunk, then pauses", async () => {
    const { sink, writes } = gatedSink();
    const { consumer, consumers } = setup(sink, { maxRows: 100, maxWaitMs: 10_000, maxBuffered: 200 });
    await consumer.start();
    const fake = consumers[0] as FakeConsumer;
    join(fake);
    const resolved: string[] = [];
    const offsets = Array.from({ length: 1200 }, (_, i) => i);
    await fake.config?.eachBatch?.({ ...batchOf(offsets), resolveOffset: (offset: string) => resolved.push(offset) });
    // 1200 messages over a bound of 200: all are buffered (kafkajs would fetch and decode the rest again),
    // and kafkajs is told once per chunk of 500 where the worker got to.
    expect(resolved).toEqual(["499", "999", "1199"]);
    expect(consumer.paused).toBe(true);
    expect(fake.paused).toBe(true);
    // A later batch while full (the rest of the same fetch) is taken too; nothing is lost or repeated.
    await fake.config?.eachBatch?.({ ...batchOf([1200, 1201]), resolveOffset: (offset: string) => resolved.push(offset) });
    expect(resolved.at(-1)).toBe("1201");
    fake.commitsFinish = true;
    let done = false;
    const stopped = consumer.stop().then(() => {
      done = true;
    });
    for (let i = 0; i < 40 && !done; i++) {
      for (const write of writes) write.release();
      await tick();
    }
    await stopped;
    expect(writes.flatMap((write) => write.offsets)).toEqual([...offsets, 1200, 1201].map(String));
  });

  it("weighs a row by its line and any other item by its original bytes", () => {
    const message: RawMessage = { topic: "events", partition: 0, offset: "1", key: Buffer.alloc(10), value: Buffer.alloc(300) };
    const decoded = decodeMessage({ ...message, value: Buffer.from(JSON.stringify(makeEvent(1))) }, new ByteArena());
    if (decoded.kind !== "row") throw new Error("expected a row");
    const dead: Item = { kind: "dead", dead: { reason: "invalid_json", details: "", eventId: "", message } };
    expect(itemWeight(decoded) - itemWeight(dead)).toBe(lineOf(decoded).length - 310);
    expect(itemWeight(dead)).toBeGreaterThan(310);
  });
});
