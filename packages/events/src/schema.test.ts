import { describe, expect, it } from "vitest";
import {
  createEventInputSchema,
  eventMessageSchema,
  LIMITS,
  serializeEventMessage,
  toEventMessage,
  toFieldIssues,
} from "./index";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const schema = createEventInputSchema({ maxFutureSkewMs: 300_000, now: () => NOW });
const base = { event_name: "signup", user_id: "u1", timestamp: NOW - 1000 };

function issues(input: unknown) {
  const result = schema.safeParse(input);
  if (result.success) return [];
  return toFieldIssues(result.error);
}

describe("event input schema", () => {
  it("accepts a minimal event and assigns a UUIDv7", () => {
    const event = schema.parse(base);
    expect(event.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(event.timestamp).toBe(NOW - 1000);
  });

  it("normalises ISO-8601 timestamps to epoch ms", () => {
    expect(schema.parse({ ...base, timestamp: "2026-11-22T11:00:00.250Z" }).timestamp).toBe(
      Date.UTC(2026, 10, 22, 11, 0, 0, 250),
    );
    expect(schema.parse({ ...base, timestamp: "2026-11-22T13:00:00+02:00" }).timestamp).toBe(Date.UTC(2026, 10, 22, 11));
    expect(issues({ ...base, timestamp: "yesterday" })[0]?.path).toBe("timestamp");
  });

  it("rejects timestamps beyond the future skew and before 2000", () => {
    expect(schema.safeParse({ ...base, timestamp: NOW + 300_000 }).success).toBe(true);
    expect(issues({ ...base, timestamp: NOW + 300_001 })).toEqual([
      { path: "timestamp", message: expect.stringContaining("future") },
    ]);
    expect(issues({ ...base, timestamp: LIMITS.minTimestampMs - 1 })[0]?.path).toBe("timestamp");
  });

  it("names unknown fields, top-level and nested", () => {
    expect(issues({ ...base, colour: "red" })).toEqual([{ path: "colour", message: "unknown field" }]);
    expect(issues({ ...base, device: { os: "ios", cpu: "arm" } })).toEqual([{ path: "device.cpu", message: "unknown field" }]);
  });

  it("keeps a given event_id, lower-cased", () => {
    expect(schema.parse({ ...base, event_id: "0190A0B0-0000-7000-8000-000000000001" }).event_id).toBe(
      "0190a0b0-0000-7000-8000-000000000001",
    );
    expect(issues({ ...base, event_id: "not-a-uuid" })[0]?.path).toBe("event_id");
  });

  it("serializes the message exactly as JSON.stringify(toEventMessage(...)) would", () => {
    const events = [
      schema.parse(base),
      schema.parse({ ...base, event_id: "0190A0B0-0000-7000-8000-000000000001", tags: ["a"], metadata: { "}": '"' } }),
    ];
    for (const event of events) {
      expect(serializeEventMessage(event, NOW)).toBe(JSON.stringify(toEventMessage(event, NOW)));
      expect(serializeEventMessage(event, NOW, NOW - 5)).toBe(JSON.stringify(toEventMessage(event, NOW, NOW - 5)));
    }
  });

  it("produces a message the worker's schema accepts", () => {
    const message = toEventMessage(schema.parse({ ...base, metadata: { plan: "pro", seats: 3, trial: false } }), NOW, NOW - 5);
    expect(eventMessageSchema.parse(message)).toEqual(message);
  });
});
