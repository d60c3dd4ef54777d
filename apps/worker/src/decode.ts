import { toTabSeparatedEventLine } from "@sluice/clickhouse";
import { validateEventMessage } from "@sluice/events";
import { fastLine } from "./fast-line";

/** One consumed Kafka message, reduced to what the worker needs. */
export interface RawMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  /** The original bytes; null for an empty message or a duplicate buffered as its position only. */
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

/** A valid event ready for ClickHouse: its encoded line and what the exactly-once checks need. */
export interface PendingRow {
  /** The `events` row as a TabSeparated line (EVENT_COLUMNS order). */
  line: string;
  eventId: string;
  eventName: string;
  /** The `timestamp` column: seconds since the epoch. */
  timestamp: number;
  /** yyyymm of the timestamp: the `events` partition the row lands in. */
  month: number;
  topic: string;
  partition: number;
  offset: string;
}

export type Decoded = { kind: "row"; row: PendingRow; message: RawMessage } | { kind: "dead"; dead: DeadLetter };

function readEventId(value: unknown): string {
  if (typeof value !== "object" || value === null) return "";
  const id = (value as { event_id?: unknown }).event_id;
  return typeof id === "string" && id.length <= 64 ? id : "";
}

/** Parses and validates one message against the event schema and encodes its row; never throws. */
export function decodeMessage(fetched: RawMessage): Decoded {
  // kafkajs hands out slices of the whole fetch response. They are kept as they are, not copied: the
  // consumer admits every message of a fetch, so a buffered fetch is nearly all buffered messages and
  // the copies only doubled the bytes for a while and cost an allocation each. The value stays bytes,
  // off the V8 heap, where the garbage collector neither copies nor marks it (it is only read to
  // dead-letter a row).
  const message: RawMessage = {
    topic: fetched.topic,
    partition: fetched.partition,
    offset: fetched.offset,
    key: fetched.key,
    value: fetched.value,
  };
  const fast = fetched.value ? fastLine(fetched.value, message) : undefined;
  if (fast) return { kind: "row", row: toPendingRow(fast.line, fast.eventId, fast.eventName, fast.timestamp, message), message };
  let parsed: unknown;
  try {
    parsed = JSON.parse(fetched.value?.toString("utf8") ?? "");
  } catch (error) {
    const details = error instanceof Error ? error.message : String(error);
    return { kind: "dead", dead: { reason: "invalid_json", details, eventId: "", message } };
  }
  // The hand-written twin of eventMessageSchema: the same verdict and issues without zod's cost per message.
  const result = validateEventMessage(parsed);
  if (!result.success) {
    const details = JSON.stringify(result.issues);
    return { kind: "dead", dead: { reason: "schema_violation", details, eventId: readEventId(parsed), message } };
  }
  const event = result.data;
  event.event_id = event.event_id.toLowerCase();
  const line = toTabSeparatedEventLine(event, message);
  return { kind: "row", row: toPendingRow(line, event.event_id, event.event_name, event.timestamp, message), message };
}

function toPendingRow(line: string, eventId: string, eventName: string, timestampMs: number, message: RawMessage): PendingRow {
  const date = new Date(timestampMs);
  return {
    line,
    eventId,
    eventName,
    timestamp: Math.floor(timestampMs / 1000),
    month: date.getUTCFullYear() * 100 + date.getUTCMonth() + 1,
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
  };
}

/** The original bytes of a consumed message. */
export function payloadOf(message: RawMessage): Buffer {
  return message.value ?? Buffer.alloc(0);
}
