import { AppError } from "@sluice/http";
import { createLogger } from "@sluice/logger";
import { createRegistry } from "@sluice/metrics";
import { describe, expect, it, vi } from "vitest";
import { createKafkaPublisher, type KafkaPublisherOptions } from "./kafka-publisher";
import type { RecordInput } from "./produce-request";
import { encodeMessages, type MessageText } from "./publisher";

/** A producer whose sendBatch calls are recorded and acknowledged only when the test says so. */
class FakeProducer {
  readonly batches: { key: string; value: string }[][] = [];
  readonly topics: string[] = [];
  private pending: { resolve(): void; reject(error: Error): void }[] = [];
  autoAck = false;

  sendBatch = (topic: string, batch: readonly RecordInput[]): Promise<void> => {
    const messages = batch.map((m) => ({ key: String(m.key), value: String(m.value) }));
    this.topics.push(topic);
    this.batches.push(messages);
    if (this.autoAck) return Promise.resolve();
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  };

  get outstanding(): number {
    return this.pending.length;
  }

  ackAll(): void {
    for (const p of this.pending.splice(0)) p.resolve();
  }

  failAll(): void {
    for (const p of this.pending.splice(0)) p.reject(new Error("broker gone"));
  }
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

function build(overrides: Partial<KafkaPublisherOptions> = {}, lanes = 1) {
  const producers = Array.from({ length: lanes }, () => new FakeProducer());
  const publisher = createKafkaPublisher({
    producers,
    topic: "t",
    batchSize: 500,
    lingerMs: 2,
    maxFlushBytes: 1_000_000,
    maxInFlight: 10_000,
    timeoutMs: 1000,
    registry: createRegistry("test"),
    logger: createLogger({ name: "test", level: "silent" }),
    ...overrides,
  });
  return { publisher, producers, producer: producers[0] as FakeProducer };
}

const msg = (i: number, key = `u${i}`) => ({ key: Buffer.from(key), value: Buffer.from(JSON.stringify({ i })) });

async function settled(promise: Promise<void>): Promise<"resolved" | AppError | "pending"> {
  return Promise.race([
    promise.then(
      () => "resolved" as const,
      (e: AppError) => e,
    ),
    tick(5).then(() => "pending" as const),
  ]);
}

describe("kafka publisher", () => {
  it("coalesces concurrent publishes into one produce request and resolves each only on ack", async () => {
    const { publisher, producer } = build();
    const calls = Array.from({ length: 20 }, (_, i) => publisher.publish([msg(i)]));
    await tick(10);
    expect(producer.batches).toHaveLength(1);
    expect(producer.batches[0]).toHaveLength(20);
    expect(producer.topics).toEqual(["t"]);
    expect(await settled(calls[0] as Promise<void>)).toBe("pending");
    producer.ackAll();
    await Promise.all(calls);
    expect(publisher.inFlight).toBe(0);
  });

  it("flushes at once when the batch size is reached, without waiting for the linger", async () => {
    const { publisher, producer } = build({ batchSize: 3, lingerMs: 10_000 });
    const first = publisher.publish([msg(1), msg(2)]);
    await tick(5);
    expect(producer.batches).toHaveLength(0);
    const second = publisher.publish([msg(3)]);
    await tick(1);
    expect(producer.batches).toHaveLength(1);
    producer.ackAll();
    await Promise.all([first, second]);
  });

  it("keeps one request outstanding per lane; what arrives meanwhile forms the next batch", async () => {
    const { publisher, producer } = build();
    const first = publisher.publish([msg(1)]);
    await tick(5);
    const second = publisher.publish([msg(2), msg(3)]);
    await tick(5);
    expect(producer.batches).toHaveLength(1);
    producer.ackAll();
    await first;
    await tick(1);
    expect(producer.batches).toHaveLength(2);
    expect(producer.batches[1]?.map((m) => m.key)).toEqual(["u2", "u3"]);
    producer.ackAll();
    await second;
  });

  it("splits produce requests by bytes", async () => {
    const { publisher, producer } = build({ maxFlushBytes: 200 });
    producer.autoAck = true;
    await publisher.publish(Array.from({ length: 10 }, (_, i) => msg(i)));
    expect(producer.batches.length).toBeGreaterThan(2);
    expect(producer.batches.flat()).toHaveLength(10);
  });

  it("routes each key to one lane so a user's events stay in order", async () => {
    const { publisher, producers } = build({}, 4);
    for (const p of producers) p.autoAck = true;
    await Promise.all(Array.from({ length: 200 }, (_, i) => publisher.publish([msg(i, `user-${i % 20}`)])));
    const lanesOfKey = new Map<string, Set<number>>();
    producers.forEach((p, lane) => {
      for (const m of p.batches.flat()) lanesOfKey.set(m.key, (lanesOfKey.get(m.key) ?? new Set()).add(lane));
    });
    expect([...lanesOfKey.values()].every((set) => set.size === 1)).toBe(true);
    expect(producers.filter((p) => p.batches.length > 0).length).toBeGreaterThan(1);
  });

  it("rejects with UNAVAILABLE and Retry-After when no ack arrives in time, then fails fast while stalled", async () => {
    const { publisher, producer } = build({ timeoutMs: 50 });
    const started = Date.now();
    const error = await publisher.publish([msg(1)]).catch((e: AppError) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("UNAVAILABLE");
    expect((error as AppError).retryAfterSeconds).toBe(1);
    expect(Date.now() - started).toBeLessThan(500);
    await tick(20);
    // The produce request is still outstanding past the timeout: the next caller is answered at once.
    expect(await settled(publisher.publish([msg(2)]))).toMatchObject({ code: "UNAVAILABLE" });
    producer.ackAll();
  });

  it("drops queued messages of callers that already gave up", async () => {
    const { publisher, producer } = build({ timeoutMs: 30 });
    const first = publisher.publish([msg(1)]).catch(() => undefined);
    // The second caller must arrive while the first produce request is outstanding (on a loaded
    // machine a fixed pause can end before the linger flush, and both would share one request).
    await vi.waitFor(() => expect(producer.batches).toHaveLength(1), { timeout: 1000, interval: 1 });
    const second = publisher.publish([msg(2)]).catch((e: AppError) => e);
    expect(await second).toMatchObject({ code: "UNAVAILABLE" });
    producer.ackAll();
    await first;
    await tick(5);
    expect(producer.batches.flat().map((m) => m.key)).toEqual(["u1"]);
    expect(publisher.inFlight).toBe(0);
  });

  it("answers 503 at once beyond the in-flight bound instead of queueing", async () => {
    const { publisher, producer } = build({ maxInFlight: 5 });
    const held = publisher.publish([msg(1), msg(2), msg(3), msg(4)]);
    await expect(publisher.publish([msg(5), msg(6)])).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await tick(5);
    producer.ackAll();
    await held;
  });

  it("fails every caller of a produce request the broker rejected", async () => {
    const { publisher, producer } = build();
    const calls = [publisher.publish([msg(1)]), publisher.publish([msg(2)])].map((p) => p.catch((e: AppError) => e.code));
    await tick(5);
    producer.failAll();
    expect(await Promise.all(calls)).toEqual(["UNAVAILABLE", "UNAVAILABLE"]);
  });

  it("close() waits for outstanding messages and then refuses new ones", async () => {
    const { publisher, producer } = build({ lingerMs: 10_000 });
    const pending = publisher.publish([msg(1)]);
    const closing = publisher.close();
    await tick(5);
    expect(producer.batches).toHaveLength(1);
    expect(await settled(closing)).toBe("pending");
    producer.ackAll();
    await pending;
    await closing;
    await expect(publisher.publish([msg(2)])).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});

describe("encodeMessages", () => {
  const encodeEach = (messages: MessageText[]) => messages.map((m) => ({ key: Buffer.from(m.key), value: Buffer.from(m.value) }));

  it("gives each message the UTF-8 bytes of its key and value, whether the call is all ASCII or not", () => {
    const ascii: MessageText[] = Array.from({ length: 50 }, (_, i) => ({
      key: `user-${i}`,
      value: `{"n":${"9".repeat(i)}}`,
    }));
    const mixed: MessageText[] = [
      ...ascii.slice(0, 3),
      { key: "名前-ü", value: '{"city":"Zürich","emoji":"😀"}' },
      { key: "\ud800", value: '{"lone":"\\ud800"}' },
      { key: "", value: "{}" },
    ];
    for (const messages of [ascii, mixed, [{ key: "", value: "" }]]) {
      expect(encodeMessages(messages)).toEqual(encodeEach(messages));
    }
  });
});
