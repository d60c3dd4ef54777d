import { describe, expect, it } from "vitest";
import { identifier, join, literal, quoteString, raw, sql, toSql } from "./sql";

describe("literal binding", () => {
  it("escapes quotes, backslashes and control characters in strings", () => {
    expect(quoteString("it's")).toBe("'it\\'s'");
    expect(quoteString("a\\b")).toBe("'a\\\\b'");
    expect(quoteString("\\'")).toBe("'\\\\\\''");
    expect(quoteString("a\nb\r\t\0")).toBe("'a\\nb\\r\\t\\0'");
    expect(quoteString("' OR 1=1 --")).toBe("'\\' OR 1=1 --'");
  });

  it("renders numbers, booleans, bigints, null, dates and lists", () => {
    expect(literal(42)).toBe("42");
    expect(literal(-1.5)).toBe("-1.5");
    expect(literal(true)).toBe("1");
    expect(literal(10n ** 20n)).toBe("100000000000000000000");
    expect(literal(null)).toBe("NULL");
    expect(literal(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)))).toBe("'2026-01-02 03:04:05.006'");
    expect(literal(["a", 1])).toBe("('a', 1)");
  });

  it("refuses values that cannot be bound safely", () => {
    expect(() => literal(Number.NaN)).toThrow(TypeError);
    expect(() => literal(Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => literal([])).toThrow(TypeError);
    expect(() => literal(new Date("nope"))).toThrow(TypeError);
    expect(() => literal({} as never)).toThrow(TypeError);
  });

  it("binds every interpolation in the sql tag and nests fragments verbatim", () => {
    const where = join([sql`a = ${"x'y"}`, sql`b > ${3}`], " AND ");
    expect(toSql(sql`SELECT * FROM ${identifier("db.events")} WHERE ${where}`)).toBe(
      "SELECT * FROM `db`.`events` WHERE a = 'x\\'y' AND b > 3",
    );
    expect(toSql(sql`SELECT ${raw("1 + 1")}`)).toBe("SELECT 1 + 1");
  });

  it("accepts only plain identifiers", () => {
    for (const bad of ["a b", "a;b", "`a`", "1a", "a.b.c", ""]) expect(() => identifier(bad)).toThrow(TypeError);
  });
});
