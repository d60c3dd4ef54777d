import { produceV9, produceV11, Reader, readRecordsBatch } from "@platformatic/kafka";
import { describe, expect, it } from "vitest";
import {
  encodeProduceRequest,
  FAST_PRODUCE_VERSIONS,
  fastProduceApi,
  type ProduceMessage,
  type ProduceOptions,
} from "./produce-request";

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
