import type { KafkaPosition } from "@sluice/clickhouse";
import {
  APOSTROPHE,
  CLOSE_BRACKET,
  COMMA,
  copyBytes,
  EVENT_FIELD,
  EVENT_KEYS,
  type EventKey,
  EventScanner,
  integerValue,
  KIND_NUMBER,
  KIND_STRING,
  KIND_TRUE,
  LIMITS,
  MESSAGE_TIME_KEYS,
  OPEN_BRACKET,
  type PropertySpans,
  QUOTE,
  ZERO,
} from "@sluice/events";
import type { ByteArena } from "./arena";
import { internNameBytes } from "./interned";

// The worker's fast path for the messages the ingest app writes (compact JSON, printable ASCII text):
// one pass over the message's bytes checks the event schema and copies each value's bytes straight into
// its TabSeparated line, without JSON.parse's object tree, the validator's walk over it, or one string
// per field. It only says yes when the answer is certain: any byte, shape or value whose handling it
// does not reproduce exactly (whitespace, escapes, quotes, non-ASCII, duplicate keys, numeric-looking
// property keys, exponents, non-canonical numbers, `items`, anything invalid) makes it return undefined,
// and the message takes the general path (JSON.parse, validateEventMessage, toTabSeparatedEventLine),
// which decides it as before. fast-line.test.ts checks that both give the same lines.

/** What the fast path gives for a message it can decide: the same values the general path derives. */
export interface FastLine {
  /** Where the TabSeparated line of `toTabSeparatedEventLine` for the validated event went: arena.chunk[lineStart, lineEnd). */
  lineStart: number;
  lineEnd: number;
  /** Interned (interned.ts). */
  eventName: string;
  /** Epoch milliseconds. */
  timestamp: number;
}

const TAB = 0x09;
const UPPER_A = 0x41;
const UPPER_F = 0x46;
const NEWLINE = 0x0a;

/** The keys of an event message: the client event's, with timestamp in epoch ms, and received_at and sent_at. */
const KEYS: readonly EventKey[] = [
  ...EVENT_KEYS.map((key): EventKey => (key.kind === "timestamp" ? { name: key.name, kind: "integer" } : key)),
  ...MESSAGE_TIME_KEYS,
];
const {
  event_id: F_EVENT_ID,
  event_name: F_EVENT_NAME,
  user_id: F_USER_ID,
  timestamp: F_TIMESTAMP,
  channel: F_CHANNEL,
  campaign_id: F_CAMPAIGN_ID,
  session_id: F_SESSION_ID,
  anonymous_id: F_ANONYMOUS_ID,
  tags: F_TAGS,
  metadata: F_METADATA,
  user_properties: F_USER_PROPERTIES,
  device: F_DEVICE,
  app: F_APP,
  received_at: F_RECEIVED_AT,
  sent_at: F_SENT_AT,
} = EVENT_FIELD;
const REQUIRED = (1 << F_EVENT_ID) | (1 << F_EVENT_NAME) | (1 << F_USER_ID) | (1 << F_TIMESTAMP) | (1 << F_RECEIVED_AT);

/** The current message's spans; the parse is synchronous, so one scanner serves every call. */
const scanner = new EventScanner(KEYS);
const { valueStart, valueEnd, tags } = scanner;

/** Parses and checks the message; the bit set of fields present, or -1. */
function readMessage(b: Buffer): number {
  const seen = scanner.read(b, 0);
  return seen >= 0 && scanner.end === b.length && (seen & REQUIRED) === REQUIRED ? seen : -1;
}

/** Appends an ASCII string. */
function put(out: Buffer, text: string, at: number): number {
  let w = at;
  for (let i = 0; i < text.length; i++) out[w++] = text.charCodeAt(i);
  return w;
}

/** `[a,b]` of the entries of one kind: their keys (quoted) or values (quoted when strings, 1/0 for booleans). */
function putArray(
  out: Buffer,
  b: Buffer,
  spans: PropertySpans,
  kinds: "string" | "number" | "bool",
  keys: boolean,
  at: number,
): number {
  let w = at;
  out[w++] = OPEN_BRACKET;
  let first = true;
  for (let k = 0; k < spans.count; k++) {
    const kind = spans.kind[k] as number;
    const matches = kinds === "string" ? kind === KIND_STRING : kinds === "number" ? kind === KIND_NUMBER : kind >= KIND_TRUE;
    if (!matches) continue;
    if (!first) out[w++] = COMMA;
    first = false;
    if (keys) {
      out[w++] = APOSTROPHE;
      w = copyBytes(out, b, spans.keyStart[k] as number, spans.keyEnd[k] as number, w);
      out[w++] = APOSTROPHE;
    } else if (kind === KIND_STRING) {
      out[w++] = APOSTROPHE;
      w = copyBytes(out, b, spans.valueStart[k] as number, spans.valueEnd[k] as number, w);
      out[w++] = APOSTROPHE;
    } else if (kind === KIND_NUMBER) w = copyBytes(out, b, spans.valueStart[k] as number, spans.valueEnd[k] as number, w);
    else out[w++] = kind === KIND_TRUE ? 0x31 : ZERO;
  }
  out[w++] = CLOSE_BRACKET;
  return w;
}

/** The six typed key/value columns of a property map (absent: six empty arrays). */
function putProperties(out: Buffer, b: Buffer, spans: PropertySpans | undefined, at: number): number {
  if (!spans || spans.count === 0) return put(out, "[]\t[]\t[]\t[]\t[]\t[]", at);
  let w = putArray(out, b, spans, "string", true, at);
  out[w++] = TAB;
  w = putArray(out, b, spans, "string", false, w);
  out[w++] = TAB;
  w = putArray(out, b, spans, "number", true, w);
  out[w++] = TAB;
  w = putArray(out, b, spans, "number", false, w);
  out[w++] = TAB;
  w = putArray(out, b, spans, "bool", true, w);
  out[w++] = TAB;
  w = putArray(out, b, spans, "bool", false, w);
  return w;
}

/** A field's text (a string's without its quotes, which TabSeparated does not want), then a tab; just the tab when absent. */
function putOptional(out: Buffer, b: Buffer, seen: number, field: number, at: number): number {
  let w = at;
  if ((seen & (1 << field)) !== 0) {
    const start = valueStart[field] as number;
    const quoted = b[start] === QUOTE ? 1 : 0;
    w = copyBytes(out, b, start + quoted, (valueEnd[field] as number) - quoted, at);
  }
  out[w] = TAB;
  return w + 1;
}

function putStrings(out: Buffer, b: Buffer, present: boolean, starts: Int32Array, ends: Int32Array, at: number): number {
  let w = at;
  for (let k = 0; k < starts.length; k++) {
    const start = present ? (starts[k] as number) : -1;
    if (start >= 0) w = copyBytes(out, b, start, ends[k] as number, w);
    out[w++] = TAB;
  }
  return w;
}

/** Kafka's legal topic names, which TabSeparated writes as they are. */
const PLAIN_TOPIC = /^[A-Za-z0-9._-]+$/;
const PLAIN_OFFSET = /^\d+$/;
let plainTopic = "";

/**
 * The row of a message in the common form the ingest app writes, when it is certainly valid and its line
 * certainly the one the general path writes, with the line written to `arena`; undefined otherwise
 * (the caller then takes that path).
 */
export function fastLine(value: Buffer, position: KafkaPosition, arena: ByteArena): FastLine | undefined {
  const b = value;
  if (position.topic !== plainTopic) {
    if (!PLAIN_TOPIC.test(position.topic)) return undefined;
    plainTopic = position.topic;
  }
  if (!PLAIN_OFFSET.test(position.offset)) return undefined;
  const seen = readMessage(b);
  if (seen < 0) return undefined;
  const timestamp = integerValue(b, valueStart[F_TIMESTAMP] as number, valueEnd[F_TIMESTAMP] as number);
  if (timestamp < LIMITS.minTimestampMs) return undefined;

  // Room for the longest line the message can make (every byte doubled is more than any field takes);
  // what is left over goes back to the arena.
  const room = 2 * b.length + 1024 + 2 * position.topic.length + position.offset.length;
  const lineStart = arena.reserve(room);
  const out = arena.chunk;
  // The scanner checked the id's form (a UUID: hex digits and dashes); it is written lower-cased.
  let w = lineStart;
  for (let i = (valueStart[F_EVENT_ID] as number) + 1; i < (valueEnd[F_EVENT_ID] as number) - 1; i++) {
    const byte = b[i] as number;
    out[w++] = byte >= UPPER_A && byte <= UPPER_F ? byte | 0x20 : byte;
  }
  out[w++] = TAB;
  w = putOptional(out, b, seen, F_EVENT_NAME, w);
  w = putOptional(out, b, seen, F_USER_ID, w);
  // timestamp (seconds): at least 12 digits, so dropping the last three is Math.floor(ms / 1000).
  w = copyBytes(out, b, valueStart[F_TIMESTAMP] as number, (valueEnd[F_TIMESTAMP] as number) - 3, w);
  out[w++] = TAB;
  w = putOptional(out, b, seen, F_TIMESTAMP, w);
  w = putOptional(out, b, seen, F_CHANNEL, w);
  w = putOptional(out, b, seen, F_CAMPAIGN_ID, w);
  w = putOptional(out, b, seen, F_SESSION_ID, w);
  w = putOptional(out, b, seen, F_ANONYMOUS_ID, w);
  out[w++] = OPEN_BRACKET;
  if ((seen & (1 << F_TAGS)) !== 0) {
    for (let t = 0; t < tags.count; t++) {
      if (t > 0) out[w++] = COMMA;
      out[w++] = APOSTROPHE;
      w = copyBytes(out, b, tags.spans[t * 2] as number, tags.spans[t * 2 + 1] as number, w);
      out[w++] = APOSTROPHE;
    }
  }
  out[w++] = CLOSE_BRACKET;
  out[w++] = TAB;
  w = putProperties(out, b, (seen & (1 << F_METADATA)) !== 0 ? scanner.metadata : undefined, w);
  out[w++] = TAB;
  w = putProperties(out, b, (seen & (1 << F_USER_PROPERTIES)) !== 0 ? scanner.userProperties : undefined, w);
  out[w++] = TAB;
  w = putStrings(out, b, (seen & (1 << F_DEVICE)) !== 0, scanner.deviceStart, scanner.deviceEnd, w);
  w = putStrings(out, b, (seen & (1 << F_APP)) !== 0, scanner.appStart, scanner.appEnd, w);
  // items: never present on this path.
  out[w++] = TAB;
  if ((seen & (1 << F_SENT_AT)) !== 0) w = copyBytes(out, b, valueStart[F_SENT_AT] as number, valueEnd[F_SENT_AT] as number, w);
  else out[w++] = ZERO;
  out[w++] = TAB;
  w = putOptional(out, b, seen, F_RECEIVED_AT, w);
  w = put(out, position.topic, w);
  out[w++] = TAB;
  w = put(out, String(position.partition), w);
  out[w++] = TAB;
  w = put(out, position.offset, w);
  out[w++] = NEWLINE;
  arena.giveBack(lineStart + room - w);
  return {
    lineStart,
    lineEnd: w,
    eventName: internNameBytes(b, (valueStart[F_EVENT_NAME] as number) + 1, (valueEnd[F_EVENT_NAME] as number) - 1),
    timestamp,
  };
}
