import { describe, expect, it } from "vitest";
import { fakeClickHouse } from "../testing";
import { searchEvents } from "./events";

const NOW = Date.UTC(2026, 1, 1);

describe("searchEvents", () => {
  it("reads the copy ordered by user when user_id is given, the raw table otherwise", async () => {
    const byUser = fakeClickHouse();
    await searchEvents(byUser, { userId: "u1", where: [], match: "all", limit: 10 }, NOW);
    expect(byUser.seen.length).toBeGreaterThan(0);
    for (const text of byUser.seen) expect(text).toMatch(/FROM events_by_user WHERE user_id = 'u1' AND/);
    const byName = fakeClickHouse();
    await searchEvents(byName, { eventName: "buy", where: [], match: "all", limit: 10 }, NOW);
    for (const text of byName.seen) expect(text).toMatch(/FROM events WHERE event_name = 'buy' AND/);
  });
});
