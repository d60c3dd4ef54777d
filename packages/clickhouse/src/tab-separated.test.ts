import { describe, expect, it } from "vitest";
import { toEventRow } from "./event-rows";
import { escapeTabSeparated, toTabSeparatedRow } from "./tab-separated";

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
});
