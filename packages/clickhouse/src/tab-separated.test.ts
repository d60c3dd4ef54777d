import { CHANNELS, type EventMessage } from "@sluice/events";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toEventRow } from "./event-rows";
import { escapeTabSeparated, toTabSeparatedEventLine, toTabSeparatedRow } from "./tab-separated";

// Strings full of the characters TabSeparated and quoted arrays escape, plus non-ASCII.
const text = fc.string({
  unit: fc.constantFrom("a", "Z", "0", " ", "\\", "'", "\t", "\n", "\r", "\0", "\b", "\f", ",", "[", "é", "😀"),
});
const properties = fc.dictionary(
  text,
  fc.oneof(text, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean()),
  {
    maxKeys: 6,
  },
);
const device = fc.record(
  Object.fromEntries(
    ["category", "brand", "model", "os", "os_version", "browser", "browser_version", "language", "hostname"].map((key) => [
      key,
      text,
    ]),
  ),
  { requiredKeys: [] },
);
const item = fc.record(
  {
    id: text,
    name: text,
    brand: text,
    variant: text,
    price: fc.double({ noNaN: true, noDefaultInfinity: true }),
    quantity: fc.nat(),
  },
  { requiredKeys: [] },
);
const message: fc.Arbitrary<EventMessage> = fc.record(
  {
    event_id: fc.uuid(),
    event_name: text,
    user_id: text,
    timestamp: fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }),
    channel: fc.constantFrom(...CHANNELS),
    campaign_id: text,
    session_id: text,
    anonymous_id: text,
    tags: fc.array(text, { maxLength: 4 }),
    metadata: properties,
    user_properties: properties,
    device,
    app: fc.record({ id: text, version: text }, { requiredKeys: [] }),
    items: fc.array(item, { maxLength: 3 }),
    received_at: fc.nat(),
    sent_at: fc.nat(),
  },
  { requiredKeys: ["event_id", "event_name", "user_id", "timestamp", "received_at"] },
);
const position = fc.record({ topic: text, partition: fc.nat(), offset: fc.bigInt({ min: 0n, max: 2n ** 63n }).map(String) });

describe("TabSeparated encoding", () => {
  it("escapes the characters ClickHouse reads as escapes, and leaves plain text alone", () => {
    expect(escapeTabSeparated("plain text")).toBe("plain text");
    expect(escapeTabSeparated("a\tb\nc\\d'e\0")).toBe("a\\tb\\nc\\\\d\\'e\\0");
  });

  it("writes every column in order, arrays in quoted form, one line per row", () => {
    const row = toEventRow(
      {
        event_id: "0190a0b0-0000-7000-8000-000000000001",
        event_name: "tab\there",
        user_id: "u'1",
        timestamp: 1_772_323_200_123,
        tags: ["x,y", "it's"],
        metadata: { n: 1.5, big: 1e21, ok: true },
        received_at: 1,
      },
      { topic: "events", partition: 2, offset: "41" },
    );
    const line = toTabSeparatedRow(row);
    expect(line.endsWith("\n")).toBe(true);
    const fields = line.slice(0, -1).split("\t");
    expect(fields).toHaveLength(39);
    expect(fields.slice(0, 5)).toEqual([
      "0190a0b0-0000-7000-8000-000000000001",
      "tab\\there",
      "u\\'1",
      "1772323200",
      "1772323200123",
    ]);
    expect(line).toContain("\t['x,y','it\\'s']\t");
    expect(line).toContain("\t['n','big']\t[1.5,1e+21]\t['ok']\t[1]\t");
    expect(line.endsWith("\tevents\t2\t41\n")).toBe(true);
  });

  it("encodes a message straight to the same line as toTabSeparatedRow(toEventRow(...))", () => {
    fc.assert(
      fc.property(message, position, (event, where) => {
        expect(toTabSeparatedEventLine(event, where)).toBe(toTabSeparatedRow(toEventRow(event, where)));
      }),
      { numRuns: 500 },
    );
  });

  it("rejects a number that is not finite, as toTabSeparatedRow does", () => {
    const event = {
      event_id: "0190a0b0-0000-7000-8000-000000000001",
      event_name: "e",
      user_id: "u",
      timestamp: 1,
      received_at: 1,
    };
    const where = { topic: "events", partition: 0, offset: "0" };
    expect(() => toTabSeparatedEventLine({ ...event, metadata: { n: Number.NaN } }, where)).toThrow(TypeError);
    expect(() => toTabSeparatedRow(toEventRow({ ...event, metadata: { n: Number.NaN } }, where))).toThrow(TypeError);
  });
});
