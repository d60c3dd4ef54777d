import { type ClickHouse, raw, type SqlFragment, sql } from "@sluice/clickhouse";
import { z } from "zod";
import { bucketStarts, HOUR_MS, isoSeconds, type TimeRange } from "../params/time";
import { answerMetricsUnversioned, coveringRollups, estimatorFor } from "./metrics";

/** How far back the live ingest rate looks. */
export const INGEST_WINDOW_MS = 60_000;
/** How old an event's own timestamp may be and still count in the live rate (bounds the raw-table read). */
const INGEST_EVENT_AGE_MS = 3_600_000;

export interface Overview {
  from: string;
  to: string;
  total_events: number;
  unique_users: number;
  hours: string[];
  channels: { channel: string | null; total_events: number; hourly: number[] }[];
  top_events: { event_name: string; total_events: number; unique_users: number }[];
  ingest: { window_seconds: number; events: number; per_second: number };
}

const cellRow = z.object({ h: z.coerce.number(), channel: z.string(), e: z.coerce.number() });
const topRow = z.object({ event_name: z.string(), e: z.coerce.number() });
const usersRow = z.object({ event_name: z.string(), u: z.coerce.number() });
const countRow = z.object({ c: z.coerce.number() });

/**
 * What the dashboard shows, in one round of concurrent queries over the rollups (0002, 0005): events per
 * hour by channel, the top event names, the total and its unique users (as GET /metrics answers them), and
 * the live ingest rate — events received in the last minute, read from the raw table but only from the
 * last hour of event time, so it stays cheap (late events older than that do not count towards the live
 * rate). The top names' unique users take a second query.
 */
export async function queryOverview(db: ClickHouse, range: TimeRange, now: number, topN = 10): Promise<Overview> {
  const from = sql`toDateTime(${range.fromMs / 1000})`;
  const to = sql`toDateTime(${range.toMs / 1000})`;
  const cover = coveringRollups(range);
  const [cells, top, answer, ingest] = await Promise.all([
    db.query(sql`SELECT toUnixTimestamp(bucket) AS h, value AS channel, countMerge(events) AS e FROM events_rollup
                 WHERE kind = 'hour_channel' AND name = '' AND bucket >= ${from} AND bucket < ${to} GROUP BY h, channel`),
    db.query(sql`SELECT name AS event_name, countMerge(events) AS e FROM events_rollup WHERE name != '' AND (${cover})
                 GROUP BY name ORDER BY e DESC, event_name LIMIT ${topN}`),
    answerMetricsUnversioned(db, { ...range, groupBy: "day" }),
    db.query(sql`SELECT count() AS c FROM events
                 WHERE timestamp >= toDateTime(${Math.floor((now - INGEST_EVENT_AGE_MS) / 1000)})
                   AND received_at_ms >= ${now - INGEST_WINDOW_MS}`),
  ]);
  const topEvents = top.map((row) => topRow.parse(row));
  const users = await topUsers(
    db,
    cover,
    topEvents.map((row) => row.event_name),
    estimatorFor(answer.total_events),
  );
  const starts = bucketStarts(range, HOUR_MS);
  const index = new Map(starts.map((start, i) => [start, i]));
  const byChannel = new Map<string, number[]>();
  for (const cell of cells.map((row) => cellRow.parse(row))) {
    const slot = index.get(cell.h * 1000);
    if (slot === undefined) continue;
    const series = byChannel.get(cell.channel) ?? new Array<number>(starts.length).fill(0);
    series[slot] = (series[slot] ?? 0) + cell.e;
    byChannel.set(cell.channel, series);
  }
  const channels = [...byChannel]
    .map(([channel, hourly]) => ({
      channel: channel === "" ? null : channel,
      total_events: hourly.reduce((sum, n) => sum + n, 0),
      hourly,
    }))
    .sort((a, b) => b.total_events - a.total_events);
  const received = countRow.parse(ingest[0] ?? { c: 0 }).c;
  return {
    from: isoSeconds(range.fromMs),
    to: isoSeconds(range.toMs),
    total_events: answer.total_events,
    unique_users: answer.unique_users,
    hours: starts.map(isoSeconds),
    channels,
    top_events: topEvents.map((row) => ({
      event_name: row.event_name,
      total_events: row.e,
      unique_users: users.get(row.event_name) ?? 0,
    })),
    ingest: { window_seconds: INGEST_WINDOW_MS / 1000, events: received, per_second: received / (INGEST_WINDOW_MS / 1000) },
  };
}

/**
 * Unique users of each named event over the covered rows, with the estimator GET /metrics picks for the whole
 * range: merging exact states of every top name over a range of more than EXACT_UNIQUES_MAX_EVENTS events
 * would cost up to that many hash insertions per name (~100 ms for a day of 10M events a month), where the
 * sketches cost a few milliseconds.
 */
async function topUsers(
  db: ClickHouse,
  cover: SqlFragment,
  names: string[],
  estimator: "exact" | "sketch",
): Promise<Map<string, number>> {
  if (names.length === 0) return new Map();
  const users = estimator === "exact" ? raw("uniqMerge(users)") : raw("uniqHLL12Merge(users_hll)");
  const rows = await db.query(
    sql`SELECT name AS event_name, ${users} AS u FROM events_rollup WHERE name IN ${names} AND (${cover}) GROUP BY name`,
  );
  return new Map(rows.map((row) => usersRow.parse(row)).map((row) => [row.event_name, row.u]));
}
