import { DEVICE_FIELDS, type KafkaPosition } from "@sluice/clickhouse";
import { CHANNELS, LIMITS } from "@sluice/events";
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

const QUOTE = 0x22;
const APOSTROPHE = 0x27;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const TAB = 0x09;
const NEWLINE = 0x0a;

const bytes = (names: readonly string[]) => names.map((name) => Buffer.from(name, "latin1"));

/** Top-level keys of an event message, by field number (see the F_ constants). */
const TOP_KEYS = bytes([
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
const DEVICE_KEYS = bytes(DEVICE_FIELDS);
const APP_KEYS = bytes(["id", "version"]);
const CHANNEL_NAMES = bytes(CHANNELS);
const PROTO = Buffer.from("__proto__", "latin1");

/** Bounded string fields: [min, max] characters (ASCII only here, so bytes). */
const STRING_BOUNDS: Partial<Record<number, readonly [number, number]>> = {
  [F_EVENT_NAME]: [1, LIMITS.eventName],
  [F_USER_ID]: [1, LIMITS.userId],
  [F_CAMPAIGN_ID]: [1, LIMITS.campaignId],
  [F_SESSION_ID]: [1, LIMITS.sessionId],
  [F_ANONYMOUS_ID]: [1, LIMITS.anonymousId],
};

/** Spans of the current message; the parse is synchronous, so one set serves every call. */
const fieldStart = new Int32Array(TOP_KEYS.length);
const fieldEnd = new Int32Array(TOP_KEYS.length);
const deviceStart = new Int32Array(DEVICE_KEYS.length);
const deviceEnd = new Int32Array(DEVICE_KEYS.length);
const appStart = new Int32Array(APP_KEYS.length);
const appEnd = new Int32Array(APP_KEYS.length);
/** Tags as [start, end) pairs of their text. */
const tagSpans = new Int32Array(LIMITS.tags * 2);
let tagCount = 0;

const KIND_STRING = 0;
const KIND_NUMBER = 1;
const KIND_TRUE = 2;
const KIND_FALSE = 3;

/** One property map's entries in input order: kind, key span, value span. */
class PropertySpans {
  readonly kind: Uint8Array;
  readonly keyStart: Int32Array;
  readonly keyEnd: Int32Array;
  readonly valueStart: Int32Array;
  readonly valueEnd: Int32Array;
  count = 0;
  /** At most `maxKeys` entries: a map with more fails the schema. */
  constructor(maxKeys: number) {
    this.kind = new Uint8Array(maxKeys);
    this.keyStart = new Int32Array(maxKeys);
    this.keyEnd = new Int32Array(maxKeys);
    this.valueStart = new Int32Array(maxKeys);
    this.valueEnd = new Int32Array(maxKeys);
  }
}
const metadataSpans = new PropertySpans(LIMITS.metadataKeys);
const userPropertySpans = new PropertySpans(LIMITS.userPropertiesKeys);

let out = Buffer.allocUnsafe(16 * 1024);

function equalBytes(b: Buffer, start: number, end: number, name: Buffer): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (b[start + i] !== name[i]) return false;
  return true;
}

function keyIndex(b: Buffer, start: number, end: number, names: readonly Buffer[]): number {
  for (let i = 0; i < names.length; i++) if (equalBytes(b, start, end, names[i] as Buffer)) return i;
  return -1;
}

/**
 * The index of the closing quote of the string opening at `p`, or -1 unless the string holds only
 * printable ASCII other than `\` and `'` (so JSON.parse reads it byte for byte, its length in code
 * points is its length in bytes, and TabSeparated writes it unescaped, quoted or not).
 */
function stringEnd(b: Buffer, p: number): number {
  if (b[p] !== QUOTE) return -1;
  for (let i = p + 1; i < b.length; i++) {
    const c = b[i] as number;
    if (c === QUOTE) return i;
    if (c < 0x20 || c > 0x7e || c === BACKSLASH || c === APOSTROPHE) return -1;
  }
  return -1;
}

/** The end of the digits of a non-negative integer of at most 15 digits (an exact safe integer, written as String writes it) at `p`, or -1. */
function integerEnd(b: Buffer, p: number): number {
  let i = p;
  while (i < b.length && (b[i] as number) >= ZERO && (b[i] as number) <= NINE) i++;
  const digits = i - p;
  // A fraction or an exponent after the digits (1.0 is the integer 1 to JSON.parse) is not a delimiter: the caller declines.
  return digits === 0 || digits > 15 || (digits > 1 && b[p] === ZERO) ? -1 : i;
}

function integerValue(b: Buffer, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + ((b[i] as number) - ZERO);
  return value;
}

/**
 * The end of a property's number at `p` when JSON.parse reads it and String writes it back as the
 * very same text (so its bytes can be copied), or -1.
 */
function numberEnd(b: Buffer, p: number): number {
  let i = p;
  if (b[i] === MINUS) i++;
  const intStart = i;
  while (i < b.length && (b[i] as number) >= ZERO && (b[i] as number) <= NINE) i++;
  const intDigits = i - intStart;
  if (intDigits === 0 || (intDigits > 1 && b[intStart] === ZERO)) return -1;
  let fraction = false;
  if (b[i] === DOT) {
    i++;
    const fractionStart = i;
    while (i < b.length && (b[i] as number) >= ZERO && (b[i] as number) <= NINE) i++;
    if (i === fractionStart) return -1;
    fraction = true;
  }
  // An exponent is left unread, so the caller, finding no delimiter, declines.
  // Integers of up to 15 digits other than -0 are exact and written back digit for digit.
  if (!fraction && intDigits <= 15 && !(b[p] === MINUS && b[intStart] === ZERO)) return i;
  const text = b.toString("latin1", p, i);
  return String(Number(text)) === text ? i : -1;
}

/** Reads a property map `{...}` at `p` into `spans`; the end index, or -1. */
function readProperties(b: Buffer, p: number, spans: PropertySpans): number {
  spans.count = 0;
  if (b[p] !== OPEN_BRACE) return -1;
  let i = p + 1;
  if (b[i] === CLOSE_BRACE) return i + 1;
  for (;;) {
    const keyEnd = stringEnd(b, i);
    if (keyEnd < 0) return -1;
    const keyStart = i + 1;
    const keyLength = keyEnd - keyStart;
    // Numeric-looking keys: an array-index key would come first in the record's key order.
    if (keyLength === 0 || keyLength > LIMITS.propertyKeyLength) return -1;
    const first = b[keyStart] as number;
    if ((first >= ZERO && first <= NINE) || equalBytes(b, keyStart, keyEnd, PROTO)) return -1;
    const n = spans.count;
    if (n === spans.kind.length) return -1;
    for (let k = 0; k < n; k++) {
      const otherStart = spans.keyStart[k] as number;
      if ((spans.keyEnd[k] as number) - otherStart !== keyLength) continue;
      let same = true;
      for (let j = 0; j < keyLength && same; j++) same = b[keyStart + j] === b[otherStart + j];
      if (same) return -1;
    }
    if (b[keyEnd + 1] !== COLON) return -1;
    i = keyEnd + 2;
    const c = b[i];
    let kind: number;
    let valueStart = i;
    let valueEnd: number;
    if (c === QUOTE) {
      const end = stringEnd(b, i);
      if (end < 0 || end - i - 1 > LIMITS.propertyStringLength) return -1;
      kind = KIND_STRING;
      valueStart = i + 1;
      valueEnd = end;
      i = end + 1;
    } else if (c === 0x74 && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65) {
      kind = KIND_TRUE;
      valueEnd = i + 4;
      i = valueEnd;
    } else if (c === 0x66 && b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65) {
      kind = KIND_FALSE;
      valueEnd = i + 5;
      i = valueEnd;
    } else {
      valueEnd = numberEnd(b, i);
      if (valueEnd < 0) return -1;
      kind = KIND_NUMBER;
      i = valueEnd;
    }
    spans.kind[n] = kind;
    spans.keyStart[n] = keyStart;
    spans.keyEnd[n] = keyEnd;
    spans.valueStart[n] = valueStart;
    spans.valueEnd[n] = valueEnd;
    spans.count = n + 1;
    if (b[i] === CLOSE_BRACE) return i + 1;
    if (b[i] !== COMMA) return -1;
    i++;
  }
}

/** Reads a strict object of optional bounded strings (device, app) at `p`; the end index, or -1. */
function readStringObject(
  b: Buffer,
  p: number,
  names: readonly Buffer[],
  starts: Int32Array,
  ends: Int32Array,
  max: number,
): number {
  starts.fill(-1);
  if (b[p] !== OPEN_BRACE) return -1;
  let i = p + 1;
  if (b[i] === CLOSE_BRACE) return i + 1;
  for (;;) {
    const keyEnd = stringEnd(b, i);
    if (keyEnd < 0) return -1;
    const index = keyIndex(b, i + 1, keyEnd, names);
    if (index < 0 || (starts[index] as number) >= 0 || b[keyEnd + 1] !== COLON) return -1;
    const valueEnd = stringEnd(b, keyEnd + 2);
    if (valueEnd < 0 || valueEnd - keyEnd - 3 > max) return -1;
    starts[index] = keyEnd + 3;
    ends[index] = valueEnd;
    i = valueEnd + 1;
    if (b[i] === CLOSE_BRACE) return i + 1;
    if (b[i] !== COMMA) return -1;
    i++;
  }
}

/** Reads the tags array at `p`; the end index, or -1. */
function readTags(b: Buffer, p: number): number {
  tagCount = 0;
  if (b[p] !== OPEN_BRACKET) return -1;
  let i = p + 1;
  if (b[i] === CLOSE_BRACKET) return i + 1;
  for (;;) {
    const end = stringEnd(b, i);
    if (end < 0 || end - i - 1 > LIMITS.tagLength || tagCount === LIMITS.tags) return -1;
    tagSpans[tagCount * 2] = i + 1;
    tagSpans[tagCount * 2 + 1] = end;
    tagCount++;
    i = end + 1;
    if (b[i] === CLOSE_BRACKET) return i + 1;
    if (b[i] !== COMMA) return -1;
    i++;
  }
}

/** Parses and checks the message into the span tables; the bit set of fields present, or -1. */
function readMessage(b: Buffer): number {
  const n = b.length;
  if (n < 2 || b[0] !== OPEN_BRACE) return -1;
  let seen = 0;
  let i = 1;
  for (;;) {
    const keyEnd = stringEnd(b, i);
    if (keyEnd < 0) return -1;
    const field = keyIndex(b, i + 1, keyEnd, TOP_KEYS);
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
        end = readTags(b, i);
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
        if (field === F_CHANNEL && keyIndex(b, i + 1, close, CHANNEL_NAMES) < 0) return -1;
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
    for (let t = 0; t < tagCount; t++) {
      if (t > 0) out[w++] = COMMA;
      out[w++] = APOSTROPHE;
      w = copy(b, tagSpans[t * 2] as number, tagSpans[t * 2 + 1] as number, w);
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
