import fc from "fast-check";
import { v7 } from "uuid";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { isUuidAt, uuidv7 } from "./uuid";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The 48-bit millisecond timestamp of a UUIDv7. */
const msOf = (id: string) => Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16);

// The generator keeps per-process state (ids only increase), so each test works in its own later time span.
const start = Date.now();

describe("uuidv7", () => {
  it("formats RFC 9562 version 7, variant 10 ids carrying the given millisecond, laid out as the uuid package does", () => {
    for (const offset of [60_000, 60_001, 60_256, 65_536, 16_777_216]) {
      const ms = start + offset;
      const id = uuidv7(ms);
      expect(id).toMatch(UUID_V7);
      expect(msOf(id)).toBe(ms);
      expect(id.slice(0, 13)).toBe(v7({ msecs: ms }).slice(0, 13));
    }
  });

  it("increases strictly, within a millisecond, past 4096 ids in one, and when the clock steps back", () => {
    const base = start + 20_000_000;
    const ids = [
      ...Array.from({ length: 5000 }, () => uuidv7(base)),
      ...Array.from({ length: 10 }, () => uuidv7(base - 1000)),
      uuidv7(base + 5),
    ];
    expect(ids.filter((id, i) => i > 0 && id <= (ids[i - 1] as string))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => !UUID_V7.test(id))).toEqual([]);
  });

  it("draws fresh random bits for every id (no repeats over a few pool refills)", () => {
    const tails = new Set(Array.from({ length: 5000 }, () => uuidv7().slice(19)));
    expect(tails.size).toBe(5000);
  });
});

describe("isUuidAt", () => {
  const pattern = z.regexes.uuid();
  // Canonical ids with any character swapped for one from around the pattern's edges.
  const edgy = fc.constantFrom(..."0123456789abcdefABCDEFgG-_ 9xX\u00e9");
  const mutated = fc
    .tuple(
      fc.constantFrom(
        "0192f3a4-b5c6-7d8e-9fa0-b1c2d3e4f5a6",
        "0192F3A4-B5C6-1D8E-BFA0-B1C2D3E4F5A6",
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
      ),
      fc.array(fc.tuple(fc.nat({ max: 35 }), edgy), { maxLength: 3 }),
    )
    .map(([id, changes]) => {
      const chars = [...id];
      for (const [at, char] of changes) chars[at] = char;
      return chars.join("");
    });

  it("accepts exactly the ids the schema's uuid pattern accepts, at any position in a buffer", () => {
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string({ minLength: 36, maxLength: 36 })), fc.nat({ max: 3 }), (id, pad) => {
        const bytes = Buffer.from(`${"{".repeat(pad)}${id}"`, "latin1");
        expect(isUuidAt(bytes, pad)).toBe(id.length === 36 && pattern.test(id));
      }),
      { numRuns: 5_000 },
    );
  });

  it("never reads past the buffer", () => {
    expect(isUuidAt(Buffer.from("0192f3a4-b5c6-7d8e-9fa0-b1c2d3e4f5a"), 0)).toBe(false);
    expect(isUuidAt(Buffer.from("x0192f3a4-b5c6-7d8e-9fa0-b1c2d3e4f5a6"), 1)).toBe(true);
    expect(isUuidAt(Buffer.from("x0192f3a4-b5c6-7d8e-9fa0-b1c2d3e4f5a6"), 2)).toBe(false);
  });
});
