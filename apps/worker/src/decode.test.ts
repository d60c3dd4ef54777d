import { toTabSeparatedEventLine } from "@sluice/clickhouse";
import { type EventMessage, validateEventMessage } from "@sluice/events";
import { describe, expect, it } from "vitest";
import { ByteArena } from "./arena";
import { decodeMessage, eventIdOf, insertBody, lineOf, type RawMessage } from "./decode";
import { fastLine } from "./fast-line";

const base = {
  event_id: "0192F3A4-B5C6-7D8E-9FA0-B1C2D3E4F5A6",
  event_name: "purchase",
  user_id: "user-1",
  timestamp: Date.UTC(2026, 2, 31, 23, 59, 59, 999),
  received_at: Date.UTC(2026, 3, 1),
};

/** Messages covering every column kind: optional fields absent and present, escapes, non-ASCII text, typed maps. */
const events: Record<string, unknown>[] = [
  base,
  {
    ...base,
    channel: "web",
    campaign_id: "spring\tsale",
    session_id: "s-1",
    anonymous_id: "anon\\1",
    tags: ["a'b", "new\nline", "ünïcödé 🚀"],
    metadata: { path: "/p?q='x'", amount: 12.5, logged_in: true, big: 1e21, tiny: -0.000001 },
    user_properties: { plan: "pro", age: 42, beta: false },
    device: { category: "phone", brand: "Äpple", model: "X", os: "ios", os_version: "17", browser: "safari", language: "de-DE" },
    app: { id: "app\r1", version: "2.0" },
    items: [{ id: "a", name: 'Tee "XL"', quantity: 2, price: 9.99 }],
    sent_at: Date.UTC(2026, 2, 31, 23, 59, 58),
  },
];

function message(event: unknown, offset: number): RawMessage {
  return {
    topic: "events",
    partition: 4,
    offset: String(offset),
    key: Buffer.from("user-1"),
    value: Buffer.from(JSON.stringify(event)),
  };
}

describe("decodeMessage", () => {
  it("encodes the line of the validated event, with its id lower-cased, each row's bytes its own", () => {
    // Chunks a little larger than the fast path's room for one line: a row shares its chunk with the next
    // and the one after moves on to a new chunk. Each line is checked after all are written.
    const arena = new ByteArena(1500);
    const rows = [...events, ...events, ...events].map((event, i) => {
      const decoded = decodeMessage(message(event, 100 + i), arena);
      if (decoded.kind !== "row") throw new Error(`expected a row: ${JSON.stringify(decoded)}`);
      return decoded;
    });
    expect(new Set(rows.map((row) => row.bytes)).size).toBeLessThan(rows.length);
    expect(new Set(rows.map((row) => row.bytes)).size).toBeGreaterThan(1);
    rows.forEach((row, i) => {
      const event = events[i % events.length];
      const validated = validateEventMessage(JSON.parse(JSON.stringify(event)));
      if (!validated.success) throw new Error("expected a valid event");
      const expected = { ...validated.data, event_id: validated.data.event_id.toLowerCase() } as EventMessage;
      expect(lineOf(row).toString("utf8")).toBe(
        toTabSeparatedEventLine(expected, { topic: "events", partition: 4, offset: String(100 + i) }),
      );
      expect(eventIdOf(row)).toBe(expected.event_id);
      expect(row).toMatchObject({
        eventName: "purchase",
        month: 202603,
        offset: String(100 + i),
      });
      expect(row.timestamp).toBe(Math.floor(base.timestamp / 1000));
    });
  });

  it("gives each row the month of its timestamp, across month and year boundaries, on both paths", () => {
    const arena = new ByteArena();
    const times = [
      [Date.UTC(2026, 2, 31, 23, 59, 59, 999), 202603],
      [Date.UTC(2026, 3, 1), 202604],
      [Date.UTC(2026, 2, 1), 202603],
      [Date.UTC(2026, 2, 1) - 1, 202602],
      [Date.UTC(2026, 11, 31, 23, 59, 59), 202612],
      [Date.UTC(2027, 0, 1), 202701],
    ] as const;
    // events[0] takes the fast path, events[1] (it has `items`) the general one.
    expect(fastLine(message(events[1], 0).value as Buffer, message(events[1], 0), new ByteArena())).toBeUndefined();
    expect(fastLine(message(events[0], 0).value as Buffer, message(events[0], 0), new ByteArena())).toBeDefined();
    for (const event of events) {
      times.forEach(([timestamp, month], i) => {
        const decoded = decodeMessage(message({ ...event, timestamp }, i), arena);
        expect(decoded).toMatchObject({ kind: "row", month, timestamp: Math.floor(timestamp / 1000) });
      });
    }
  });

  it("dead-letters text that is not JSON and events that fail the schema", () => {
    expect(decodeMessage({ ...message(base, 1), value: Buffer.from("{nope") }, new ByteArena())).toMatchObject({
      kind: "dead",
      dead: { reason: "invalid_json" },
    });
    expect(decodeMessage(message({ ...base, timestamp: "yesterday" }, 2), new ByteArena())).toMatchObject({
      kind: "dead",
      dead: { reason: "schema_violation", eventId: base.event_id },
    });
  });

  it("keeps each row's line in a shared chunk, not the fetched bytes", () => {
    const arena = new ByteArena(64 * 1024);
    const sent = events.map((event, i) => message(event, i));
    const rows = sent.map((fetched) => {
      const decoded = decodeMessage(fetched, arena);
      if (decoded.kind !== "row") throw new Error("expected a row");
      return decoded;
    });
    const lines = rows.map((row) => lineOf(row).toString("utf8"));
    // No slice of kafkajs's fetch response is kept: overwriting the fetched bytes changes nothing.
    for (const fetched of sent) fetched.value?.fill(0x20);
    expect(rows.map((row) => lineOf(row).toString("utf8"))).toEqual(lines);
    expect(rows[0]?.bytes).toBe(rows[1]?.bytes);
  });

  it("writes the lines of any rows, in the order given, as one body", () => {
    const arena = new ByteArena(3000);
    const rows = [...events, ...events].map((event, i) => {
      const decoded = decodeMessage(message(event, i), arena);
      if (decoded.kind !== "row") throw new Error("expected a row");
      return decoded;
    });
    const picked = [rows[3], rows[0], rows[2]].filter((row) => row !== undefined);
    expect(Buffer.concat([...insertBody(picked)]).toString("utf8")).toBe(
      picked.map((row) => lineOf(row).toString("utf8")).join(""),
    );
  });
});
