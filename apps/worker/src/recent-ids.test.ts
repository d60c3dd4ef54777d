import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { RecentIds } from "./recent-ids";

/** The window's meaning, spelled out: a Set of the last `capacity` distinct ids in insertion order. */
class ReferenceIds {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}
  has(id: string) {
    return this.ids.has(id);
  }
  add(id: string) {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
    return true;
  }
  get size() {
    return this.ids.size;
  }
}

describe("recent ids", () => {
  it("remembers exactly the last `capacity` distinct ids, oldest forgotten first", () => {
    const ids = new RecentIds(3);
    expect(["a", "b", "c"].map((id) => ids.add(id))).toEqual([true, true, true]);
    expect(ids.add("b")).toBe(false);
    expect(ids.size).toBe(3);
    ids.add("d");
    expect(["a", "b", "c", "d"].map((id) => ids.has(id))).toEqual([false, true, true, true]);
    ids.add("e");
    expect(["b", "c", "d", "e"].map((id) => ids.has(id))).toEqual([false, true, true, true]);
  });

  it("keeps the window exact through long churn (the set rehashes many times)", () => {
    const capacity = 1000;
    const ids = new RecentIds(capacity);
    const total = 25_000;
    for (let i = 0; i < total; i++) {
      ids.add(`id-${i}`);
      // Re-adding a remembered id neither grows the window nor refreshes the id.
      if (i % 7 === 0) ids.add(`id-${Math.max(0, i - 10)}`);
    }
    expect(ids.size).toBe(capacity);
    expect(ids.has(`id-${total - capacity - 1}`)).toBe(false);
    for (let i = total - capacity; i < total; i++) expect(ids.has(`id-${i}`)).toBe(true);
  });

  it("works with a window of one", () => {
    const ids = new RecentIds(1);
    ids.add("a");
    ids.add("b");
    ids.add("c");
    expect([ids.has("a"), ids.has("b"), ids.has("c"), ids.size]).toEqual([false, false, true, 1]);
  });

  it("agrees with a plain insertion-ordered set through churn, repeats and ids that are not UUIDs, given as text or bytes", () => {
    let seed = 7;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (const capacity of [1, 2, 3, 7, 64, 500]) {
      const pool = Array.from({ length: capacity * 3 }, (_, i) => {
        if (i % 17 === 5) return `not-a-uuid-${i}`;
        if (i % 23 === 7) return randomUUID().toUpperCase();
        // Ids that differ only in the last digits, as UUIDv7s of one millisecond do.
        if (i % 5 === 0) return `0190f2a1-7c3e-7d4a-8b5c-${String(i).padStart(12, "0")}`;
        return randomUUID();
      });
      const ids = new RecentIds(capacity);
      const reference = new ReferenceIds(capacity);
      for (let step = 0; step < capacity * 12 + 200; step++) {
        const id = pool[Math.floor(random() * pool.length)] as string;
        // Half the ids arrive as bytes inside a longer buffer, as a row's line holds them.
        const added = random() < 0.5 ? ids.add(id) : ids.addBytes(Buffer.from(`ab\t${id}\tcd`, "latin1"), 3, 3 + id.length);
        expect(added).toBe(reference.add(id));
        expect(ids.size).toBe(reference.size);
        const probe = pool[Math.floor(random() * pool.length)] as string;
        expect(ids.has(probe)).toBe(reference.has(probe));
      }
      for (const id of pool) expect(ids.has(id)).toBe(reference.has(id));
    }
  });

  it("tells UUIDs apart by every digit, and not by case", () => {
    const ids = new RecentIds(10);
    const base = "123e4567-e89b-12d3-a456-426614174000";
    ids.add(base);
    for (let i = 0; i < base.length; i++) {
      if (base[i] === "-") continue;
      const other = `${base.slice(0, i)}${base[i] === "f" ? "e" : "f"}${base.slice(i + 1)}`;
      expect(ids.has(other)).toBe(false);
    }
    expect(ids.has(base)).toBe(true);
    expect(ids.has(base.toUpperCase())).toBe(false);
    expect(ids.addBytes(Buffer.from(base.toUpperCase(), "latin1"), 0, 36)).toBe(true);
    expect(ids.addBytes(Buffer.from(`x${base}`, "latin1"), 1, 37)).toBe(false);
    expect(ids.has(base.toUpperCase())).toBe(true);
    // A character beyond one byte is not taken for the byte it would wrap to ("İ" is U+0130, "0" is 0x30).
    ids.add("0190f2a1-7c3e-7d4a-8b5c-000000000000");
    expect(ids.has("0190f2a1-7c3e-7d4a-8b5c-00000000000\u0130")).toBe(false);
    expect(ids.add("0190f2a1-7c3e-7d4a-8b5c-00000000000\u0130")).toBe(true);
  });
});
