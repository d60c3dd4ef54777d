import { describe, expect, it } from "vitest";
import { fakeClickHouse } from "../testing";
import {
  answerMetrics,
  EXACT_UNIQUES_MAX_EVENTS,
  estimatorFor,
  GROUP_BY,
  type GroupBy,
  queryMetrics,
  queryMetricsCounts,
  splitRange,
  splitWeeks,
} from "./metrics";

const H = 3600;
const D = 86_400;
const MIDNIGHT = Date.UTC(2026, 1, 1) / 1000;
const range = (from: number, to: number) => ({ fromMs: from * 1000, toMs: to * 1000 });

describe("splitRange", () => {
  it("takes whole UTC days from the middle and hours from the partial days at either end", () => {
    expect(splitRange(range(MIDNIGHT - 5 * H, MIDNIGHT + 2 * D + 7 * H))).toEqual({
      days: { from: MIDNIGHT, to: MIDNIGHT + 2 * D },
      edges: [
        { from: MIDNIGHT - 5 * H, to: MIDNIGHT },
        { from: MIDNIGHT + 2 * D, to: MIDNIGHT + 2 * D + 7 * H },
      ],
    });
  });

  it("has no edges when the range is whole days, and one when only one end is partial", () => {
    expect(splitRange(range(MIDNIGHT, MIDNIGHT + 3 * D))).toEqual({ days: { from: MIDNIGHT, to: MIDNIGHT + 3 * D }, edges: [] });
    expect(splitRange(range(MIDNIGHT + H, MIDNIGHT + 3 * D))).toEqual({
      days: { from: MIDNIGHT + D, to: MIDNIGHT + 3 * D },
      edges: [{ from: MIDNIGHT + H, to: MIDNIGHT + D }],
    });
  });

  it("is all edge when no whole day fits, and empty for an empty range", () => {
    expect(splitRange(range(MIDNIGHT + H, MIDNIGHT + 20 * H))).toEqual({
      days: undefined,
      edges: [{ from: MIDNIGHT + H, to: MIDNIGHT + 20 * H }],
    });
    expect(splitRange(range(MIDNIGHT - H, MIDNIGHT + H))).toEqual({
      days: undefined,
      edges: [{ from: MIDNIGHT - H, to: MIDNIGHT + H }],
    });
    expect(splitRange(range(MIDNIGHT, MIDNIGHT))).toEqual({ days: undefined, edges: [] });
  });
});

describe("splitWeeks", () => {
  // MIDNIGHT is Sunday 1 February 2026; weeks start on Mondays.
  const MONDAY = MIDNIGHT + D;

  it("takes the whole Monday-to-Monday weeks from the middle and the days outside them at either end", () => {
    expect(splitWeeks({ from: MIDNIGHT, to: MIDNIGHT + 30 * D })).toEqual({
      weeks: { from: MONDAY, to: MONDAY + 28 * D },
      days: [
        { from: MIDNIGHT, to: MONDAY },
        { from: MONDAY + 28 * D, to: MIDNIGHT + 30 * D },
      ],
    });
    expect(splitWeeks({ from: MONDAY, to: MONDAY + 14 * D })).toEqual({ weeks: { from: MONDAY, to: MONDAY + 14 * D }, days: [] });
  });

  it("keeps the days as they are when no whole week fits", () => {
    const days = { from: MONDAY + D, to: MONDAY + 7 * D };
    expect(splitWeeks(days)).toEqual({ weeks: undefined, days: [days] });
  });
});

describe("queryMetrics routing", () => {
  async function sqlFor(groupBy: GroupBy, from: number, to: number, eventName?: string, events = 100): Promise<string> {
    const db = fakeClickHouse();
    await queryMetrics(db, { ...range(from, to), groupBy, eventName }, { events });
    expect(db.seen).toHaveLength(1);
    return (db.seen[0] ?? "").replace(/\s+/g, " ");
  }
  /** A sketched hour series' two queries: its groups' and its total's. */
  async function hourSqlFor(from: number, to: number) {
    const db = fakeClickHouse();
    await queryMetrics(db, { ...range(from, to), groupBy: "hour" }, { events: sketched });
    const texts = db.seen.map((text) => text.replace(/\s+/g, " "));
    expect(texts).toHaveLength(2);
    return {
      groups: texts.find((text) => text.includes("AS gs")) ?? "",
      total: texts.find((text) => !text.includes("AS gs")) ?? "",
    };
  }
  const thirtyDays = [MIDNIGHT, MIDNIGHT + 30 * D] as const;
  const sketched = EXACT_UNIQUES_MAX_EVENTS + 1;
  const spans = (...pairs: [number, number][]) =>
    pairs.map(([from, to]) => `(bucket >= toDateTime(${from}) AND bucket < toDateTime(${to}))`).join(" OR ");
  const MONDAY = MIDNIGHT + D;

  it("reads a request's group rows in one pass over events_rollup", async () => {
    for (const groupBy of ["day", "channel", "campaign"] as const) {
      for (const events of [100, sketched]) {
        const text = await sqlFor(groupBy, MIDNIGHT - 3 * H, MIDNIGHT + 30 * D + 2 * H, "buy", events);
        expect(text.split("FROM events_rollup").length - 1, `${groupBy} ${events}`).toBe(1);
        expect(text, `${groupBy} ${events}`).not.toContain("events_hourly");
      }
    }
  });

  it("answers exactly from whole days' daily rows and partial days' hourly ones, never weekly rows (they hold no uniq states)", async () => {
    expect([estimatorFor(EXACT_UNIQUES_MAX_EVENTS), estimatorFor(EXACT_UNIQUES_MAX_EVENTS + 1)]).toEqual(["exact", "sketch"]);
    const day = await sqlFor("day", MIDNIGHT - 3 * H, MIDNIGHT + 30 * D, "buy");
    expect(day).toContain(
      `SELECT 0 AS t, toUInt32(intDiv(toUnixTimestamp(bucket), 86400) * 86400) AS g, events, users AS u FROM events_rollup WHERE name = 'buy' AND ((kind = 'day' AND (${spans([MIDNIGHT, MIDNIGHT + 30 * D])})) OR (kind = 'hour' AND (${spans([MIDNIGHT - 3 * H, MIDNIGHT])})))`,
    );
    const channel = await sqlFor("channel", ...thirtyDays);
    expect(channel).toContain(`WHERE name = '' AND ((kind = 'day_channel' AND (${spans([MIDNIGHT, MIDNIGHT + 30 * D])})))`);
    for (const text of [day, channel, await sqlFor("campaign", ...thirtyDays)]) {
      expect(text).toContain("uniqMergeState(u)");
      expect(text).not.toContain("week");
      expect(text).not.toContain("users_hll");
    }
  });

  it("gives exact hour groups over all events a total of their own from the daily states", async () => {
    const hour = await sqlFor("hour", MIDNIGHT - 2 * H, MIDNIGHT + 30 * D);
    // The hour groups' days and edges are one span: one condition, not three ORed.
    expect(hour).toContain(
      `SELECT 0 AS t, toUInt32(toUnixTimestamp(bucket)) AS g, events, users AS u FROM events_rollup WHERE name = '' AND ((kind = 'hour' AND (${spans([MIDNIGHT - 2 * H, MIDNIGHT + 30 * D])})))`,
    );
    expect(hour).toContain(
      `SELECT 1 AS t, toUInt32(0) AS g, events, users AS u FROM events_rollup WHERE name = '' AND ((kind = 'day' AND (${spans([MIDNIGHT, MIDNIGHT + 30 * D])})) OR (kind = 'hour' AND (${spans([MIDNIGHT - 2 * H, MIDNIGHT])})))`,
    );
    expect(hour).toContain("uniqMergeIf(s, t = 1)");
    for (const own of [await sqlFor("hour", MIDNIGHT + H, MIDNIGHT + 5 * H), await sqlFor("hour", ...thirtyDays, "buy")]) {
      expect(own).not.toContain("kind = 'day'");
      expect(own).toContain("uniqMergeIf(s, t = 0)");
    }
  });

  it("reads channel and campaign sketches from weekly rows for whole weeks, daily ones around them and hourly ones for partial days", async () => {
    const channel = await sqlFor("channel", MIDNIGHT - 3 * H, MIDNIGHT + 30 * D + 4 * H, "it's", sketched);
    expect(channel).toContain(
      `FROM events_rollup WHERE name = 'it\\'s' AND ((kind = 'week_channel' AND (${spans([MONDAY, MONDAY + 28 * D])})) OR (kind = 'day_channel' AND (${spans([MIDNIGHT, MONDAY], [MONDAY + 28 * D, MIDNIGHT + 30 * D])})) OR (kind = 'hour_channel' AND (${spans([MIDNIGHT - 3 * H, MIDNIGHT], [MIDNIGHT + 30 * D, MIDNIGHT + 30 * D + 4 * H])})))`,
    );
    const campaign = await sqlFor("campaign", MIDNIGHT + H, MIDNIGHT + 2 * H, undefined, sketched);
    expect(campaign).toContain(`WHERE name = '' AND ((kind = 'hour_campaign' AND (${spans([MIDNIGHT + H, MIDNIGHT + 2 * H])})))`);
    expect(campaign).not.toContain("day_campaign");
    expect(campaign).not.toContain("week_campaign");
  });

  it("merges day, channel and campaign sketches per group and the total from the groups' merged sketches", async () => {
    for (const groupBy of ["day", "channel", "campaign"] as const) {
      const sketch = await sqlFor(groupBy, MIDNIGHT - 2 * H, MIDNIGHT + 30 * D + H, undefined, sketched);
      expect(sketch, groupBy).toContain("uniqHLL12MergeState(users_hll) AS s");
      expect(sketch, groupBy).toContain("groupArray(finalizeAggregation(s)) AS us, sum(e) AS te, uniqHLL12Merge(s) AS tu");
      expect(sketch, groupBy).not.toContain("CROSS JOIN");
      expect(sketch, groupBy).not.toContain("users AS u");
    }
    // A day series reads each day: weeks would merge seven days into one group.
    expect(await sqlFor("day", ...thirtyDays, undefined, sketched)).not.toContain("week");
  });

  it("finalizes a sketched hour series' rows as read and merges its total in a query of its own from weeks, days and edge hours", async () => {
    const { groups, total } = await hourSqlFor(MIDNIGHT - 2 * H, MIDNIGHT + 30 * D + H);
    expect(groups).toBe(
      `SELECT groupArray(toUInt32(toUnixTimestamp(bucket))) AS gs, groupArray(finalizeAggregation(events)) AS es, groupArray(finalizeAggregation(users_hll)) AS us FROM events_rollup WHERE name = '' AND ((kind = 'hour' AND (${spans([MIDNIGHT - 2 * H, MIDNIGHT + 30 * D + H])})))`,
    );
    expect(total).toBe(
      `SELECT countMerge(events) AS te, uniqHLL12Merge(users_hll) AS tu FROM events_rollup WHERE name = '' AND ((kind = 'week' AND (${spans([MONDAY, MONDAY + 28 * D])})) OR (kind = 'day' AND (${spans([MIDNIGHT, MONDAY], [MONDAY + 28 * D, MIDNIGHT + 30 * D])})) OR (kind = 'hour' AND (${spans([MIDNIGHT - 2 * H, MIDNIGHT], [MIDNIGHT + 30 * D, MIDNIGHT + 30 * D + H])})))`,
    );
  });

  it("merges the hours read as several rows in a second query over those hours alone, and keeps the others as read", async () => {
    const db = fakeClickHouse((text) => {
      if (text.includes("AS te")) return [{ te: "21", tu: "8" }];
      if (text.includes("uniqHLL12Merge")) return [{ gs: [MIDNIGHT + H], es: ["12"], us: ["5"] }];
      return [
        { gs: [MIDNIGHT + 2 * H, MIDNIGHT + H, MIDNIGHT, MIDNIGHT + H], es: ["3", "5", "6", "7"], us: ["2", "4", "3", "3"] },
      ];
    });
    const result = await queryMetrics(
      db,
      { ...range(MIDNIGHT, MIDNIGHT + 3 * H), groupBy: "hour", eventName: "buy" },
      { events: sketched },
    );
    expect(db.seen).toHaveLength(3);
    expect((db.seen[2] ?? "").replace(/\s+/g, " ")).toContain(
      `WHERE name = 'buy' AND ((kind = 'hour' AND (${spans([MIDNIGHT + H, MIDNIGHT + 2 * H])}))) GROUP BY g`,
    );
    expect([result.total_events, result.unique_users]).toEqual([21, 8]);
    expect(result.data.map((group) => [group.total_events, group.unique_users])).toEqual([
      [6, 3],
      [12, 5],
      [3, 2],
    ]);
  });

  it("does not query an empty range", async () => {
    for (const groupBy of GROUP_BY) {
      for (const events of [0, sketched]) {
        const db = fakeClickHouse();
        const result = await queryMetrics(db, { ...range(MIDNIGHT, MIDNIGHT), groupBy }, { events });
        expect(db.seen, groupBy).toEqual([]);
        expect([result.total_events, result.unique_users, result.data], groupBy).toEqual([0, 0, []]);
      }
    }
  });
});

describe("answerMetrics (no counts read first)", () => {
  const sketched = (te: number, es = [te - 7, 7]) => [
    { gs: [MIDNIGHT + H, MIDNIGHT], es: es.map(String), us: ["3", "4"], te: String(te), tu: "6" },
  ];

  it("answers a range above the exact limit with one sketched read and versions it by its own group counts", async () => {
    const db = fakeClickHouse(() => sketched(EXACT_UNIQUES_MAX_EVENTS + 1));
    const { metrics, version } = await answerMetrics(db, { ...range(MIDNIGHT, MIDNIGHT + 2 * H), groupBy: "hour" });
    // An hour series' groups and total, read at once.
    expect(db.seen).toHaveLength(2);
    expect(db.seen[0]).toContain("groupArray(finalizeAggregation(users_hll)) AS us");
    expect(version).toBe(`${MIDNIGHT}:7,${MIDNIGHT + H}:${EXACT_UNIQUES_MAX_EVENTS - 6}`);
    expect([metrics.total_events, metrics.unique_users, metrics.data.map((g) => g.unique_users)]).toEqual([
      EXACT_UNIQUES_MAX_EVENTS + 1,
      6,
      [4, 3],
    ]);
  });

  it("reports no version when the total counts other events than the groups (an insert read between its views)", async () => {
    const db = fakeClickHouse(() => sketched(EXACT_UNIQUES_MAX_EVENTS + 10, [EXACT_UNIQUES_MAX_EVENTS, 11]));
    const { metrics, version } = await answerMetrics(db, { ...range(MIDNIGHT, MIDNIGHT + 2 * H), groupBy: "hour" });
    expect(version).toBeUndefined();
    expect(metrics.total_events).toBe(EXACT_UNIQUES_MAX_EVENTS + 10);
  });

  it("merges day, channel and campaign groups in the one query, partial days included", async () => {
    for (const groupBy of ["day", "channel", "campaign"] as const) {
      const db = fakeClickHouse(() => sketched(EXACT_UNIQUES_MAX_EVENTS + 1));
      await answerMetrics(db, { ...range(MIDNIGHT - 5 * H, MIDNIGHT + 30 * D + 3 * H), groupBy });
      expect(db.seen).toHaveLength(1);
      expect(db.seen[0], groupBy).toContain("uniqHLL12MergeState(users_hll)");
    }
  });

  it("replaces the sketched answer with the exact one when the range holds at most the exact limit", async () => {
    const db = fakeClickHouse((text) =>
      text.includes("users_hll") ? sketched(12) : [{ gs: [MIDNIGHT], es: ["12"], us: ["9"], te: "12", tu: "9" }],
    );
    const { metrics, version } = await answerMetrics(db, { ...range(MIDNIGHT, MIDNIGHT + D), groupBy: "day" });
    expect(db.seen).toHaveLength(2);
    expect(db.seen[1]).toContain("uniqMergeState(u)");
    expect(version).toBe(`${MIDNIGHT}:12`);
    expect([metrics.total_events, metrics.unique_users, metrics.data]).toEqual([
      12,
      9,
      [{ group: "2026-02-01T00:00:00Z", total_events: 12, unique_users: 9 }],
    ]);
  });
});

describe("queryMetricsCounts", () => {
  it("reads the group rows' counts only: the range's events and a version", async () => {
    const db = fakeClickHouse(() => [{ gs: [7200, 3600], es: ["7", "5"] }]);
    const counts = await queryMetricsCounts(db, { ...range(MIDNIGHT - 2 * H, MIDNIGHT + 2 * D), groupBy: "hour" });
    expect(counts).toEqual({ version: "3600:5,7200:7", events: 12 });
    const text = (db.seen[0] ?? "").replace(/\s+/g, " ");
    expect(text).not.toContain("users");
    // Hour groups over all events: their total's daily rows are not read for the counts.
    expect(text).toContain("kind = 'hour'");
    expect(text).not.toContain("kind = 'day'");
  });

  it("reads the rows a sketched answer reads: weekly ones for whole weeks", async () => {
    const db = fakeClickHouse(() => [{ gs: ["web", "api"], es: ["7", "5"] }]);
    const counts = await queryMetricsCounts(db, { ...range(MIDNIGHT, MIDNIGHT + 30 * D), groupBy: "channel" });
    expect(counts).toEqual({ version: "api:5,web:7", events: 12 });
    expect(db.seen[0]).toContain("kind = 'week_channel'");
  });

  it("reads nothing for an empty range", async () => {
    const db = fakeClickHouse();
    expect(await queryMetricsCounts(db, { ...range(MIDNIGHT, MIDNIGHT), groupBy: "day" })).toEqual({ version: "", events: 0 });
    expect(db.seen).toEqual([]);
  });
});
