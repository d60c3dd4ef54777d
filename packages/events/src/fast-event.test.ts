import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createFastEventReader, type FastEvent } from "./fast-event";
import { batchEnvelopeSchema, CHANNELS, LIMITS, serializeEventMessage } from "./schema";
import { bounded, eventId, mostly, optionalFields, shuffledObject } from "./testing";
import { createEventValidator } from "./validate";

const NOW = Date.UTC(2026, 10, 1);
const SKEW = 86_400_000;
const RECEIVED = NOW + 5;
const options = { maxFutureSkewMs: SKEW, now: () => NOW };
const fast = createFastEventReader(options);
const validate = createEventValidator(options);
const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** An event with its message and key as text, as the general path makes them. */
type TextEvent = Omit<FastEvent, "value" | "key"> & { value: string; key: string };

/** A fast-path event with its message and key bytes decoded. */
const asText = (event: FastEvent): TextEvent => ({
  ...event,
  value: event.value.toString("utf8"),
  key: event.key.toString("utf8"),
});

/** The general path for one event: the hand-written validator (zod's twin) and serializeEventMessage. */
function generalEvent(input: unknown, sentAt?: number): TextEvent | undefined {
  const result = validate(input);
  if (!result.success) return undefined;
  const event = result.data;
  return {
    value: serializeEventMessage(event, RECEIVED, sentAt),
    key: event.user_id,
    eventId: event.event_id,
    campaignId: event.campaign_id,
  };
}

function parse(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

/** A generated event_id differs between the paths; both must be UUIDv7s, in the same place. */
function withoutFreshId(event: TextEvent, given: boolean): TextEvent {
  if (given) return event;
  expect(event.eventId).toMatch(V7);
  return { ...event, value: event.value.replace(event.eventId, "(fresh)"), eventId: "(fresh)" };
}

const hasId = (input: unknown) => typeof input === "object" && input !== null && "event_id" in input;

/** Whenever the fast path takes a single-event body, the general path must publish exactly the same message. */
function agreesOne(body: Buffer): boolean {
  const taken = fast.one(body, RECEIVED);
  if (taken === undefined) return false;
  const input = parse(body);
  const general = generalEvent(input);
  expect(general).toBeDefined();
  expect(withoutFreshId(asText(taken), hasId(input))).toEqual(withoutFreshId(general as TextEvent, hasId(input)));
  return true;
}

/** Whenever the fast path takes a batch, the general path must accept every event with the same messages. */
function agreesBatch(body: Buffer): boolean {
  const taken = fast.batch(body, RECEIVED);
  if (taken === undefined) return false;
  const envelope = batchEnvelopeSchema.safeParse(parse(body));
  expect(envelope.success).toBe(true);
  const { events, sent_at: sentAt } = envelope.data as { events: unknown[]; sent_at?: number };
  expect(taken).toHaveLength(events.length);
  events.forEach((input, i) => {
    const general = generalEvent(input, sentAt);
    expect(general).toBeDefined();
    expect(withoutFreshId(asText(taken[i] as FastEvent), hasId(input))).toEqual(
      withoutFreshId(general as TextEvent, hasId(input)),
    );
  });
  return true;
}

/** What web and mobile SDKs send (the bench's shape, with the usual extras). */
function typical(i: number): Record<string, unknown> {
  return {
    event_id: `0192f3a4-b5c6-7d8e-9fa0-${String(i).padStart(12, "0")}`,
    event_name: ["page_view", "signup", "purchase"][i % 3],
    user_id: `user-${i % 50}`,
    timestamp: NOW - i * 2_591,
    channel: CHANNELS[i % CHANNELS.length],
    campaign_id: `campaign-${i % 40}`,
    session_id: `session-${Math.floor(i / 20)}`,
    tags: ["bench", "ingest"],
    metadata: { path: `/products/${i % 500}`, amount: (i % 1000) / 10, logged_in: i % 3 === 0, n: -i },
    user_properties: { plan: i % 2 ? "pro" : "free", age: 20 + (i % 50) },
    device: { category: "phone", os: i % 2 ? "ios" : "android", browser: "safari" },
  };
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

const millis = mostly(
  fc.integer({ min: LIMITS.minTimestampMs - 2, max: NOW + SKEW + 2 }),
  fc.constantFrom(0, -1, 1.5, 2 ** 53, 1e15, 999_999_999_999_999, NOW + SKEW, NOW + SKEW + 1),
);
const timestamp = fc.oneof(
  { weight: 3, arbitrary: millis },
  {
    weight: 1,
    arbitrary: mostly(
      fc.integer({ min: LIMITS.minTimestampMs, max: NOW + SKEW }).map((ms) => new Date(ms).toISOString()),
      fc.constantFrom("2026-11-01", "2026-11-01T00:00:00+01:00", "2026-13-01T00:00:00Z", "yesterday", ""),
    ),
  },
);
const required = fc.record({
  event_name: bounded(0, LIMITS.eventName),
  user_id: bounded(0, LIMITS.userId),
  timestamp,
});
const optional = fc.record({ event_id: eventId, ...optionalFields }, { requiredKeys: [] });
const rare = mostly(
  fc.constant({}),
  fc.record(
    {
      items: fc.constant([{ id: "a", quantity: 1 }]),
      extra: fc.constant(1),
      received_at: fc.constant(1),
      channel: fc.constant(null),
    },
    { requiredKeys: [] },
  ),
);
// Required fields are sometimes left out, and keys come in shuffled orders.
const event = shuffledObject([required, optional, rare], ["event_name", "user_id", "timestamp"]);

describe("createFastEventReader", () => {
  it("takes the SDKs' events and writes the general path's messages for them", () => {
    for (let i = 0; i < 2_000; i++) expect(agreesOne(json(typical(i)))).toBe(true);
    const minimal = { event_name: "e", user_id: "u", timestamp: NOW };
    expect(agreesOne(json(minimal))).toBe(true);
    expect(agreesOne(json({ ...minimal, timestamp: "2026-10-31T12:00:00.123Z", tags: [], app: { id: "x" }, device: {} }))).toBe(
      true,
    );
    expect(agreesOne(json({ ...typical(3), event_id: typical(3).event_id?.toString().toUpperCase() }))).toBe(true);
    const taken = fast.one(json(typical(4)), RECEIVED);
    expect(taken?.key.toString()).toBe("user-4");
    expect(taken?.campaignId).toBe("campaign-4");
    expect(fast.one(json(minimal), RECEIVED)?.campaignId).toBeUndefined();
  });

  it("takes batches whole, with or without sent_at, in either key order", () => {
    const events = Array.from({ length: 100 }, (_, i) => typical(i));
    expect(agreesBatch(json({ events }))).toBe(true);
    expect(agreesBatch(json({ events, sent_at: NOW - 3 }))).toBe(true);
    expect(agreesBatch(json({ sent_at: 0, events: [{ event_name: "e", user_id: "u", timestamp: NOW }] }))).toBe(true);
    const full = Array.from({ length: LIMITS.batchEvents }, (_, i) => typical(i));
    expect(agreesBatch(json({ events: full }))).toBe(true);
  });

  it("either agrees with the general path or declines, for arbitrary events", () => {
    let taken = 0;
    fc.assert(
      fc.property(event, (input) => {
        if (agreesOne(json(input))) taken++;
      }),
      { numRuns: 3_000 },
    );
    // The generator is mostly made of fast-path text: a path that always declined would fail here.
    expect(taken).toBeGreaterThan(100);
  });

  it("either agrees with the general path or declines, for arbitrary batches", () => {
    const envelope = fc.record(
      { events: fc.array(event, { minLength: 0, maxLength: 4 }), sent_at: mostly(fc.nat(), fc.constantFrom(-1, 1.5)) },
      { requiredKeys: [] },
    );
    let taken = 0;
    fc.assert(
      fc.property(envelope, fc.boolean(), (input, extra) => {
        if (agreesBatch(json(extra ? { ...input, more: 1 } : input))) taken++;
      }),
      { numRuns: 2_000 },
    );
    expect(taken).toBeGreaterThan(10);
  });

  it("either agrees with the general path or declines, for bodies with a byte changed, cut or repeated", () => {
    const bytes = fc.constantFrom(...Buffer.from(" \"\\',:{}[]0123456789.-eEtrufalsn\t\nxé"));
    let taken = 0;
    fc.assert(
      fc.property(
        fc.nat(999),
        fc.nat(),
        bytes,
        fc.constantFrom("set", "insert", "delete", "duplicate"),
        fc.boolean(),
        (i, at, byte, how, batch) => {
          const text = JSON.stringify(batch ? { events: [typical(i), typical(i + 1)], sent_at: NOW } : typical(i));
          const original = Buffer.from(text);
          const p = at % original.length;
          let body: Buffer;
          if (how === "set") {
            body = Buffer.from(original);
            body[p] = byte;
          } else if (how === "insert") body = Buffer.concat([original.subarray(0, p), Buffer.from([byte]), original.subarray(p)]);
          else if (how === "delete") body = Buffer.concat([original.subarray(0, p), original.subarray(p + 1)]);
          // A key repeated: JSON.parse keeps the last value in the first key's place.
          else body = Buffer.from(text.replace('{"event_id', `{"user_id":"dup-${p}","event_id`));
          if (batch ? agreesBatch(body) : agreesOne(body)) taken++;
        },
      ),
      { numRuns: 5_000 },
    );
    expect(taken).toBeGreaterThan(100);
  });

  it("declines what it does not reproduce or what is invalid, leaving the verdict to the general path", () => {
    const base = typical(7);
    const declinedOne = [
      JSON.stringify(base, null, 1),
      `${JSON.stringify(base)}\n`,
      JSON.stringify({ ...base, user_id: "O'Brien" }),
      JSON.stringify({ ...base, items: [{ id: "a" }] }),
      JSON.stringify({ ...base, metadata: { "1": "x", b: 1 } }),
      JSON.stringify(base).replace('"amount":', '"amount":1e1,"x":'),
      JSON.stringify(base).replace('"path"', '"path":"a","path"'),
      JSON.stringify(base).replace('"os":', '"os":"a","os":'),
      JSON.stringify({ ...base, timestamp: NOW + SKEW + 1 }),
      JSON.stringify({ ...base, timestamp: LIMITS.minTimestampMs - 1 }),
      JSON.stringify({ ...base, timestamp: `${NOW}` }),
      JSON.stringify({ ...base, timestamp: 1.5 }),
      JSON.stringify({ ...base, channel: "fax" }),
      JSON.stringify({ ...base, event_id: "not-a-uuid" }),
      JSON.stringify({ ...base, event_name: "" }),
      JSON.stringify({ ...base, tags: Array.from({ length: LIMITS.tags + 1 }, () => "t") }),
      JSON.stringify({ ...base, received_at: NOW }),
      JSON.stringify({ event_name: "e", user_id: "u" }),
      "{}",
      "[]",
      "",
    ];
    for (const body of declinedOne) expect(fast.one(Buffer.from(body), RECEIVED)).toBeUndefined();
    const events = [typical(1), typical(2)];
    const declinedBatch = [
      { events: [] },
      { events, sent_at: -1 },
      { events, extra: 1 },
      { events: [...events, { ...typical(3), channel: "fax" }] },
      { events: Array.from({ length: LIMITS.batchEvents + 1 }, (_, i) => typical(i)) },
      events,
    ];
    for (const body of declinedBatch) expect(fast.batch(json(body), RECEIVED)).toBeUndefined();
    expect(
      fast.batch(Buffer.from(JSON.stringify({ events }).replace('{"events":', '{"events":[],"events":')), RECEIVED),
    ).toBeUndefined();
  });
});
