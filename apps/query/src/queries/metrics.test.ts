import { describe, expect, it } from "vitest";
import { fakeClickHouse } from "../testing";
import {
  answerMetrics,
  EXACT_UNIQUES_MAX_EVENTS,
  estimatorFor,
  type GroupBy,
  knownMultiRowGroups,
  queryMetrics,
  queryMetricsCounts,
  splitRange,
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

describe("queryMetrics routing", () => {
  async function sqlFor(
    groupBy: GroupBy,
    from: number,
    to: number,
    eventName?: string,
    events = 100,
    multiRowGroups: (string | number)[] | "all" = [],
  ): Promise<string> {
    const db = fakeClickHouse();
    await queryMetrics(db, { ...range(from, to), groupBy, eventName }, { events, multiRowGroups });
    expect(db.seen).toHaveLength(1);
    return (db.seen[0] ?? "").replace(/\s+/g, " ");
  }
  const thirtyDays = [MIDNIGHT, MIDNIGHT + 30 * D] as const;

  it("answers whole days from the daily rollups only", async () => {
    const day = await sqlFor("day", ...thirtyDays, "buy");
    expect(day).toContain("kind = 'day' AND name = 'buy'");
    expect(day).not.toContain("kind = 'hour'");
    expect(day).not.toContain("events_hourly");
    expect(await sqlFor("channel", ...thirtyDays)).toContain("kind = 'day_channel' AND name = ''");
    expect(await sqlFor("campaign", ...thirtyDays)).toContain("kind = 'day_campaign' AND name = ''");
    expect(await sqlFor("channel", ...thirtyDays)).not.toContain("events_hourly");
  });

  it("gives hour groups over all events a total of their own from the daily states", async () => {
    const hour = await sqlFor("hour", MIDNIGHT - 2 * H, MIDNIGHT + 30 * D);
    expect(hour).toContain(
      "SELECT 0 AS t, toUInt32(toUnixTimestamp(bucket)) AS g, events, users AS u FROM events_rollup WHERE kind = 'hour'",
    );
    expect(hour).toContain("SELECT 1 AS t, toUInt32(0) AS g, events, users AS u FROM events_rollup WHERE kind = 'day'");
    expect(hour).toContain("SELECT 1 AS t, toUInt32(0) AS g, events, users AS u FROM events_rollup WHERE kind = 'hour'");
    expect(hour).toContain("uniqMergeIf(s, t = 1)");
    // The hour groups' days and edges are one span: one condition, not three ORed.
    expect(hour).toContain(
      `WHERE kind = 'hour' AND name = '' AND ((bucket >= toDateTime(${MIDNIGHT - 2 * H}) AND bucket < toDateTime(${MIDNIGHT + 30 * D}))) UNION ALL`,
    );
    for (const own of [await sqlFor("hour", MIDNIGHT + H, MIDNIGHT + 5 * H), await sqlFor("hour", ...thirtyDays, "buy")]) {
      expect(own).not.toContain("kind = 'day'");
      expect(own).toContain("uniqMergeIf(s, t = 0)");
    }
  });

  it("reads the partial days of channel and campaign requests from their hourly rollups, for the requested name only", async () => {
    const channel = await sqlFor("channel", MIDNIGHT - 3 * H, MIDNIGHT + D + 4 * H, "it's");
    expect(channel).toContain("kind = 'day_channel' AND name = 'it\\'s'");
    expect(channel).toContain(
      `value AS g, events, users AS u FROM events_rollup WHERE kind = 'hour_channel' AND name = 'it\\'s' AND ((bucket >= toDateTime(${MIDNIGHT - 3 * H}) AND bucket < toDateTime(${MIDNIGHT})) OR (bucket >= toDateTime(${MIDNIGHT + D}) AND bucket < toDateTime(${MIDNIGHT + D + 4 * H})))`,
    );
    const campaign = await sqlFor("campaign", MIDNIGHT + H, MIDNIGHT + 2 * H);
    expect(campaign).toContain("value AS g, events, users AS u FROM events_rollup WHERE kind = 'hour_campaign' AND name = ''");
    expect(campaign).not.toContain("day_campaign");
    for (const sql of [channel, campaign]) expect(sql).not.toContain("events_hourly");
  });

  it("merges the uniq states up to the exact limit and the HyperLogLog sketches above it, for every grouping", async () => {
    expect([estimatorFor(EXACT_UNIQUES_MAX_EVENTS), estimatorFor(EXACT_UNIQUES_MAX_EVENTS + 1)]).toEqual(["exact", "sketch"]);
    for (const groupBy of ["hour", "day", "channel", "campaign"] as const) {
      const [from, to] = [MIDNIGHT - 2 * H, MIDNIGHT + 30 * D + H];
      const exact = await sqlFor(groupBy, from, to, undefined, EXACT_UNIQUES_MAX_EVENTS);
      expect(exact, groupBy).toContain("uniqMergeState(u)");
      expect(exact, groupBy).not.toContain("users_hll");
      const sketch = await sqlFor(groupBy, from, to, undefined, EXACT_UNIQUES_MAX_EVENTS + 1);
      expect(sketch, groupBy).toContain("uniqHLL12MergeIf(u, 0)");
      expect(sketch, groupBy).toContain("finalizeAggregation(users_hll) AS f FROM events_rollup");
      expect(sketch, groupBy).not.toContain("users AS u");
      // The total is merged on its own from the whole days' daily sketches and the edge hours', joined to the groups.
      expect(sketch, groupBy).toContain("CROSS JOIN (SELECT countMerge(events) AS te, uniqHLL12Merge(u) AS tu FROM (");
      const noGroup = groupBy === "hour" || groupBy === "day" ? "toUInt32(0)" : "''";
      expect(sketch, groupBy).toContain(
        `SELECT 1 AS t, ${noGroup} AS g, events, users_hll AS u FROM events_rollup WHERE kind = 'day'`,
      );
      expect(sketch, groupBy).toContain(
        `SELECT 1 AS t, ${noGroup} AS g, events, users_hll AS u FROM events_rollup WHERE kind = 'hour'`,
      );
    }
  });

  it("merges the sketches of the total and of the groups the counts found with several rows only", async () => {
    const sketch = await sqlFor("channel", MIDNIGHT, MIDNIGHT + D, undefined, EXACT_UNIQUES_MAX_EVENTS + 1, ["web", "it's"]);
    expect(sketch).toContain("uniqHLL12MergeIf(u, g IN ('web', 'it\\'s'))");
    expect(sketch).toContain("uniqHLL12Merge(u) AS tu");
  });

  it("merges every group's sketches without finalizing each row when the counts found every group with several rows", async () => {
    const sketch = await sqlFor("channel", MIDNIGHT, MIDNIGHT + 30 * D, undefined, EXACT_UNIQUES_MAX_EVENTS + 1, "all");
    expect(sketch).toContain("uniqHLL12Merge(u) AS n");
    expect(sketch).not.toContain("finalizeAggregation");
    expect(sketch).not.toContain("MergeIf");
  });

  it("answers a sketched request again merging every group when a group gained a row since the counts", async () => {
    const db = fakeClickHouse((text) =>
      text.includes("uniqHLL12MergeIf")
        ? [{ gs: [MIDNIGHT + H], es: ["9"], us: ["0"], te: "9", tu: "0", races: "1" }]
        : [{ gs: [MIDNIGHT + H], es: ["9"], us: ["4"], te: "9", tu: "4", races: "0" }],
    );
    const result = await queryMetrics(
      db,
      { ...range(MIDNIGHT, MIDNIGHT + 2 * H), groupBy: "hour" },
      { events: EXACT_UNIQUES_MAX_EVENTS + 1, multiRowGroups: [] },
    );
    expect(db.seen).toHaveLength(2);
    expect(db.seen[1]).toContain("uniqHLL12Merge(u) AS n");
    expect([result.total_events, result.unique_users, result.data[1]?.unique_users]).toEqual([9, 4, 4]);
    expect(result.data[0]).toEqual({ group: "2026-02-01T00:00:00Z", total_events: 0, unique_users: 0 });
  });

  it("does not query an empty range", async () => {
    const db = fakeClickHouse();
    const result = await queryMetrics(db, { ...range(MIDNIGHT, MIDNIGHT), groupBy: "hour" }, { events: 0, multiRowGroups: [] });
    expect(db.seen).toEqual([]);
    expect([result.total_events, result.unique_users, result.data]).toEqual([0, 0, []]);
  });
});

describe("answerMetrics (no counts read first)", () => {
  const sketched = (te: number) => [{ gs: [MIDNIGHT + H, MIDNIGHT], es: ["5", "7"], us: ["3", "4"], te: String(te), tu: "6" }];

  it("answers a range above the exact limit with one sketched query and versions it by its own group counts", async () => {
    const db = fakeClickHouse(() => sketched(EXACT_UNIQUES_MAX_EVENTS + 1));
    const { metrics, version } = await answerMetrics(db, { ...range(MIDNIGHT, MIDNIGHT + 2 * H), groupBy: "hour" });
    expect(db.seen).toHaveLength(1);
    expect(db.seen[0]).toContain("uniqHLL12MergeIf(u, 0)");
    expect(version).toBe(`${MIDNIGHT}:7,${MIDNIGHT + H}:5`);
    expect([metrics.total_events, metrics.unique_users, metrics.data.map((g) => g.unique_users)]).toEqual([
      EXACT_UNIQUES_MAX_EVENTS + 1,
      6,
      [4, 3],
    ]);
  });

  it("merges channel and campaign groups from the start", async () => {
    for (const groupBy of ["channel", "campaign"] as const) {
      const db = fakeClickHouse(() => sketched(EXACT_UNIQUES_MAX_EVENTS + 1));
      await answerMetrics(db, { ...range(MIDNIGHT, MIDNIGHT + 30 * D), groupBy });
      expect(db.seen).toHaveLength(1);
      expect(db.seen[0], groupBy).toContain("uniqHLL12Merge(u) AS n");
    }
  });

  it("merges the partial days of a day series from the start, so they cost no second query", async () => {
    const db = fakeClickHouse(() => sketched(EXACT_UNIQUES_MAX_EVENTS + 1));
    await answerMetrics(db, { ...range(MIDNIGHT - 5 * H, MIDNIGHT + 2 * D + 3 * H), groupBy: "day" });
    expect(db.seen).toHaveLength(1);
    expect(db.seen[0]).toContain(`uniqHLL12MergeIf(u, g IN (${MIDNIGHT - D}, ${MIDNIGHT + 2 * D}))`);
    expect(knownMultiRowGroups({ ...range(MIDNIGHT, MIDNIGHT + 2 * D), groupBy: "day" })).toEqual([]);
    expect(knownMultiRowGroups({ ...range(MIDNIGHT + H, MIDNIGHT + 3 * H), groupBy: "day" })).toEqual([MIDNIGHT]);
    expect(knownMultiRowGroups({ ...range(MIDNIGHT - 5 * H, MIDNIGHT + 2 * D), groupBy: "hour" })).toEqual([]);
    expect(knownMultiRowGroups({ ...range(MIDNIGHT, MIDNIGHT + H), groupBy: "campaign" })).toBe("all");
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
  it("reads the group rows' counts only: the range's events, a version, and the groups with several rows", async () => {
    const db = fakeClickHouse(() => [{ gs: [7200, 3600], es: ["7", "5"], ns: ["3", "1"] }]);
    const counts = await queryMetricsCounts(db, { ...range(MIDNIGHT - 2 * H, MIDNIGHT + 2 * D), groupBy: "hour" });
    expect(counts).toEqual({ version: "3600:5,7200:7", events: 12, multiRowGroups: [7200] });
    const text = (db.seen[0] ?? "").replace(/\s+/g, " ");
    expect(text).not.toContain("users");
    // Hour groups over all events: their total's daily rows are not read for the counts.
    expect(text).toContain("kind = 'hour'");
    expect(text).not.toContain("kind = 'day'");
  });

  it("names every group as multi-row when each has several rows (a channel's row per day)", async () => {
    const db = fakeClickHouse(() => [{ gs: ["web", "api"], es: ["7", "5"], ns: ["30", "30"] }]);
    const counts = await queryMetricsCounts(db, { ...range(MIDNIGHT, MIDNIGHT + 30 * D), groupBy: "channel" });
    expect(counts).toEqual({ version: "api:5,web:7", events: 12, multiRowGroups: "all" });
  });

  it("reads nothing for an empty range", async () => {
    const db = fakeClickHouse();
    expect(await queryMetricsCounts(db, { ...range(MIDNIGHT, MIDNIGHT), groupBy: "day" })).toEqual({
      version: "",
      events: 0,
      multiRowGroups: [],
    });
    expect(db.seen).toEqual([]);
  });
});
