import { toSql } from "@sluice/clickhouse";
import { AppError } from "@sluice/http";
import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "./cursor";
import { bucketStarts, HOUR_MS, isoSeconds, isoSecondsAll, metricsRange, parseInstant, searchRange } from "./time";
import { parseNumber, parseWhere, whereToSql } from "./where";

const H = HOUR_MS;
const T0 = Date.UTC(2026, 0, 2, 0, 0, 0);

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof AppError) return error.details[0]?.path;
    throw error;
  }
  return undefined;
}

describe("time parameters", () => {
  it("reads unix seconds and ISO-8601, refusing anything else", () => {
    expect(parseInstant("1767312000", "from")).toBe(T0);
    expect(parseInstant("1767312000.25", "from")).toBe(T0 + 250);
    expect(parseInstant("2026-01-02T00:00:00Z", "from")).toBe(T0);
    expect(parseInstant("2026-01-02T01:00:00+01:00", "from")).toBe(T0);
    for (const bad of ["", "-1", "1767312000000", "now", "2026-13-01", "1e9", "0x10", "' OR 1=1"]) {
      expect(
        fieldOf(() => parseInstant(bad, "to")),
        bad,
      ).toBe("to");
    }
  });

  it("widens /metrics ranges to whole hours and defaults to the 24 h ending with the current hour", () => {
    expect(metricsRange({}, T0 + 90 * 60_000)).toEqual({ fromMs: T0 - 22 * H, toMs: T0 + 2 * H });
    expect(metricsRange({}, T0)).toEqual({ fromMs: T0 - 24 * H, toMs: T0 });
    expect(metricsRange({ from: "1767312001", to: "1767315599" }, 0)).toEqual({ fromMs: T0, toMs: T0 + H });
    expect(metricsRange({ to: "2026-01-02T00:00:00Z" }, 0)).toEqual({ fromMs: T0 - 24 * H, toMs: T0 });
    expect(metricsRange({ from: "2026-01-02T00:00:00Z", to: "2026-01-02T00:00:00Z" }, 0)).toEqual({ fromMs: T0, toMs: T0 });
    expect(fieldOf(() => metricsRange({ from: "1767312001", to: "1767312000" }, 0))).toBe("from");
    expect(fieldOf(() => metricsRange({ from: "2026-01-02T00:00:00Z" }, T0 - H - 1))).toBe("from");
  });

  it("keeps search ranges exact and checks their order", () => {
    expect(searchRange({ from: "1767312000.001" })).toEqual({ fromMs: T0 + 1, toMs: undefined });
    expect(fieldOf(() => searchRange({ from: "1767312001", to: "1767312000" }))).toBe("from");
  });

  it("lists every bucket overlapping the range", () => {
    expect(bucketStarts({ fromMs: T0, toMs: T0 + 3 * H }, H)).toEqual([T0, T0 + H, T0 + 2 * H]);
    expect(bucketStarts({ fromMs: T0 - H, toMs: T0 + H }, 24 * H)).toEqual([T0 - 24 * H, T0]);
    expect(bucketStarts({ fromMs: T0, toMs: T0 }, H)).toEqual([]);
  });

  it("labels many instants as isoSeconds labels each one", () => {
    const instants = [
      ...bucketStarts({ fromMs: Date.UTC(2025, 11, 30, 21), toMs: Date.UTC(2026, 0, 2, 3) }, H),
      T0 + 59 * 60_000 + 59_000,
      T0 + 1,
      T0 - 1,
      Date.UTC(2106, 1, 7, 6, 28, 15),
      T0,
    ];
    expect(isoSecondsAll(instants)).toEqual(instants.map(isoSeconds));
    expect(isoSecondsAll([T0 + 90_061_000])).toEqual(["2026-01-03T01:01:01Z"]);
  });
});

describe("where filters", () => {
  it("splits key:op:value at the first two colons", () => {
    expect(parseWhere("url:eq:https://x.test/a:b", "w")).toEqual({ key: "url", op: "eq", value: "https://x.test/a:b" });
    expect(parseWhere("amount:between:1.5,20", "w")).toEqual({ key: "amount", op: "between", value: [1.5, 20] });
    expect(parseWhere("plan:in:free|pro|", "w")).toEqual({ key: "plan", op: "in", value: ["free", "pro", ""] });
    expect(parseWhere("n:gte:-3e2", "w")).toEqual({ key: "n", op: "gte", value: -300 });
    expect(parseWhere("s:like:50\\%%", "w")).toEqual({ key: "s", op: "like", value: "50\\%%" });
  });

  it("refuses malformed filters, naming the parameter", () => {
    const bad = [
      "nocolon",
      "k:eq",
      ":eq:v",
      "k:EQ:v",
      "k:gt:",
      "k:gt:1e999",
      "k:lt:NaN",
      "k:between:1",
      "k:between:3,1",
      "k:between:1,2,3",
      "k:like:abc\\",
      "k:like:a\\b",
      `k:in:${Array.from({ length: 101 }, () => "x").join("|")}`,
      `${"k".repeat(129)}:eq:v`,
    ];
    for (const text of bad)
      expect(
        fieldOf(() => parseWhere(text, "where[3]")),
        text,
      ).toBe("where[3]");
  });

  it("parses only plain finite decimal numbers", () => {
    expect(parseNumber("42")).toBe(42);
    expect(parseNumber("-0.5")).toBe(-0.5);
    expect(parseNumber(".5")).toBe(0.5);
    for (const text of ["", " 1", "1 ", "0x10", "Infinity", "1e999", "1,5", "--1"])
      expect(parseNumber(text), text).toBeUndefined();
  });

  it("binds keys and values as escaped literals in the generated SQL", () => {
    const text = toSql(whereToSql(parseWhere("k'ey:eq:v' OR 1=1 --", "w")));
    expect(text).toContain("has(metadata_string_keys, 'k\\'ey')");
    expect(text).toContain("IN ('v\\' OR 1=1 --')");
    expect(text).not.toContain("metadata_number");
    const numeric = toSql(whereToSql(parseWhere("n:eq:3", "w")));
    expect(numeric).toContain("metadata_number_values[indexOf(metadata_number_keys, 'n')] IN (3)");
    const bool = toSql(whereToSql(parseWhere("b:ne:true", "w")));
    expect(bool).toMatch(/^NOT \(/);
    expect(bool).toContain("metadata_bool_values[indexOf(metadata_bool_keys, 'b')] IN (1)");
    expect(toSql(whereToSql(parseWhere("a:between:1,2", "w")))).toContain(">= 1 AND");
  });
});

describe("cursor", () => {
  it("round-trips and refuses anything it did not issue", () => {
    const cursor = { timestampMs: T0, eventId: "0190a0b0-0000-7000-8000-000000000001" };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    const forged = [
      "",
      "abc",
      "!!!",
      Buffer.from('[1,"x"]').toString("base64url"),
      Buffer.from('[-1,"0190a0b0-0000-7000-8000-000000000001"]').toString("base64url"),
      Buffer.from('{"t":1}').toString("base64url"),
      "x".repeat(300),
    ];
    for (const text of forged)
      expect(
        fieldOf(() => decodeCursor(text)),
        text,
      ).toBe("cursor");
  });
});
