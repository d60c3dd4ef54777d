import { describe, expect, it } from "vitest";
import { batchEnvelopeSchema, CHANNELS, createEventInputSchema, LIMITS, toFieldIssues } from "./index";

// One test per rule of the SPEC's event table: the bound itself passes, one past it fails naming the field.
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const schema = createEventInputSchema({ maxFutureSkewMs: 300_000, now: () => NOW });
const base = { event_name: "signup", user_id: "u1", timestamp: NOW - 1000 };

function paths(input: unknown): string[] {
  const result = schema.safeParse(input);
  return result.success ? [] : toFieldIssues(result.error).map((issue) => issue.path);
}

const s = (n: number) => "x".repeat(n);
const keys = (n: number, value: unknown = 1) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value]));

describe("required fields", () => {
  it.each(["event_name", "user_id", "timestamp"])("%s is required", (field) => {
    const { [field as keyof typeof base]: _, ...rest } = base;
    expect(paths(rest)).toEqual([field]);
  });

  it("names every problem at once", () => {
    expect(paths({ timestamp: "soon", colour: 1 }).sort()).toEqual(["colour", "event_name", "timestamp", "user_id"]);
  });
});

describe("string bounds", () => {
  it.each([
    ["event_name", LIMITS.eventName, 1],
    ["user_id", LIMITS.userId, 1],
    ["campaign_id", LIMITS.campaignId, 1],
    ["session_id", LIMITS.sessionId, 1],
    ["anonymous_id", LIMITS.anonymousId, 1],
  ])("%s is %i chars at most and %i at least", (field, max, min) => {
    expect(paths({ ...base, [field]: s(max) })).toEqual([]);
    expect(paths({ ...base, [field]: s(max + 1) })).toEqual([field]);
    expect(paths({ ...base, [field]: s(min - 1) })).toEqual([field]);
    expect(paths({ ...base, [field]: 42 })).toEqual([field]);
  });
});

describe("event_id", () => {
  it("accepts any UUID and rejects other strings and types", () => {
    expect(paths({ ...base, event_id: "0190a0b0-0000-7000-8000-000000000001" })).toEqual([]);
    expect(paths({ ...base, event_id: "6ba7b810-9dad-11d1-80b4-00c04fd430c8" })).toEqual([]);
    expect(paths({ ...base, event_id: "0190a0b0-0000-7000-8000-00000000000" })).toEqual(["event_id"]);
    expect(paths({ ...base, event_id: 7 })).toEqual(["event_id"]);
  });
});

describe("timestamp", () => {
  it("accepts integer epoch ms and ISO-8601 with Z, offsets, fractions or a date only", () => {
    for (const timestamp of [
      NOW,
      "2026-11-22T11:00:00Z",
      "2026-11-22T11:00:00.123456Z",
      "2026-11-22T13:00:00+02:00",
      "2026-11-22T13:00:00+0200",
      "2026-11-22",
    ]) {
      expect(paths({ ...base, timestamp })).toEqual([]);
    }
  });

  it("rejects fractions of a ms, seconds-looking strings, non-ISO dates and other types", () => {
    for (const timestamp of [NOW + 0.5, String(NOW), "22/11/2026", "2026-13-01T00:00:00Z", true, null, {}]) {
      expect(paths({ ...base, timestamp })).toEqual(["timestamp"]);
    }
  });

  it("applies the future skew to ISO timestamps too", () => {
    expect(paths({ ...base, timestamp: new Date(NOW + 300_000).toISOString() })).toEqual([]);
    expect(paths({ ...base, timestamp: new Date(NOW + 301_000).toISOString() })).toEqual(["timestamp"]);
  });

  it("honours a custom skew", () => {
    const strict = createEventInputSchema({ maxFutureSkewMs: 0, now: () => NOW });
    expect(strict.safeParse({ ...base, timestamp: NOW }).success).toBe(true);
    expect(strict.safeParse({ ...base, timestamp: NOW + 1 }).success).toBe(false);
  });
});

describe("channel", () => {
  it.each(CHANNELS)("accepts %s", (channel) => expect(paths({ ...base, channel })).toEqual([]));
  it("rejects anything else, including a different case", () => {
    expect(paths({ ...base, channel: "fax" })).toEqual(["channel"]);
    expect(paths({ ...base, channel: "Web" })).toEqual(["channel"]);
  });
});

describe("tags", () => {
  it(`holds at most ${LIMITS.tags} strings of at most ${LIMITS.tagLength} chars`, () => {
    expect(paths({ ...base, tags: Array.from({ length: LIMITS.tags }, () => s(LIMITS.tagLength)) })).toEqual([]);
    expect(paths({ ...base, tags: Array.from({ length: LIMITS.tags + 1 }, () => "t") })).toEqual(["tags"]);
    expect(paths({ ...base, tags: ["ok", s(LIMITS.tagLength + 1)] })).toEqual(["tags.1"]);
    expect(paths({ ...base, tags: ["ok", 3] })).toEqual(["tags.1"]);
    expect(paths({ ...base, tags: "one" })).toEqual(["tags"]);
  });
});

describe.each([
  ["metadata", LIMITS.metadataKeys],
  ["user_properties", LIMITS.userPropertiesKeys],
])("%s", (field, maxKeys) => {
  it(`holds at most ${maxKeys} keys`, () => {
    expect(paths({ ...base, [field]: keys(maxKeys) })).toEqual([]);
    expect(paths({ ...base, [field]: keys(maxKeys + 1) })).toEqual([field]);
  });

  it("keeps string, number and boolean values typed", () => {
    const parsed = schema.parse({ ...base, [field]: { plan: "pro", seats: 3, ratio: 0.5, trial: false } });
    expect(parsed[field as "metadata"]).toEqual({ plan: "pro", seats: 3, ratio: 0.5, trial: false });
  });

  it("rejects nested objects, arrays, null and oversized values or keys", () => {
    expect(paths({ ...base, [field]: { nested: { a: 1 } } })).toEqual([`${field}.nested`]);
    expect(paths({ ...base, [field]: { list: [1] } })).toEqual([`${field}.list`]);
    expect(paths({ ...base, [field]: { nothing: null } })).toEqual([`${field}.nothing`]);
    expect(paths({ ...base, [field]: { long: s(LIMITS.propertyStringLength + 1) } })).toEqual([`${field}.long`]);
    expect(paths({ ...base, [field]: { [s(LIMITS.propertyKeyLength + 1)]: 1 } })).toHaveLength(1);
    expect(paths({ ...base, [field]: "plan=pro" })).toEqual([field]);
  });
});

describe("device and app", () => {
  const deviceFields = ["category", "brand", "model", "os", "os_version", "browser", "browser_version", "language", "hostname"];

  it.each(deviceFields)(`device.%s is a string of at most ${LIMITS.deviceFieldLength} chars`, (key) => {
    expect(paths({ ...base, device: { [key]: s(LIMITS.deviceFieldLength) } })).toEqual([]);
    expect(paths({ ...base, device: { [key]: s(LIMITS.deviceFieldLength + 1) } })).toEqual([`device.${key}`]);
    expect(paths({ ...base, device: { [key]: 1 } })).toEqual([`device.${key}`]);
  });

  it.each(["id", "version"])(`app.%s is a string of at most ${LIMITS.appFieldLength} chars`, (key) => {
    expect(paths({ ...base, app: { [key]: s(LIMITS.appFieldLength) } })).toEqual([]);
    expect(paths({ ...base, app: { [key]: s(LIMITS.appFieldLength + 1) } })).toEqual([`app.${key}`]);
  });

  it("names unknown nested fields", () => {
    expect(paths({ ...base, app: { id: "a", build: 7 } })).toEqual(["app.build"]);
  });
});

describe("items", () => {
  it(`holds at most ${LIMITS.items} items`, () => {
    expect(paths({ ...base, items: Array.from({ length: LIMITS.items }, () => ({ id: "a" })) })).toEqual([]);
    expect(paths({ ...base, items: Array.from({ length: LIMITS.items + 1 }, () => ({ id: "a" })) })).toEqual(["items"]);
  });

  it("checks every item field", () => {
    const item = { id: "sku", name: "Shoe", brand: "B", variant: "red", price: 9.99, quantity: 2 };
    expect(paths({ ...base, items: [item] })).toEqual([]);
    expect(paths({ ...base, items: [{ ...item, name: s(LIMITS.itemFieldLength + 1) }] })).toEqual(["items.0.name"]);
    expect(paths({ ...base, items: [{ ...item, price: "9.99" }] })).toEqual(["items.0.price"]);
    expect(paths({ ...base, items: [{ ...item, quantity: 1.5 }] })).toEqual(["items.0.quantity"]);
    expect(paths({ ...base, items: [{ ...item, quantity: -1 }] })).toEqual(["items.0.quantity"]);
    expect(paths({ ...base, items: [{ ...item, quantity: LIMITS.itemQuantity + 1 }] })).toEqual(["items.0.quantity"]);
    expect(paths({ ...base, items: [{ ...item, sku: "x" }] })).toEqual(["items.0.sku"]);
  });
});

describe("batch envelope", () => {
  const envelopePaths = (input: unknown) => {
    const result = batchEnvelopeSchema.safeParse(input);
    return result.success ? [] : toFieldIssues(result.error).map((issue) => issue.path);
  };

  it(`holds 1..${LIMITS.batchEvents} events and an optional sent_at`, () => {
    expect(envelopePaths({ events: [base], sent_at: NOW })).toEqual([]);
    expect(envelopePaths({ events: Array.from({ length: LIMITS.batchEvents }, () => base) })).toEqual([]);
    expect(envelopePaths({ events: Array.from({ length: LIMITS.batchEvents + 1 }, () => base) })).toEqual(["events"]);
    expect(envelopePaths({ events: [] })).toEqual(["events"]);
    expect(envelopePaths({ events: [base], sent_at: "now" })).toEqual(["sent_at"]);
    expect(envelopePaths({ events: [base], extra: 1 })).toEqual(["extra"]);
    expect(envelopePaths({})).toEqual(["events"]);
  });
});
