import { type KafkaPosition, toTabSeparatedEventLine } from "@sluice/clickhouse";
import { CHANNELS, type EventMessage, LIMITS, validateEventMessage } from "@sluice/events";
import { bounded, eventId, mostly, optionalFields, shuffledObject } from "@sluice/events/testing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ByteArena } from "./arena";
import { fastLine } from "./fast-line";

const position: KafkaPosition = { topic: "events.main-1", partition: 3, offset: "1234567" };
/** Small chunks, so lines also land across chunk changes. */
const arena = new ByteArena(4096);

/** What both paths decide for a row: its line as text, and the values the exactly-once checks need. */
interface Decided {
  line: string;
  eventName: string;
  timestamp: number;
}

/** The general path: JSON.parse, the hand-written schema twin, the row encoder; undefined when not a row. */
function general(value: Buffer, at: KafkaPosition = position): Decided | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch {
    return undefined;
  }
  const result = validateEventMessage(parsed);
  if (!result.success) return undefined;
  const event: EventMessage = { ...result.data, event_id: result.data.event_id.toLowerCase() };
  return {
    line: toTabSeparatedEventLine(event, at),
    eventName: event.event_name,
    timestamp: event.timestamp,
  };
}

/** The line the fast path wrote last and its text then: the next call must leave it as it was. */
let previous: { bytes: Buffer; start: number; end: number; text: string } | undefined;

/** Whenever the fast path answers, the general path must give a row with exactly the same values. */
function agrees(value: Buffer, at: KafkaPosition = position): boolean {
  const fast = fastLine(value, at, arena);
  if (previous) expect(previous.bytes.toString("latin1", previous.start, previous.end)).toBe(previous.text);
  if (fast === undefined) return false;
  const { lineStart, lineEnd, ...values } = fast;
  const line = arena.chunk.toString("latin1", lineStart, lineEnd);
  expect({ line, ...values }).toEqual(general(value, at));
  previous = { bytes: arena.chunk, start: lineStart, end: lineEnd, text: line };
  return true;
}

const MARCH = Date.UTC(2026, 2, 1);

/** What the ingest app writes for a typical SDK event (the bench's shape). */
function typical(i: number): Record<string, unknown> {
  return {
    event_id: `0192f3a4-b5c6-7d8e-9fa0-${String(i).padStart(12, "0")}`,
    event_name: ["page_view", "signup", "purchase"][i % 3],
    user_id: `user-${i % 50}`,
    timestamp: MARCH + i * 2_591,
    channel: CHANNELS[i % CHANNELS.length],
    campaign_id: `campaign-${i % 40}`,
    session_id: `session-${Math.floor(i / 20)}`,
    metadata: { path: `/products/${i % 500}`, amount: (i % 1000) / 10, logged_in: i % 3 === 0, n: -i },
    user_properties: { plan: i % 2 ? "pro" : "free", age: 20 + (i % 50) },
    device: { category: "phone", os: i % 2 ? "ios" : "android", browser: "safari" },
    received_at: MARCH + 1000 + i,
  };
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

const integer = mostly(
  fc.integer({ min: LIMITS.minTimestampMs - 2, max: 4_102_444_800_000 }),
  fc.constantFrom(0, -1, 1.5, 2 ** 53, 1e15, 999_999_999_999_999),
);

const required = fc.record({
  event_id: eventId,
  event_name: bounded(0, LIMITS.eventName),
  user_id: bounded(0, LIMITS.userId),
  timestamp: integer,
  received_at: integer,
});
const optional = fc.record({ ...optionalFields, sent_at: integer }, { requiredKeys: [] });
const rare = mostly(
  fc.constant({}),
  fc.record({ items: fc.constant([{ id: "a", quantity: 1 }]), extra: fc.constant(1) }, { requiredKeys: [] }),
);
// Required fields are sometimes left out, and keys come in shuffled orders.
const message = shuffledObject([required, optional, rare], ["event_id", "user_id", "timestamp", "received_at"]);

describe("fastLine", () => {
  it("takes the ingest app's messages and writes the general path's line for them", () => {
    for (let i = 0; i < 2_000; i++) expect(agrees(json(typical(i)))).toBe(true);
    const minimal = { event_id: typical(1).event_id, event_name: "e", user_id: "u", timestamp: MARCH, received_at: 0 };
    expect(agrees(json(minimal))).toBe(true);
    expect(
      agrees(json({ ...typical(2), tags: ["a", "b c"], app: { id: "x", version: "1.0" }, sent_at: MARCH, metadata: {} })),
    ).toBe(true);
  });

  it("either agrees with the general path or declines, for arbitrary messages", () => {
    let fast = 0;
    fc.assert(
      fc.property(message, (event) => {
        if (agrees(json(event))) fast++;
      }),
      { numRuns: 3_000 },
    );
    // The generator is mostly made of fast-path text: a path that always declined would fail here.
    expect(fast).toBeGreaterThan(100);
  });

  it("either agrees with the general path or declines, for messages with a byte changed, cut or repeated", () => {
    const bytes = fc.constantFrom(...Buffer.from(" \"\\',:{}[]0123456789.-eEtrufalsn\t\nxé"));
    let fast = 0;
    fc.assert(
      fc.property(fc.nat(999), fc.nat(), bytes, fc.constantFrom("set", "insert", "delete", "duplicate"), (i, at, byte, how) => {
        const original = json(typical(i));
        const p = at % original.length;
        let value: Buffer;
        if (how === "set") {
          value = Buffer.from(original);
          value[p] = byte;
        } else if (how === "insert") value = Buffer.concat([original.subarray(0, p), Buffer.from([byte]), original.subarray(p)]);
        else if (how === "delete") value = Buffer.concat([original.subarray(0, p), original.subarray(p + 1)]);
        // A key repeated: JSON.parse keeps the last value in the first key's place.
        else value = Buffer.from(JSON.stringify(typical(i)).replace("{", `{"user_id":"dup-${p}",`));
        if (agrees(value)) fast++;
      }),
      { numRuns: 5_000 },
    );
    expect(fast).toBeGreaterThan(100);
  });

  it("either agrees with the general path or declines, for any JSON number text of a property", () => {
    const numberText = fc.stringMatching(/^-?(0|[1-9][0-9]{0,21})(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?$/);
    let fast = 0;
    fc.assert(
      fc.property(fc.nat(999), numberText, (i, digits) => {
        const value = Buffer.from(JSON.stringify(typical(i)).replace(/"amount":[^,}]*/, `"amount":${digits}`));
        if (agrees(value)) fast++;
      }),
      { numRuns: 3_000 },
    );
    expect(fast).toBeGreaterThan(100);
    for (const digits of ["-0", "-0.0", "1.0", "0.10", "12345678901234567890", "1.00000000000000000001", "0.0000001"]) {
      const value = Buffer.from(JSON.stringify(typical(1)).replace(/"amount":[^,}]*/, `"amount":${digits}`));
      expect(fastLine(value, position, arena)).toBeUndefined();
      expect(general(value)).toBeDefined();
    }
  });

  it("declines what it does not reproduce: whitespace, escapes, items, duplicate and index-like keys, odd numbers", () => {
    const base = typical(7);
    const declined = [
      JSON.stringify(base, null, 1),
      JSON.stringify({ ...base, user_id: "a\\u0062" }).replace("a\\\\u0062", "a\\u0062"),
      JSON.stringify({ ...base, items: [{ id: "a" }] }),
      JSON.stringify({ ...base, metadata: { "1": "x", b: 1 } }),
      JSON.stringify({ ...base, metadata: { __proto__: null } }).replace('"metadata":{}', '"metadata":{"__proto__":1}'),
      JSON.stringify(base).replace('"amount":', '"amount":1e1,"x":'),
      JSON.stringify(base).replace('"received_at":', '"received_at":1.0,"sent_at":'),
      JSON.stringify(base).replace('"path"', '"path":"a","path"'),
      JSON.stringify({ ...base, metadata: { a: -0.0000001 } }),
      JSON.stringify(base).replace('"os":', '"os":"a","os":'),
      JSON.stringify(base).replace('"plan":', '"plan":"a","plan":'),
      JSON.stringify({ ...base, app: { id: "x" } }).replace('"id":', '"id":"a","id":'),
    ];
    for (const text of declined) expect(fastLine(Buffer.from(text), position, arena)).toBeUndefined();
    // A topic TabSeparated would escape, or an offset that is not digits, goes the general way too.
    expect(fastLine(json(base), { ...position, topic: "a\tb" }, arena)).toBeUndefined();
    expect(fastLine(json(base), { ...position, offset: "-1" }, arena)).toBeUndefined();
    expect(agrees(json(base), { ...position, topic: "Events_2.x" })).toBe(true);
  });
});
