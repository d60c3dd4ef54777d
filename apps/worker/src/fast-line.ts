import { DEVICE_FIELDS, type KafkaPosition } from "@sluice/clickhouse";
import {
  APOSTROPHE,
  asciiNames,
  CHANNELS,
  CLOSE_BRACE,
  CLOSE_BRACKET,
  COLON,
  COMMA,
  integerEnd,
  integerValue,
  KIND_NUMBER,
  KIND_STRING,
  KIND_TRUE,
  LIMITS,
  NameSet,
  OPEN_BRACE,
  OPEN_BRACKET,
  PropertySpans,
  readProperties,
  readStringObject,
  readTags,
  stringEnd,
  TagSpans,
  ZERO,
} from "@sluice/events";
import { z } from "zod";

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
  /** The TabSeparated line of `toTabSeparatedEventLine` for the validated event. */
  line: string;
  /** The event_id, lower-cased. */
  eventId: string;
  eventName: string;
  /** Epoch milliseconds. */
  timestamp: number;
}

const UUID = z.regexes.uuid();

const TAB = 0x09;
const NEWLINE = 0x0a;

/** Top-level keys of an event message, by field number (see the F_ constants). */
const TOP_KEYS = new NameSet([
  "event_id",
  "event_name",
  "user_id",
  "timestamp",
  "channel",
  "campaign_id",
  "session_id",
  "anonymous_id",
  "tags",
  "metadata",
  "user_properties",
  "device",
  "app",
  "received_at",
  "sent_at",
]);
const F_EVENT_ID = 0;
const F_EVENT_NAME = 1;
const F_USER_ID = 2;
const F_TIMESTAMP = 3;
const F_CHANNEL = 4;
const F_CAMPAIGN_ID = 5;
const F_SESSION_ID = 6;
const F_ANONYMOUS_ID = 7;
const F_TAGS = 8;
const F_METADATA = 9;
const F_USER_PROPERTIES = 10;
const F_DEVICE = 11;
const F_APP = 12;
const F_RECEIVED_AT = 13;
const F_SENT_AT = 14;
const REQUIRED = (1 << F_EVENT_ID) | (1 << F_EVENT_NAME) | (1 << F_USER_ID) | (1 << F_TIMESTAMP) | (1 << F_RECEIVED_AT);

/** Device keys in column order (device_category … device_hostname). */
const DEVICE_KEYS = asciiNames(DEVICE_FIELDS);
const APP_KEYS = asciiNames(["id", "version"]);
const CHANNEL_NAMES = new NameSet(CHANNELS);

/** Bounded string fields: [min, max] characters (ASCII only here, so bytes). */
const STRING_BOUNDS: Partial<Record<number, readonly [number, number]>> = {
  [F_EVENT_NAME]: [1, LIMITS.eventName],
  [F_USER_ID]: [1, LIMITS.userId],
  [F_CAMPAIGN_ID]: [1, LIMITS.campaignId],
  [F_SESSION_ID]: [1, LIMITS.sessionId],
  [F_ANONYMOUS_ID]: [1, LIMITS.anonymousId],
};

/** Spans of the current message; the parse is synchronous, so one set serves every call. */
const fieldStart = new Int32Array(TOP_KEYS.names.length);
const fieldEnd = new Int32Array(TOP_KEYS.names.length);
const deviceStart = new Int32Array(DEVICE_KEYS.length);
const deviceEnd = new Int32Array(DEVICE_KEYS.length);
const appStart = new Int32Array(APP_KEYS.length);
const appEnd = new Int32Array(APP_KEYS.length);
const tags = new TagSpans();

const metadataSpans = new PropertySpans(LIMITS.metadataKeys);
const userPropertySpans = new PropertySpans(LIMITS.userPropertiesKeys);

let out = Buffer.allocUnsafe(16 * 1024);

/** Parses and checks the message into the span tables; the bit set of fields present, or -1. */
function readMessage(b: Buffer): number {
  const n = b.length;
  if (n < 2 || b[0] !== OPEN_BRACE) return -1;
  let seen = 0;
  let i = 1;
  for (;;) {
    const keyEnd = stringEnd(b, i);
    if (keyEnd < 0) return -1;
    const field = TOP_KEYS.indexOf(b, i + 1, keyEnd);
    if (field < 0 || (seen & (1 << field)) !== 0 || b[keyEnd + 1] !== COLON) return -1;
    seen |= 1 << field;
    i = keyEnd + 2;
    let end: number;
    switch (field) {
      case F_TIMESTAMP:
      case F_RECEIVED_AT:
      case F_SENT_AT:
        end = integerEnd(b, i);
        fieldStart[field] = i;
        fieldEnd[field] = end;
        break;
      case F_TAGS:
        end = readTags(b, i, tags);
        break;
      case F_METADATA:
        end = readProperties(b, i, metadataSpans);
        break;
      case F_USER_PROPERTIES:
        end = readProperties(b, i, userPropertySpans);
        break;
      case F_DEVICE:
        end = readStringObject(b, i, DEVICE_KEYS, deviceStart, deviceEnd, LIMITS.deviceFieldLength);
        break;
      case F_APP:
        end = readStringObject(b, i, APP_KEYS, appStart, appEnd, LIMITS.appFieldLength);
        break;
      default: {
        const close = stringEnd(b, i);
        if (close < 0) return -1;
        const length = close - i - 1;
        const bounds = STRING_BOUNDS[field];
        if (bounds && (length < bounds[0] || length > bounds[1])) return -1;
        if (field === F_CHANNEL && CHANNEL_NAMES.indexOf(b, i + 1, close) < 0) return -1;
        fieldStart[field] = i + 1;
        fieldEnd[field] = close;
        end = close + 1;
      }
    }
    if (end < 0) return -1;
    i = end;
    if (b[i] === CLOSE_BRACE) return i + 1 === n && (seen & REQUIRED) === REQUIRED ? seen : -1;
    if (b[i] !== COMMA) return -1;
    i++;
  }
}

/** Appends the bytes of b[start, end) to `out` at `at`; the new write position. */
function copy(b: Buffer, start: number, end: number, at: number): number {
  if (end - start > 32) return at + b.copy(out, at, start, end);
  let w = at;
  for (let i = start; i < end; i++) out[w++] = b[i] as number;
  return w;
}

/** Appends an ASCII string. */
function put(text: string, at: number): number {
  let w = at;
  for (let i = 0; i < text.length; i++) out[w++] = text.charCodeAt(i);
  return w;
}

/** `[a,b]` of the entries of one kind: their keys (quoted) or values (quoted when strings, 1/0 for booleans). */
function putArray(b: Buffer, spans: PropertySpans, kinds: "string" | "number" | "bool", keys: boolean, at: number): number {
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
      w = copy(b, spans.keyStart[k] as number, spans.keyEnd[k] as number, w);
      out[w++] = APOSTROPHE;
    } else if (kind === KIND_STRING) {
      out[w++] = APOSTROPHE;
      w = copy(b, spans.valueStart[k] as number, spans.valueEnd[k] as number, w);
      out[w++] = APOSTROPHE;
    } else if (kind === KIND_NUMBER) w = copy(b, spans.valueStart[k] as number, spans.valueEnd[k] as number, w);
    else out[w++] = kind === KIND_TRUE ? 0x31 : ZERO;
  }
  out[w++] = CLOSE_BRACKET;
  return w;
}

/** The six typed key/value columns of a property map (absent: six empty arrays). */
function putProperties(b: Buffer, spans: PropertySpans | undefined, at: number): number {
  if (!spans || spans.count === 0) return put("[]\t[]\t[]\t[]\t[]\t[]", at);
  let w = putArray(b, spans, "string", true, at);
  out[w++] = TAB;
  w = putArray(b, spans, "string", false, w);
  out[w++] = TAB;
  w = putArray(b, spans, "number", true, w);
  out[w++] = TAB;
  w = putArray(b, spans, "number", false, w);
  out[w++] = TAB;
  w = putArray(b, spans, "bool", true, w);
  out[w++] = TAB;
  w = putArray(b, spans, "bool", false, w);
  return w;
}

function putOptional(b: Buffer, seen: number, field: number, at: number): number {
  const w = (seen & (1 << field)) === 0 ? at : copy(b, fieldStart[field] as number, fieldEnd[field] as number, at);
  out[w] = TAB;
  return w + 1;
}

function putStrings(b: Buffer, present: boolean, starts: Int32Array, ends: Int32Array, at: number): number {
  let w = at;
  for (let k = 0; k < starts.length; k++) {
    const start = present ? (starts[k] as number) : -1;
    if (start >= 0) w = copy(b, start, ends[k] as number, w);
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
 * certainly the one the general path writes; undefined otherwise (the caller then takes that path).
 */
export function fastLine(value: Buffer, position: KafkaPosition): FastLine | undefined {
  const b = value;
  if (position.topic !== plainTopic) {
    if (!PLAIN_TOPIC.test(position.topic)) return undefined;
    plainTopic = position.topic;
  }
  if (!PLAIN_OFFSET.test(position.offset)) return undefined;
  const seen = readMessage(b);
  if (seen < 0) return undefined;
  const idStart = fieldStart[F_EVENT_ID] as number;
  const idEnd = fieldEnd[F_EVENT_ID] as number;
  if (idEnd - idStart !== 36) return undefined;
  const id = b.toString("latin1", idStart, idEnd);
  if (!UUID.test(id)) return undefined;
  const timestamp = integerValue(b, fieldStart[F_TIMESTAMP] as number, fieldEnd[F_TIMESTAMP] as number);
  if (timestamp < LIMITS.minTimestampMs) return undefined;
  const eventId = id.toLowerCase();

  const need = 2 * b.length + 1024 + 2 * position.topic.length + position.offset.length;
  if (out.length < need) out = Buffer.allocUnsafe(Math.max(need, 2 * out.length));
  let w = put(eventId, 0);
  out[w++] = TAB;
  w = putOptional(b, seen, F_EVENT_NAME, w);
  w = putOptional(b, seen, F_USER_ID, w);
  // timestamp (seconds): at least 12 digits, so dropping the last three is Math.floor(ms / 1000).
  w = copy(b, fieldStart[F_TIMESTAMP] as number, (fieldEnd[F_TIMESTAMP] as number) - 3, w);
  out[w++] = TAB;
  w = putOptional(b, seen, F_TIMESTAMP, w);
  w = putOptional(b, seen, F_CHANNEL, w);
  w = putOptional(b, seen, F_CAMPAIGN_ID, w);
  w = putOptional(b, seen, F_SESSION_ID, w);
  w = putOptional(b, seen, F_ANONYMOUS_ID, w);
  out[w++] = OPEN_BRACKET;
  if ((seen & (1 << F_TAGS)) !== 0) {
    for (let t = 0; t < tags.count; t++) {
      if (t > 0) out[w++] = COMMA;
      out[w++] = APOSTROPHE;
      w = copy(b, tags.spans[t * 2] as number, tags.spans[t * 2 + 1] as number, w);
      out[w++] = APOSTROPHE;
    }
  }
  out[w++] = CLOSE_BRACKET;
  out[w++] = TAB;
  w = putProperties(b, (seen & (1 << F_METADATA)) !== 0 ? metadataSpans : undefined, w);
  out[w++] = TAB;
  w = putProperties(b, (seen & (1 << F_USER_PROPERTIES)) !== 0 ? userPropertySpans : undefined, w);
  out[w++] = TAB;
  w = putStrings(b, (seen & (1 << F_DEVICE)) !== 0, deviceStart, deviceEnd, w);
  w = putStrings(b, (seen & (1 << F_APP)) !== 0, appStart, appEnd, w);
  // items: never present on this path.
  out[w++] = TAB;
  if ((seen & (1 << F_SENT_AT)) !== 0) w = copy(b, fieldStart[F_SENT_AT] as number, fieldEnd[F_SENT_AT] as number, w);
  else out[w++] = ZERO;
  out[w++] = TAB;
  w = putOptional(b, seen, F_RECEIVED_AT, w);
  w = put(position.topic, w);
  out[w++] = TAB;
  w = put(String(position.partition), w);
  out[w++] = TAB;
  w = put(position.offset, w);
  out[w++] = NEWLINE;
  return {
    line: out.toString("latin1", 0, w),
    eventId,
    eventName: b.toString("latin1", fieldStart[F_EVENT_NAME] as number, fieldEnd[F_EVENT_NAME] as number),
    timestamp,
  };
}
