import { toTabSeparatedEventLine } from "@sluice/clickhouse";
import { validateEventMessage } from "@sluice/events";
import type { ByteArena } from "./arena";
import { fastLine } from "./fast-line";
import { internName } from "./interned";

const TAB = 0x09;

/** One consumed Kafka message, reduced to what the worker needs. */
export interface RawMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  /** The original bytes; null for an empty message, a duplicate buffered as its position only, or a message not read back. */
  value: Buffer | null;
}

/** Why a message can never become a row. */
export type DeadReason = "invalid_json" | "schema_violation" | "clickhouse_rejected";

/** A message that goes to the dead-letter topic and table instead of `events`. */
export interface DeadLetter {
  reason: DeadReason;
  details: string;
  /** The event_id when one can be read from the payload, else empty. */
  eventId: string;
  message: RawMessage;
}

/**
 * A valid event ready for ClickHouse: its encoded line and what the exactly-once checks need. Not its
 * message: the rare row ClickHouse rejects is read back from Kafka to dead-letter it (reread.ts). It is
 * its own buffer item (`kind`), so a buffered row is one object, not a row inside an item.
 */
export interface PendingRow {
  kind: "row";
  /** The ByteArena chunk holding the line. */
  bytes: Buffer;
  /** The `events` row as a TabSeparated line (EVENT_COLUMNS order): bytes[lineStart, lineEnd). */
  lineStart: number;
  lineEnd: number;
  eventName: string;
  /** The `timestamp` column: seconds since the epoch. */
  timestamp: number;
  /** yyyymm of the timestamp: the `events` partition the row lands in. */
  month: number;
  topic: string;
  partition: number;
  offset: string;
}

export type Decoded = PendingRow | { kind: "dead"; dead: DeadLetter };

function readEventId(value: unknown): string {
  if (typeof value !== "object" || value === null) return "";
  const id = (value as { event_id?: unknown }).event_id;
  return typeof id === "string" && id.length <= 64 ? id : "";
}

/** The `events` partition (yyyymm) of the month computed last, and that month's bounds in epoch ms. */
let cachedMonth = 0;
let cachedMonthFrom = 0;
let cachedMonthTo = -1;

/** yyyymm of a time in epoch ms (UTC): rows of a backlog mostly share a month, so the last one is kept. */
function monthOf(ms: number): number {
  if (ms >= cachedMonthFrom && ms < cachedMonthTo) return cachedMonth;
  const date = new Date(ms);
  const [year, month] = [date.getUTCFullYear(), date.getUTCMonth()];
  cachedMonthFrom = Date.UTC(year, month, 1);
  cachedMonthTo = Date.UTC(year, month + 1, 1);
  cachedMonth = year * 100 + month + 1;
  return cachedMonth;
}

/** Parses and validates one message against the event schema and stores its row in `arena`; never throws. */
export function decodeMessage(message: RawMessage, arena: ByteArena): Decoded {
  const value = message.value ?? Buffer.alloc(0);
  const fast = fastLine(value, message, arena);
  if (fast) return toPendingRow(arena.chunk, fast.lineStart, fast.lineEnd, fast.eventName, fast.timestamp, message);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch (error) {
    const details = error instanceof Error ? error.message : String(error);
    return { kind: "dead", dead: { reason: "invalid_json", details, eventId: "", message: detached(message) } };
  }
  // The hand-written twin of eventMessageSchema: the same verdict and issues without zod's cost per message.
  const result = validateEventMessage(parsed);
  if (!result.success) {
    const details = JSON.stringify(result.issues);
    return {
      kind: "dead",
      dead: { reason: "schema_violation", details, eventId: readEventId(parsed), message: detached(message) },
    };
  }
  const event = result.data;
  event.event_id = event.event_id.toLowerCase();
  const line = toTabSeparatedEventLine(event, message);
  const length = Buffer.byteLength(line);
  const lineStart = arena.reserve(length);
  arena.chunk.write(line, lineStart);
  return toPendingRow(arena.chunk, lineStart, lineStart + length, internName(event.event_name), event.timestamp, message);
}

/**
 * A dead letter's own copy of the message: kafkajs hands out slices of the whole fetch response, which
 * a buffered slice would keep alive until the dead letter is written.
 */
function detached(message: RawMessage): RawMessage {
  const copy = (bytes: Buffer | null) => (bytes ? Buffer.from(bytes) : null);
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: copy(message.key),
    value: copy(message.value),
  };
}

/** `eventName` is the interned one. */
function toPendingRow(
  bytes: Buffer,
  lineStart: number,
  lineEnd: number,
  eventName: string,
  timestampMs: number,
  message: RawMessage,
): PendingRow {
  return {
    kind: "row",
    bytes,
    lineStart,
    lineEnd,
    eventName,
    timestamp: Math.floor(timestampMs / 1000),
    month: monthOf(timestampMs),
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
  };
}

/** The row's TabSeparated line (a view of the arena, not a copy). */
export function lineOf(row: PendingRow): Buffer {
  return row.bytes.subarray(row.lineStart, row.lineEnd);
}

/** The end of the row's event_id in `row.bytes`: the line's first field, a 36-byte UUID (the schema allows no other id). */
export function eventIdEnd(row: PendingRow): number {
  const uuidEnd = row.lineStart + 36;
  return row.bytes[uuidEnd] === TAB ? uuidEnd : row.bytes.indexOf(TAB, row.lineStart);
}

/** The row's event_id: the line's first field. */
export function eventIdOf(row: PendingRow): string {
  return row.bytes.toString("latin1", row.lineStart, eventIdEnd(row));
}

const WRITE_BYTES = 256 * 1024;

/** The rows' lines as an insert body: copied into writes of about WRITE_BYTES, in order. */
export function* insertBody(rows: readonly PendingRow[]): Generator<Buffer> {
  let chunk = Buffer.allocUnsafe(WRITE_BYTES);
  let used = 0;
  for (const row of rows) {
    const length = row.lineEnd - row.lineStart;
    if (used + length > chunk.length) {
      if (used > 0) yield chunk.subarray(0, used);
      chunk = Buffer.allocUnsafe(Math.max(WRITE_BYTES, length));
      used = 0;
    }
    used += row.bytes.copy(chunk, used, row.lineStart, row.lineEnd);
  }
  if (used > 0) yield chunk.subarray(0, used);
}

/** The original bytes of a consumed message. */
export function payloadOf(message: RawMessage): Buffer {
  return message.value ?? Buffer.alloc(0);
}
