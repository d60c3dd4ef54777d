import { type ClickHouse, join, raw, type SqlFragment, sql } from "@sluice/clickhouse";
import { z } from "zod";
import { bucketStarts, DAY_MS, HOUR_MS, isoSeconds, type TimeRange } from "../params/time";

export const GROUP_BY = ["channel", "hour", "day", "campaign"] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export interface MetricsQuery extends TimeRange {
  eventName?: string | undefined;
  groupBy: GroupBy;
}

export interface MetricsGroup {
  group: string | null;
  total_events: number;
  unique_users: number;
}

export interface Metrics {
  event_name: string | null;
  from: string;
  to: string;
  grouped_by: GroupBy;
  total_events: number;
  unique_users: number;
  data: MetricsGroup[];
}

const resultRow = z.object({
  gs: z.array(z.union([z.string(), z.number()])),
  es: z.array(z.coerce.number()),
  us: z.array(z.coerce.number()),
  te: z.coerce.number(),
  tu: z.coerce.number(),
});

interface GroupRow {
  g: string | number;
  e: number;
  u: number;
}

// Hour and day keys are unix seconds so the answer does not depend on the server's time zone.
const GROUP_KEY: Record<GroupBy, SqlFragment> = {
  channel: raw("channel"),
  campaign: raw("campaign_id"),
  hour: raw("toUnixTimestamp(hour)"),
  day: raw("intDiv(toUnixTimestamp(hour), 86400) * 86400"),
};

function rangeFilter(query: MetricsQuery): SqlFragment {
  const conditions = [sql`hour >= toDateTime(${query.fromMs / 1000})`, sql`hour < toDateTime(${query.toMs / 1000})`];
  if (query.eventName !== undefined) conditions.push(sql`event_name = ${query.eventName}`);
  return join(conditions, " AND ");
}

/**
 * Counts and unique users from the hourly view, per group and in total, in one pass: the inner query
 * merges the unique-user states per group, the outer one finalizes each group and merges the group
 * states into the total (never a sum of per-group uniques). Hour and day groups list every bucket of
 * the range, empty ones with zeros; channel and campaign groups list those with events, most events
 * first, with null for events that named none.
 */
export async function queryMetrics(db: ClickHouse, query: MetricsQuery): Promise<Metrics> {
  const [row] = await db.query(
    sql`SELECT groupArray(g) AS gs, groupArray(e) AS es, groupArray(finalizeAggregation(s)) AS us, sum(e) AS te, uniqMerge(s) AS tu
        FROM (SELECT ${GROUP_KEY[query.groupBy]} AS g, countMerge(events) AS e, uniqMergeState(users) AS s
              FROM events_hourly WHERE ${rangeFilter(query)} GROUP BY g)`,
  );
  const result = resultRow.parse(row ?? { gs: [], es: [], us: [], te: 0, tu: 0 });
  const groups: GroupRow[] = result.gs.map((g, i) => ({ g, e: result.es[i] ?? 0, u: result.us[i] ?? 0 }));
  const total = { e: result.te, u: result.tu };
  return {
    event_name: query.eventName ?? null,
    from: isoSeconds(query.fromMs),
    to: isoSeconds(query.toMs),
    grouped_by: query.groupBy,
    total_events: total.e,
    unique_users: total.u,
    data: query.groupBy === "hour" || query.groupBy === "day" ? fillBuckets(query, groups) : rankGroups(groups),
  };
}

function fillBuckets(query: MetricsQuery, rows: GroupRow[]): MetricsGroup[] {
  const found = new Map(rows.map((row) => [Number(row.g) * 1000, row]));
  return bucketStarts(query, query.groupBy === "hour" ? HOUR_MS : DAY_MS).map((start) => {
    const row = found.get(start);
    return { group: isoSeconds(start), total_events: row?.e ?? 0, unique_users: row?.u ?? 0 };
  });
}

function rankGroups(rows: GroupRow[]): MetricsGroup[] {
  return rows
    .map((row) => ({ group: row.g === "" ? null : String(row.g), total_events: row.e, unique_users: row.u }))
    .sort((a, b) => b.total_events - a.total_events || String(a.group).localeCompare(String(b.group)));
}
