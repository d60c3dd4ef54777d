import { type ClickHouse, sql } from "@sluice/clickhouse";
import { z } from "zod";
import { bucketStarts, HOUR_MS, isoSeconds, type TimeRange } from "../params/time";

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
const topRow = z.object({ event_name: z.string(), e: z.coerce.number(), u: z.coerce.number() });
const totalRow = z.object({ e: z.coerce.number(), u: z.coerce.number() });
const countRow = z.object({ c: z.coerce.number() });

/**
 * What the dashboard shows, in one round of concurrent queries: events per hour by channel, the top
 * event names and unique users from the hourly view, and the live ingest rate — events received in
 * the last minute, read from the raw table but only from the last hour of event time, so it stays cheap
 * (late events older than that do not count towards the live rate).
 */
export async function queryOverview(db: ClickHouse, range: TimeRange, now: number, topN = 10): Promise<Overview> {
  const from = sql`toDateTime(${range.fromMs / 1000})`;
  const to = sql`toDateTime(${range.toMs / 1000})`;
  const [cells, top, totals, ingest] = await Promise.all([
    db.query(sql`SELECT toUnixTimestamp(hour) AS h, channel, countMerge(events) AS e FROM events_hourly
                 WHERE hour >= ${from} AND hour < ${to} GROUP BY h, channel`),
    db.query(sql`SELECT event_name, countMerge(events) AS e, uniqMerge(users) AS u FROM events_hourly
                 WHERE hour >= ${from} AND hour < ${to} GROUP BY event_name ORDER BY e DESC, event_name LIMIT ${topN}`),
    db.query(
      sql`SELECT countMerge(events) AS e, uniqMerge(users) AS u FROM events_hourly WHERE hour >= ${from} AND hour < ${to}`,
    ),
    db.query(sql`SELECT count() AS c FROM events
                 WHERE timestamp >= toDateTime(${Math.floor((now - INGEST_EVENT_AGE_MS) / 1000)})
                   AND received_at_ms >= ${now - INGEST_WINDOW_MS}`),
  ]);
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
  const total = totalRow.parse(totals[0] ?? { e: 0, u: 0 });
  const received = countRow.parse(ingest[0] ?? { c: 0 }).c;
  return {
    from: isoSeconds(range.fromMs),
    to: isoSeconds(range.toMs),
    total_events: total.e,
    unique_users: total.u,
    hours: starts.map(isoSeconds),
    channels,
    top_events: top
      .map((row) => topRow.parse(row))
      .map((row) => ({ event_name: row.event_name, total_events: row.e, unique_users: row.u })),
    ingest: { window_seconds: INGEST_WINDOW_MS / 1000, events: received, per_second: received / (INGEST_WINDOW_MS / 1000) },
  };
}
