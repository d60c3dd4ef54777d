import { randomUUID } from "node:crypto";
import {
  type API,
  compatibilityPartitioner,
  defaultPartitioner,
  kGetApi,
  kListApis,
  metadataV12,
  produceV8,
  produceV9,
  produceV10,
  produceV11,
} from "@platformatic/kafka";
import { describe, expect, it } from "vitest";
import { type IdempotentClient, javaPartitionHash, LaneClient, murmur2, toLaneProducer } from "./lane-producer";
import { encodeProduceRequest, type RecordInput } from "./produce-request";
import { kafkajsPartition } from "./testing/partitions";
import { readProduceRequest } from "./testing/produce";

/** 600 keys: the SDKs' user ids, UUIDs, every length from 0 to 40, and multi-byte UTF-8. */
const KEYS = [
  ...Array.from({ length: 200 }, (_, i) => `user-${i * 7919}`),
  ...Array.from({ length: 200 }, () => randomUUID()),
  ...Array.from({ length: 41 }, (_, n) => "k".repeat(n)),
  ...Array.from({ length: 80 }, (_, i) => `${String.fromCharCode(0x80 + i * 97)}-ü-名前-${i}`),
  ...Array.from({ length: 79 }, (_, i) => `acct:${i}/${"x".repeat(i % 13)}@example`),
];

describe("lane producer partitioning", () => {
  it("matches the Java client's murmur2 on its published test vectors", () => {
    const vectors: [string, number][] = [
      ["21", -973932308],
      ["foobar", -790332482],
      ["a-little-bit-long-string", -985981536],
      ["a-little-bit-longer-string", -1486304829],
      ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
      ["abc", 479470107],
    ];
    for (const [key, hash] of vectors) expect(murmur2(Buffer.from(key)), key).toBe(hash);
  });

  it("puts every key on the partition kafkajs's DefaultPartitioner picks, for any partition count", () => {
    expect(new Set(KEYS).size).toBe(KEYS.length);
    for (const partitions of [1, 2, 3, 6, 7, 12, 64, 100]) {
      const mismatches = KEYS.filter(
        (key) => javaPartitionHash(Buffer.from(key)) % partitions !== kafkajsPartition(key, partitions),
      );
      expect(mismatches, `${partitions} partitions`).toEqual([]);
    }
  });

  it("agrees with the library's Java-compatible partitioner, while its default one would move keys", () => {
    const moved = KEYS.filter((key) => {
      const buffer = Buffer.from(key);
      expect(javaPartitionHash(buffer)).toBe(compatibilityPartitioner(undefined as never, buffer));
      return defaultPartitioner(undefined as never, buffer) % 6 !== kafkajsPartition(key, 6);
    });
    // The library's default hashes to an unsigned int: a key whose hash has the sign bit set moves.
    expect(moved.length).toBeGreaterThan(KEYS.length / 4);
  });
});

type SentMessage = { topic: string; partition?: number; key?: Buffer; value: Buffer; timestamp?: bigint };

/** A client whose sends fail while `failing` is set; it records every call. */
class FakeClient {
  calls: string[] = [];
  failing = false;
  initFails = false;
  recordSets = true;
  partitions = 3;
  producerId: bigint | undefined;
  producerEpoch: number | undefined;
  sent: SentMessage[][] = [];

  initIdempotentProducer = async () => {
    this.calls.push("init");
    if (this.initFails) throw new Error("broker unreachable");
    this.producerId = BigInt(this.calls.length);
    this.producerEpoch = 0;
    return { producerId: this.producerId, producerEpoch: 0 };
  };

  writesRecordSets = async () => this.recordSets;

  metadataFails = false;

  metadata = async ({ topics }: { topics: string[] }) => {
    if (this.metadataFails) throw new Error("no metadata");
    return { topics: new Map(topics.map((topic) => [topic, { partitionsCount: this.partitions }])) };
  };

  send = async (options: { messages: SentMessage[] }) => {
    this.calls.push("send");
    if (this.failing) throw new Error("gave up");
    this.sent.push(options.messages);
    if (this.recordSets) this.requests.push(this.encode(options.messages));
    return {};
  };

  close = async () => {
    this.calls.push("close");
  };

  /** Record sets as the encoder writes them when the request goes out: partition, base sequence, records. */
  private encode(messages: SentMessage[]) {
    const options = { producerId: this.producerId ?? -1n, producerEpoch: this.producerEpoch ?? 0 };
    const body = encodeProduceRequest(
      -1,
      5000,
      messages.map((message) => ({ ...message })),
      options,
    );
    return readProduceRequest(body).map(({ partition, batch }) => ({
      partition,
      firstSequence: batch.firstSequence,
      records: batch.records.map((record) => [String(record.key), String(record.value)]),
    }));
  }

  /** The record sets of each request that went out. */
  requests: ReturnType<FakeClient["encode"]>[] = [];
}

const batch = (n: number, from = 0): RecordInput[] =>
  Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`user-${from + i}`), value: Buffer.from(`{"i":${from + i}}`) }));

describe("toLaneProducer", () => {
  it("sends each partition's records as one record set, on the partition of their key, in order", async () => {
    const client = new FakeClient();
    await toLaneProducer(client as unknown as IdempotentClient).sendBatch("events", batch(30));
    expect(client.sent).toHaveLength(1);
    expect(client.sent[0]?.every((message) => message.topic === "events")).toBe(true);
    const request = client.requests[0] ?? [];
    expect(request.map((set) => set.partition).sort()).toEqual([0, 1, 2]);
    for (const set of request) {
      for (const [key] of set.records) expect(javaPartitionHash(Buffer.from(key as string)) % 3).toBe(set.partition);
    }
    const records = request.flatMap((set) => set.records);
    expect(records.map(([, value]) => value).sort()).toEqual(
      batch(30)
        .map((r) => String(r.value))
        .sort(),
    );
    for (const set of request) {
      const order = set.records.map(([, value]) => (JSON.parse(value as string) as { i: number }).i);
      expect(order).toEqual([...order].sort((x, y) => x - y));
    }
  });

  it("counts a partition's sequence numbers only once its records are acknowledged", async () => {
    const client = new FakeClient();
    client.partitions = 1;
    const lane = toLaneProducer(client as unknown as IdempotentClient);
    await lane.connect();
    await lane.sendBatch("events", batch(4));
    await lane.sendBatch("events", batch(3, 4));
    expect(client.requests[0]?.[0]?.firstSequence).toBe(0);
    expect(client.requests[1]?.[0]?.firstSequence).toBe(4);
    client.failing = true;
    await expect(lane.sendBatch("events", batch(2, 7))).rejects.toThrow("gave up");
    client.failing = false;
    // The failed request was not counted, and the next one goes out under a new producer id from 0.
    await lane.sendBatch("events", batch(2, 7));
    expect(client.calls).toEqual(["init", "send", "send", "send", "init", "send"]);
    expect(client.requests[2]?.[0]?.firstSequence).toBe(0);
    await lane.sendBatch("events", batch(1, 9));
    expect(client.requests[3]?.[0]?.firstSequence).toBe(2);
  });

  it("keeps its producer id when a request fails before it went out", async () => {
    const client = new FakeClient();
    const lane = toLaneProducer(client as unknown as IdempotentClient);
    await lane.connect();
    client.metadataFails = true;
    await expect(lane.sendBatch("events", batch(2))).rejects.toThrow("no metadata");
    client.metadataFails = false;
    await lane.sendBatch("events", batch(2));
    expect(client.calls).toEqual(["init", "send"]);
  });

  it("sends records one message each where the broker's Produce version is not the encoder's", async () => {
    const client = new FakeClient();
    client.recordSets = false;
    await toLaneProducer(client as unknown as IdempotentClient).sendBatch("events", batch(3));
    expect(client.sent[0]?.map((m) => [m.topic, String(m.key), String(m.value)])).toEqual([
      ["events", "user-0", '{"i":0}'],
      ["events", "user-1", '{"i":1}'],
      ["events", "user-2", '{"i":2}'],
    ]);
  });

  it("after the producer gives up on a request, takes a new producer id before the next one (no sequence number reused)", async () => {
    const client = new FakeClient();
    const lane = toLaneProducer(client as unknown as IdempotentClient);
    await lane.sendBatch("events", batch(1));
    client.failing = true;
    await expect(lane.sendBatch("events", batch(1))).rejects.toThrow("gave up");
    client.failing = false;
    client.initFails = true;
    // No new id yet: the request must not go out on the old one.
    await expect(lane.sendBatch("events", batch(1))).rejects.toThrow("broker unreachable");
    client.initFails = false;
    await lane.sendBatch("events", batch(1));
    await lane.sendBatch("events", batch(1));
    expect(client.calls).toEqual(["send", "send", "init", "init", "send", "send"]);
  });
});

const apis = { produceV8, produceV9, produceV10, produceV11, metadataV12 };

describe("LaneClient", () => {
  /** A lane client whose broker lists the given Produce versions, without any connection. */
  function clientWithProduce(maxVersion: number) {
    const client = new LaneClient({ clientId: "t", bootstrapBrokers: ["127.0.0.1:1"] });
    (client as unknown as Record<symbol, unknown>)[kListApis] = (callback: (error: null, apis: unknown[]) => void) =>
      callback(null, [
        { name: "Produce", apiKey: 0, minVersion: 3, maxVersion },
        { name: "Metadata", apiKey: 3, minVersion: 0, maxVersion: 12 },
      ]);
    const api = (name: string) =>
      new Promise<API<unknown[], unknown>>((resolve, reject) =>
        client[kGetApi](name, (error, found) => (error ? reject(error) : resolve(found as API<unknown[], unknown>))),
      );
    return { client, api };
  }

  it("produces with the one-buffer encoder on brokers that speak Produce v9–v11, and leaves other APIs alone", async () => {
    for (const version of [9, 10, 11]) {
      const { client, api } = clientWithProduce(version);
      const produce = await api("Produce");
      expect(produce.version).toBe(version);
      expect(produce).not.toBe(apis[`produceV${version}` as "produceV9"].api);
      expect(await api("Metadata")).toBe(apis.metadataV12.api);
      await client.close();
    }
  });

  it("keeps the library's encoder for older brokers", async () => {
    const { client, api } = clientWithProduce(8);
    expect(await api("Produce")).toBe(apis.produceV8.api);
    await client.close();
  });
});
