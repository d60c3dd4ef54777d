import {
  type ClickHouse,
  EVENT_COLUMNS,
  type EventRow,
  fromEventRow,
  join,
  raw,
  type SqlFragment,
  type StoredEvent,
  sql,
} from "@sluice/clickhouse";
import { z } from "zod";
import type { Cursor } from "../params/cursor";
import { isoSeconds } from "../params/time";
import { type WhereFilter, whereToSql } from "../params/where";

const COLUMNS = raw(EVENT_COLUMNS.join(", "));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const locationRow = z.object({ event_name: z.string(), ts: z.coerce.number() });
const deadLetterRow = z.object({
  event_id: z.string(),
  reason: z.string(),
  details: z.string(),
  payload: z.string(),
  status: z.string(),
  failed_at: z.coerce.number(),
  kafka_topic: z.string(),
  kafka_partition: z.coerce.number(),
  kafka_offset: z.coerce.string(),
});

/** A stored event as the API returns it. */
export type FoundEvent = StoredEvent & { status: "stored" };

/** A message the worker could not store, with the reason it gave. */
export interface FailedEvent {
  status: "failed";
  event_id: string;
  reason: string;
  details: string;
  payload: string;
  failed_at: string;
  dead_letter_status: string;
  kafka: { topic: string; partition: number; offset: string };
}

function parseEventRow(row: unknown): StoredEvent {
  return fromEventRow(row as EventRow);
}

/**
 * Looks an event up by id: `events_by_id` gives its sort key, then the raw row is read by its
 * primary-key prefix. Failing that, the dead-letter record for that id; undefined when neither exists.
 */
export async function findEvent(db: ClickHouse, eventId: string): Promise<FoundEvent | FailedEvent | undefined> {
  if (UUID.test(eventId)) {
    const id = eventId.toLowerCase();
    const [location] = await db.query(
      sql`SELECT event_name, toUnixTimestamp(timestamp) AS ts FROM events_by_id WHERE event_id = toUUID(${id}) LIMIT 1`,
    );
    if (location !== undefined) {
      const { event_name, ts } = locationRow.parse(location);
      const [row] = await db.query(
        sql`SELECT ${COLUMNS} FROM events
            WHERE event_name = ${event_name} AND timestamp = toDateTime(${ts}) AND event_id = toUUID(${id}) LIMIT 1`,
      );
      if (row !== undefined) return { ...parseEventRow(row), status: "stored" };
    }
  }
  const [dead] = await db.query(
    sql`SELECT event_id, reason, details, payload, status, toUnixTimestamp(failed_at) AS failed_at,
               kafka_topic, kafka_partition, kafka_offset
        FROM events_dead_letter WHERE event_id = ${eventId} ORDER BY failed_at DESC LIMIT 1`,
  );
  if (dead === undefined) return undefined;
  const record = deadLetterRow.parse(dead);
  return {
    status: "failed",
    event_id: record.event_id,
    reason: record.reason,
    details: record.details,
    payload: record.payload,
    failed_at: isoSeconds(record.failed_at * 1000),
    dead_letter_status: record.status,
    kafka: { topic: record.kafka_topic, partition: record.kafka_partition, offset: record.kafka_offset },
  };
}

export interface SearchQuery {
  eventName?: string | undefined;
  userId?: string | undefined;
  campaignId?: string | undefined;
  fromMs?: number | undefined;
  toMs?: number | undefined;
  where: WhereFilter[];
  match: "all" | "any";
  limit: number;
  cursor?: Cursor | undefined;
}

export interface SearchPage {
  data: StoredEvent[];
  next_cursor: Cursor | null;
}

/** The WHERE clause of a search; exported so tests can see that every value is bound. */
export function searchConditions(query: SearchQuery): SqlFragment {
  const conditions: SqlFragment[] = [];
  if (query.eventName !== undefined) conditions.push(sql`event_name = ${query.eventName}`);
  if (query.userId !== undefined) conditions.push(sql`user_id = ${query.userId}`);
  if (query.campaignId !== undefined) conditions.push(sql`campaign_id = ${query.campaignId}`);
  // The whole-second bounds let ClickHouse use the primary key and partitions; the ms bounds are exact.
  if (query.fromMs !== undefined) {
    conditions.push(sql`timestamp >= toDateTime(${Math.floor(query.fromMs / 1000)})`, sql`timestamp_ms >= ${query.fromMs}`);
  }
  if (query.toMs !== undefined) {
    conditions.push(sql`timestamp <= toDateTime(${Math.floor(query.toMs / 1000)})`, sql`timestamp_ms < ${query.toMs}`);
  }
  if (query.cursor !== undefined) {
    const { timestampMs, eventId } = query.cursor;
    conditions.push(
      sql`timestamp <= toDateTime(${Math.floor(timestampMs / 1000)})`,
      sql`(timestamp_ms < ${timestampMs} OR (timestamp_ms = ${timestampMs} AND event_id < toUUID(${eventId})))`,
    );
  }
  if (query.where.length > 0) {
    conditions.push(sql`(${join(query.where.map(whereToSql), query.match === "all" ? " AND " : " OR ")})`);
  }
  return conditions.length === 0 ? raw("1") : join(conditions, " AND ");
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/**
 * How far back each successive probe of a search reaches from its anchor. Newest-first searches
 * usually fill a page from recent data, so probing the last hour, then day and month
 * before the rest keeps a page from reading (and sorting) the whole table.
 */
export const SEARCH_WINDOWS_MS = [HOUR_MS, DAY_MS, 30 * DAY_MS];

function windowCondition(anchor: number, index: number): SqlFragment {
  const lower = index < SEARCH_WINDOWS_MS.length ? anchor - (SEARCH_WINDOWS_MS[index] ?? 0) : undefined;
  const upper = index === 0 ? undefined : anchor - (SEARCH_WINDOWS_MS[index - 1] ?? 0);
  const conditions: SqlFragment[] = [];
  if (lower !== undefined) {
    conditions.push(
      sql`timestamp >= toDateTime(${Math.max(0, Math.floor(lower / 1000))})`,
      sql`timestamp_ms >= ${Math.max(0, lower)}`,
    );
  }
  if (upper !== undefined) {
    conditions.push(
      sql`timestamp <= toDateTime(${Math.max(0, Math.floor(upper / 1000))})`,
      sql`timestamp_ms < ${Math.max(0, upper)}`,
    );
  }
  return conditions.length === 0 ? raw("1") : join(conditions, " AND ");
}

/**
 * Searches newest first with keyset pagination on (timestamp_ms, event_id): the raw table, or its copy
 * ordered by user when `user_id` is given (the raw table's order would make that a full scan). The page is
 * filled from disjoint, successively older time windows below the anchor (the cursor, `to`, or now);
 * the first window is open upwards so events stamped slightly in the future are not missed.
 */
export async function searchEvents(db: ClickHouse, query: SearchQuery, now: number): Promise<SearchPage> {
  const table = query.userId === undefined ? raw("events") : raw("events_by_user");
  const where = searchConditions(query);
  const anchor = Math.min(now, query.toMs ?? now, query.cursor === undefined ? now : query.cursor.timestampMs + 1);
  const rows: unknown[] = [];
  for (let index = 0; index <= SEARCH_WINDOWS_MS.length && rows.length <= query.limit; index++) {
    const upper = index === 0 ? Number.POSITIVE_INFINITY : anchor - (SEARCH_WINDOWS_MS[index - 1] ?? 0);
    if (query.fromMs !== undefined && upper <= query.fromMs) break;
    rows.push(
      ...(await db.query(
        sql`SELECT ${COLUMNS} FROM ${table} WHERE ${where} AND ${windowCondition(anchor, index)}
            ORDER BY timestamp_ms DESC, event_id DESC LIMIT ${query.limit + 1 - rows.length}`,
      )),
    );
  }
  const events = rows.slice(0, query.limit).map(parseEventRow);
  const last = events.at(-1);
  const more = rows.length > query.limit && last !== undefined;
  return { data: events, next_cursor: more ? { timestampMs: last.timestamp, eventId: last.event_id } : null };
}
