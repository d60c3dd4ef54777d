import { describe, expect, it } from "vitest";
import { RecentIds } from "./recent-ids";

describe("recent ids", () => {
  it("remembers exactly the last `capacity` distinct ids, oldest forgotten first", () => {
    const ids = new RecentIds(3);
    for (const id of ["a", "b", "c"]) ids.add(id);
    ids.add("b");
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
});
