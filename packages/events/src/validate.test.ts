import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CHANNELS,
  createEventInputSchema,
  createEventValidator,
  eventMessageSchema,
  LIMITS,
  toEventMessage,
  toFieldIssues,
  validateEventMessage,
} from "./index";

// The hand-written validators must agree with the zod schemas (the declared contract) on every input:
// same verdict, same issues in the same order, same output. Seeded so a failure reproduces.
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_123);
const RUNS = Number(process.env.FUZZ_RUNS ?? 600);
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const SKEW = 300_000;
const now = () => NOW;
const schema = createEventInputSchema({ maxFutureSkewMs: SKEW, now });
const validate = createEventValidator({ maxFutureSkewMs: SKEW, now });
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Asserts both validators agree on one client event; returns whether it was valid. */
function agreeOnEvent(input: unknown): boolean {
  const expected = schema.safeParse(input);
  const actual = validate(input);
  if (!expected.success) {
    expect(actual).toEqual({ success: false, issues: toFieldIssues(expected.error) });
    return false;
  }
  expect(actual.success).toBe(true);
  if (!actual.success) return false;
  // The same key order as zod's output, so a message serializes alike whichever validated it.
  const defined = (value: object) => Object.keys(value).filter((key) => (value as Record<string, unknown>)[key] !== undefined);
  expect(defined(actual.data)).toEqual(defined(expected.data));
  const given = (input as { event_id?: unknown }).event_id;
  if (given === undefined) {
    // Both assign a fresh UUIDv7; the values differ by construction.
    expect(actual.data.event_id).toMatch(UUID_V7);
    expect({ ...actual.data, event_id: "" }).toEqual({ ...expected.data, event_id: "" });
  } else {
    expect(actual.data).toEqual(expected.data);
  }
  return true;
}

/** Asserts both validators agree on one Kafka message; returns whether it was valid. */
function agreeOnMessage(input: unknown): boolean {
  const expected = eventMessageSchema.safeParse(input);
  const actual = validateEventMessage(input);
  if (!expected.success) {
    expect(actual).toEqual({ success: false, issues: toFieldIssues(expected.error) });
    return false;
  }
  expect(actual).toEqual({ success: true, data: expected.data });
  if (actual.success) expect(Object.keys(actual.data)).toEqual(Object.keys(expected.data));
  return true;
}

/** Runs a property and checks that valid inputs were a fair share, so outputs were compared too. */
function assertAgreement<T>(arbitrary: fc.Arbitrary<T>, agree: (input: T) => boolean, numRuns: number, minValidShare: number) {
  let valid = 0;
  fc.assert(
    fc.property(arbitrary, (input) => {
      if (agree(input)) valid += 1;
    }),
    { seed: SEED, numRuns },
  );
  expect(valid / numRuns).toBeGreaterThanOrEqual(minValidShare);
}

// Strings measured in code points near a bound: ASCII, surrogate pairs (two units, one code point) and
// lone surrogates (one each), so unit and code-point lengths fall on both sides of the limit.
const piece = fc.constantFrom("x", "é", "\u{1F600}", "\ud800", "\udc00", ".", "");
const near = (max: number) =>
  fc.tuple(fc.integer({ min: Math.max(0, max - 2), max: max + 2 }), fc.array(piece, { maxLength: 6 })).map(([n, extra]) => {
    const pad = extra.join("");
    return "x".repeat(Math.max(0, n - extra.length)) + pad;
  });
const emojiNear = (max: number) => fc.integer({ min: Math.max(0, max - 1), max: max + 1 }).map((n) => "\u{1F600}".repeat(n));
const shortText = fc.string({ unit: "binary", maxLength: 12 });
/** Mostly `valid`, now and then `other`: enough valid events for outputs to be compared, enough of the rest. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<U>, weight = 30) =>
  fc.oneof({ weight, arbitrary: valid as fc.Arbitrary<T | U> }, { weight: 1, arbitrary: other as fc.Arbitrary<T | U> });
const bounded = (max: number, min = 0) =>
  mostly(fc.string({ unit: "binary", minLength: min, maxLength: Math.min(max, 24) }), fc.oneof(near(max), emojiNear(max)), 40);

/** Values of every JSON type and the awkward ones a gRPC conversion could hand over. */
const edgy: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    undefined,
    true,
    false,
    0,
    -0,
    1.5,
    -1,
    -1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.MAX_SAFE_INTEGER + 2,
    -Number.MAX_SAFE_INTEGER - 2,
    1e300,
    -1e300,
    LIMITS.itemQuantity,
    LIMITS.itemQuantity + 1,
    LIMITS.minTimestampMs - 1,
    "",
    "web",
    "0190a0b0-0000-7000-8000-000000000001",
    "2026-11-22T11:00:00Z",
    [],
    {},
    [1, "a"],
    { a: 1 },
    new Date(NOW),
    Object.create(null),
    // Anything with a length meets zod's length bounds even after a type mismatch.
    { length: 300 },
    { length: "x" },
    { length: [5] },
    { length: null },
    Array.from({ length: 300 }, () => 1),
    "x".repeat(120),
  ),
  fc.jsonValue({ maxDepth: 2 }),
  shortText,
  fc.integer(),
  fc.double(),
);

const timestamp = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: LIMITS.minTimestampMs - 2, max: NOW + SKEW + 2 }) },
  fc.constantFrom(NOW, NOW + SKEW, NOW + SKEW + 1, LIMITS.minTimestampMs, LIMITS.minTimestampMs - 1, NOW + 0.5),
  fc
    .date({ min: new Date(LIMITS.minTimestampMs - 5000), max: new Date(NOW + SKEW + 5000), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constantFrom(
    "2026-11-22",
    "2026-11-22T13:00:00+02:00",
    "2026-11-22T13:00:00+0200",
    "2026-11-22 11:00",
    "2026-11-22T11:00:00.123456789Z",
    "2026-13-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "22/11/2026",
    String(NOW),
    "",
  ),
  edgy,
);

const propertyValue = mostly(
  fc.oneof(shortText, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()),
  fc.oneof(near(LIMITS.propertyStringLength), edgy),
  30,
);
const propertyKey = mostly(
  fc.string({ unit: "binary", minLength: 1, maxLength: 10 }),
  fc.oneof(near(LIMITS.propertyKeyLength), fc.constantFrom("", "__proto__", "constructor", "toString", "0", "a.b")),
  30,
);
const entries = (maxKeys: number) =>
  mostly(
    fc.array(fc.tuple(propertyKey, propertyValue), { maxLength: 6 }),
    fc
      .integer({ min: maxKeys - 1, max: maxKeys + 2 })
      .chain((n) =>
        fc
          .array(fc.tuple(propertyKey, propertyValue), { maxLength: 2 })
          .map((extra) => [...Array.from({ length: n }, (_, i): [string, unknown] => [`k${i}`, i]), ...extra]),
      ),
    8,
  );
/** Built through JSON.parse so `__proto__` becomes an own key, as it does in a request body. */
const properties = (maxKeys: number) =>
  entries(maxKeys).map((list) => {
    const json = list
      .filter(([, value]) => value !== undefined && typeof value !== "object")
      .map(
        ([key, value]) =>
          `${JSON.stringify(key)}:${Number.isFinite(value) || typeof value !== "number" ? JSON.stringify(value) : "null"}`,
      );
    const object = JSON.parse(`{${json.join(",")}}`) as Record<string, unknown>;
    for (const [key, value] of list)
      if (key !== "__proto__" && (value === undefined || typeof value === "object")) object[key] = value;
    return object;
  });

const withExtras = <T extends Record<string, unknown>>(arb: fc.Arbitrary<T>) =>
  fc
    .tuple(
      arb,
      mostly(
        fc.constant(null),
        fc.dictionary(fc.oneof(shortText, fc.constantFrom("__proto__", "")), edgy, { minKeys: 1, maxKeys: 2 }),
        15,
      ),
    )
    .map(([value, extra]) => (extra === null ? value : { ...value, ...extra }));

const device = withExtras(
  fc.record(
    Object.fromEntries(
      ["category", "brand", "model", "os", "os_version", "browser", "browser_version", "language", "hostname"].map((key) => [
        key,
        bounded(LIMITS.deviceFieldLength),
      ]),
    ),
    { requiredKeys: [] },
  ),
);
const app = withExtras(
  fc.record({ id: bounded(LIMITS.appFieldLength), version: bounded(LIMITS.appFieldLength) }, { requiredKeys: [] }),
);
const item = withExtras(
  fc.record(
    {
      id: bounded(LIMITS.itemFieldLength),
      name: bounded(LIMITS.itemFieldLength),
      brand: mostly(bounded(LIMITS.itemFieldLength), edgy),
      variant: bounded(LIMITS.itemFieldLength),
      price: mostly(fc.double({ noNaN: true, noDefaultInfinity: true }), edgy),
      quantity: mostly(fc.integer({ min: -2, max: LIMITS.itemQuantity + 2 }), edgy),
    },
    { requiredKeys: [] },
  ),
);
const listNear = <T>(arb: fc.Arbitrary<T>, max: number) =>
  fc.oneof(
    { weight: 10, arbitrary: fc.array(arb, { maxLength: 4 }) },
    // Near the bound one generated element is repeated: the count is what is under test, and it stays cheap.
    {
      weight: 1,
      arbitrary: fc.tuple(fc.integer({ min: max - 1, max: max + 1 }), arb).map(([n, x]) => Array.from({ length: n }, () => x)),
    },
  );

const validish = fc.record(
  {
    event_id: mostly(
      fc.tuple(fc.uuid(), fc.boolean()).map(([id, upper]) => (upper ? id.toUpperCase() : id)),
      fc.constantFrom("not-a-uuid", 7, "0190a0b0-0000-7000-8000-00000000000"),
    ),
    event_name: bounded(LIMITS.eventName, 1),
    user_id: bounded(LIMITS.userId, 1),
    timestamp,
    channel: mostly(fc.constantFrom(...CHANNELS), fc.constantFrom("Web", "fax", 3)),
    campaign_id: bounded(LIMITS.campaignId, 1),
    session_id: bounded(LIMITS.sessionId, 1),
    anonymous_id: bounded(LIMITS.anonymousId, 1),
    tags: mostly(listNear(bounded(LIMITS.tagLength), LIMITS.tags), edgy),
    metadata: properties(LIMITS.metadataKeys),
    user_properties: properties(LIMITS.userPropertiesKeys),
    device: mostly(device, edgy),
    app: mostly(app, edgy),
    items: mostly(listNear(mostly(item, edgy), LIMITS.items), edgy),
  },
  { requiredKeys: ["event_name", "user_id", "timestamp"] },
);

/** A mostly valid event, then some fields dropped, replaced by anything, or added. */
const nearValid = fc
  .record({
    event: validish,
    drop: fc.subarray(["event_name", "user_id", "timestamp", "event_id"], { maxLength: 2 }),
    replace: fc.dictionary(
      fc.constantFrom("event_name", "user_id", "timestamp", "event_id", "channel", "metadata", "items"),
      edgy,
      {
        maxKeys: 2,
      },
    ),
    extra: fc.dictionary(fc.oneof(shortText, fc.constantFrom("__proto__", "", "received_at", "sent_at")), edgy, { maxKeys: 2 }),
    mutate: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 })),
  })
  .map(({ event, drop, replace, extra, mutate }) => {
    const out: Record<string, unknown> = { ...event };
    if (mutate === 0) return out;
    for (const key of drop) delete out[key];
    if (mutate >= 2) Object.assign(out, replace);
    if (mutate === 3) Object.assign(out, extra);
    return out;
  });

describe("createEventValidator agrees with createEventInputSchema", () => {
  it("on valid and near-valid events", () => {
    assertAgreement(nearValid, agreeOnEvent, RUNS, 0.1);
  });

  it("on arbitrary values", () => {
    assertAgreement(fc.oneof(edgy, fc.anything({ maxDepth: 2 })), agreeOnEvent, Math.ceil(RUNS / 3), 0);
  });

  it("on the cases that shaped it", () => {
    const base = { event_name: "e", user_id: "u", timestamp: NOW };
    const many = (n: number, value: unknown = 1) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value]));
    for (const input of [
      [],
      null,
      "event",
      {},
      { x: 1, "": 2 },
      JSON.parse('{"event_name":"e","user_id":"u","timestamp":1790000000000,"__proto__":1}'),
      JSON.parse('{"event_name":"e","user_id":"u","timestamp":1790000000000,"metadata":{"__proto__":{"a":1},"b":2}}'),
      { ...base, timestamp: 1e300 },
      { ...base, timestamp: -1e300 },
      { ...base, timestamp: Number.NaN },
      { ...base, metadata: { ...many(LIMITS.metadataKeys + 1), long: "x".repeat(LIMITS.propertyStringLength + 1) } },
      { ...base, metadata: { ...many(LIMITS.metadataKeys + 1), bad: null } },
      { ...base, metadata: { ...many(LIMITS.metadataKeys + 1), "": 1 } },
      { ...base, user_properties: many(LIMITS.userPropertiesKeys + 1) },
      { ...base, tags: Array(LIMITS.tags + 1).fill(5) },
      { ...base, items: [{ quantity: -1e300 }, { quantity: 1e300 }, { quantity: -1.5 }, { price: Number.POSITIVE_INFINITY }] },
      { ...base, event_name: "\u{1F600}".repeat(LIMITS.eventName) },
      { ...base, event_name: "\u{1F600}".repeat(LIMITS.eventName + 1) },
      { ...base, event_name: "\ud800".repeat(LIMITS.eventName + 1) },
      { ...base, device: new Date(NOW) },
      { ...base, app: { id: "a", "": 1 } },
      { ...base, event_id: undefined, channel: undefined },
    ]) {
      agreeOnEvent(input);
    }
  });

  it("leaves its input unchanged", () => {
    const input = { event_id: "0190A0B0-0000-7000-8000-000000000001", event_name: "e", user_id: "u", timestamp: "2026-11-22" };
    const copy = structuredClone(input);
    validate(input);
    expect(input).toEqual(copy);
  });
});

describe("validateEventMessage agrees with eventMessageSchema", () => {
  const message = fc
    .record({
      event: validish,
      receivedAt: mostly(fc.constant(NOW), edgy, 6),
      sentAt: fc.option(mostly(fc.integer({ min: -1, max: NOW }), edgy, 6)),
      extra: mostly(fc.constant(null), fc.dictionary(shortText, edgy, { minKeys: 1, maxKeys: 2 }), 10),
    })
    .map(({ event, receivedAt, sentAt, extra }) => {
      const parsed = schema.safeParse(event);
      const base: Record<string, unknown> = parsed.success
        ? toEventMessage(parsed.data, NOW)
        : { ...event, event_id: event.event_id ?? "0190a0b0-0000-7000-8000-000000000001" };
      base.received_at = receivedAt;
      if (sentAt !== null) base.sent_at = sentAt;
      return extra === null ? base : { ...base, ...extra };
    });

  it("on messages built from valid and near-valid events", () => {
    assertAgreement(message, agreeOnMessage, RUNS, 0.1);
  });

  it("on arbitrary values", () => {
    assertAgreement(fc.oneof(edgy, fc.anything({ maxDepth: 2 })), agreeOnMessage, Math.ceil(RUNS / 3), 0);
  });
});
