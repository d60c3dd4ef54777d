import { produceV9, produceV11, Reader, readRecordsBatch } from "@platformatic/kafka";
import { describe, expect, it } from "vitest";
import {
  encodeProduceRequest,
  FAST_PRODUCE_VERSIONS,
  fastProduceApi,
  type ProduceMessage,
  type ProduceOptions,
  recordSetMessage,
  SequenceBook,
} from "./produce-request";
import { readProduceRequest } from "./testing/produce";

/** A sequence map shaped like the producer's (per "topic:partition"). */
function sequences(entries: Record<string, number>): ProduceOptions["sequences"] {
  return { getWithDefault: (key, fallback) => entries[key] ?? fallback };
}

/** Messages over topics and partitions, with keys and values of every varint width, a null key and odd timestamps. */
function messages(seed: number): ProduceMessage[] {
  const out: ProduceMessage[] = [];
  const base = 1_795_000_000_000n;
  const sizes = [0, 1, 63, 64, 127, 128, 300, 8191, 8192, 70_000];
  for (let i = 0; i < 60; i += 1) {
    const size = sizes[(i + seed) % sizes.length] as number;
    out.push({
      topic: i % 7 === 0 ? "other-tópico" : "events",
      partition: (i * 5 + seed) % 4,
      key: i % 11 === 3 ? null : Buffer.from(`user-${i}-${"ü".repeat(i % 3)}`),
      value: Buffer.alloc(size, 97 + (i % 26)),
      headers: new Map(),
      // Out of order, equal, and far apart timestamps: deltas of both signs and several widths.
      timestamp: base + BigInt(((i * 7919) % 97) - 40) * BigInt(10 ** (i % 6)),
    });
  }
  return out;
}

const clone = (list: ProduceMessage[]) => list.map((message) => ({ ...message }));

describe("produce request encoder", () => {
  it("writes the bytes the library's encoder writes, for every produce version it takes over", () => {
    const options: ProduceOptions = {
      compression: "none",
      producerId: 4242n,
      producerEpoch: 3,
      sequences: sequences({ "events:1": 17, "events:2": 2_000_000_000, "other-tópico:0": 5 }),
    };
    for (const seed of [0, 1, 2, 3]) {
      const ours = encodeProduceRequest(-1, 5000, clone(messages(seed)), options);
      for (const library of [produceV9, produceV11]) {
        const theirs = library.createRequest(-1, 5000, clone(messages(seed)) as never, options as never).buffer;
        expect(ours.equals(theirs), `seed ${seed}`).toBe(true);
      }
    }
  });

  it("fills in the partition and the timestamp as the library does, and its records read back", () => {
    const before = BigInt(Date.now());
    const list: ProduceMessage[] = [
      { topic: "t", key: Buffer.from("k"), value: Buffer.from("v1") },
      { topic: "t", key: Buffer.from("k"), value: Buffer.from("v2") },
    ];
    const twin = clone(list);
    const ours = encodeProduceRequest(1, 100, list, { producerId: 7n, producerEpoch: 0 });
    const theirs = produceV11.createRequest(1, 100, twin as never, { producerId: 7n, producerEpoch: 0 } as never).buffer;
    expect(list[0]?.partition).toBe(0);
    expect(list[0]?.timestamp).toBeGreaterThanOrEqual(before);
    // The clock may tick between the two calls; the layout is the same either way.
    expect(ours.length).toBe(theirs.length);
    // transactional_id (1) acks (2) timeout (4) topics (1) name (2) partitions (1) index (4) records length (1)
    const batch = readRecordsBatch(Reader.from(ours.subarray(16)));
    expect(batch.producerId).toBe(7n);
    expect(batch.records.map((record) => record.value?.toString())).toEqual(["v1", "v2"]);
  });

  it("leaves compressed, transactional and header-carrying requests to the library", () => {
    const api = fastProduceApi(11);
    expect(api.version).toBe(11);
    expect(FAST_PRODUCE_VERSIONS).toEqual([9, 10, 11]);
    const sent: Buffer[] = [];
    const connection = {
      send: (_key: number, _version: number, create: () => { buffer: Buffer }) => sent.push(create().buffer),
    };
    const withHeaders: ProduceMessage[] = [
      {
        topic: "t",
        partition: 0,
        key: null,
        value: Buffer.from("x"),
        headers: new Map([[Buffer.from("h"), Buffer.from("v")]]),
        timestamp: 1n,
      },
    ];
    const gzip: ProduceOptions = { compression: "gzip", producerId: 1n, producerEpoch: 0 };
    api(connection as never, -1, 100, clone(withHeaders), {});
    api(connection as never, -1, 100, clone(messages(0)), gzip);
    expect(sent[0]?.equals(produceV11.createRequest(-1, 100, clone(withHeaders) as never, {} as never).buffer)).toBe(true);
    expect(sent[1]?.length).toBeLessThan(encodeProduceRequest(-1, 100, clone(messages(0)), gzip).length / 10);
  });
});

describe("record sets", () => {
  const T = 1_795_000_000_123n;
  /** Records of three partitions, with keys and values of every varint width and multi-byte UTF-8. */
  const byPartition = [0, 2, 1].map((partition) => ({
    partition,
    records: [0, 1, 63, 64, 8192, 70_000, 5].map((size, i) => ({
      key: Buffer.from(`user-${partition}-${i}-${"ü".repeat(i)}`),
      value: Buffer.alloc(size, 97 + i),
    })),
  }));
  const producer: ProduceOptions = { compression: "none", producerId: 4242n, producerEpoch: 3 };

  /** A book that has counted `next` records per partition for producer 4242, epoch 3. */
  function bookAt(next: Record<number, number>): SequenceBook {
    const book = new SequenceBook();
    book.baseSequence(4242n, 3, "events:0");
    for (const [partition, count] of Object.entries(next)) book.advance(4242n, 3, `events:${partition}`, count);
    return book;
  }

  it("write the bytes the library writes for the same records sent one by one, base sequences included", () => {
    const next = { 0: 17, 1: 0, 2: 2_000_000_000 };
    const book = bookAt(next);
    const ours = encodeProduceRequest(
      -1,
      5000,
      byPartition.map(({ partition, records }) => recordSetMessage("events", partition, records, book, T)),
      producer,
    );
    const oneByOne: ProduceMessage[] = byPartition.flatMap(({ partition, records }) =>
      records.map((record) => ({ topic: "events", partition, ...record, headers: new Map(), timestamp: T })),
    );
    for (const library of [produceV9, produceV11]) {
      const theirs = library.createRequest(
        -1,
        5000,
        clone(oneByOne) as never,
        {
          ...producer,
          sequences: sequences({ "events:0": 17, "events:2": 2_000_000_000 }),
        } as never,
      ).buffer;
      expect(ours.equals(theirs)).toBe(true);
    }
    const read = readProduceRequest(ours);
    expect(read.map((b) => [b.partition, b.batch.firstSequence, b.batch.records.length])).toEqual([
      [0, 17, 7],
      [1, 0, 7],
      [2, 2_000_000_000, 7],
    ]);
  });

  it("are rewritten with the same base sequence on a retry, and a new producer id or epoch starts again at 0", () => {
    const book = bookAt({ 0: 5 });
    const message = recordSetMessage("events", 0, byPartition[0]?.records ?? [], book, T);
    const first = encodeProduceRequest(-1, 5000, [{ ...message }], producer);
    expect(encodeProduceRequest(-1, 5000, [{ ...message }], producer).equals(first)).toBe(true);
    expect(readProduceRequest(first)[0]?.batch.firstSequence).toBe(5);
    const epochBumped = encodeProduceRequest(-1, 5000, [{ ...message }], { ...producer, producerEpoch: 4 });
    expect(readProduceRequest(epochBumped)[0]?.batch.firstSequence).toBe(0);
    // Counting under the old producer is ignored once the book moved on.
    book.advance(4242n, 3, "events:0", 7);
    expect(book.baseSequence(4242n, 4, "events:0")).toBe(0);
    expect(book.baseSequence(4243n, 4, "events:0")).toBe(0);
  });

  it("wrap their sequence numbers after 2^31 - 1 as the broker does", () => {
    const book = bookAt({ 0: 2 ** 31 - 3 });
    book.advance(4242n, 3, "events:0", 2);
    expect(book.baseSequence(4242n, 3, "events:0")).toBe(2 ** 31 - 1);
    book.advance(4242n, 3, "events:0", 1);
    expect(book.baseSequence(4242n, 3, "events:0")).toBe(0);
    book.advance(4242n, 3, "events:0", 2 ** 31 - 1);
    book.advance(4242n, 3, "events:0", 10);
    expect(book.baseSequence(4242n, 3, "events:0")).toBe(9);
  });

  it("must be alone in their partition, and are never handed to the library's encoder", () => {
    const book = new SequenceBook();
    const set = recordSetMessage("events", 0, byPartition[0]?.records ?? [], book, T);
    const other: ProduceMessage = { topic: "events", partition: 0, key: null, value: Buffer.from("x"), timestamp: T };
    // Errors the library does not retry: it would otherwise re-encode and fail again, without end.
    const notRetried = (message: RegExp) => expect.objectContaining({ message: expect.stringMatching(message), canRetry: false });
    expect(() => encodeProduceRequest(-1, 5000, [{ ...set }, other], producer)).toThrow(notRetried(/only message/));
    const connection = { send: (_key: number, _version: number, create: () => unknown) => create() };
    const gzip = { ...producer, compression: "gzip" };
    expect(() => fastProduceApi(11)(connection as never, -1, 100, [{ ...set }], gzip)).toThrow(notRetried(/record sets/));
  });
});
