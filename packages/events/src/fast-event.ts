import { EVENT_FIELD, EVENT_KEYS, EventScanner } from "./event-scan";
import {
  CLOSE_BRACE,
  CLOSE_BRACKET,
  COLON,
  COMMA,
  copyBytes,
  integerEnd,
  integerValue,
  NameSet,
  OPEN_BRACE,
  OPEN_BRACKET,
  QUOTE,
  stringEnd,
} from "./json-scan";
import { type EventSchemaOptions, LIMITS, messageTail, parseIsoTimestamp } from "./schema";
import { writeUuidv7 } from "./uuid";

// The ingest's fast path for bodies in the form SDKs send (compact JSON, printable ASCII text): one
// pass over the body's bytes checks each event against the input schema and copies its values' bytes
// into the Kafka message, without JSON.parse's object tree, the validator's walk over it or
// JSON.stringify. It only says yes when the answer is certain: any byte, shape or value whose handling
// it does not reproduce exactly (whitespace, escapes, `'`, non-ASCII, duplicate keys, numeric-looking
// property keys, non-canonical numbers, `items`, anything invalid) makes it return undefined, and the
// body takes the general path (JSON.parse, createEventValidator, serializeEventMessage), which decides
// it as before. fast-event.test.ts checks that both give the same messages.

/** One event the fast path accepted: what the general path would publish for it. */
export interface FastEvent {
  /** The Kafka message value, byte for byte `serializeEventMessage`'s for the validated event. */
  value: Buffer;
  /** The message key: the user_id's bytes. */
  key: Buffer;
  /** The event_id, lower-cased, or the UUIDv7 given to an event without one. */
  eventId: string;
  /** The campaign the event names, for the caller's campaign rules. */
  campaignId: string | undefined;
}

/** The fast path of one ingest app: single-event bodies and batch envelopes. */
export interface FastEventReader {
  /** The message of a single-event body, or undefined when the general path must decide it. */
  one(body: Buffer, receivedAt: number): FastEvent | undefined;
  /** The messages of a batch envelope, all valid, or undefined when the general path must decide it. */
  batch(body: Buffer, receivedAt: number): FastEvent[] | undefined;
}

/** Bytes from a field's key's opening quote to its value: `"name":`. */
const KEY_BYTES = Int32Array.from(EVENT_KEYS, ({ name }) => name.length + 3);
const ID_FIRST = Buffer.from('"event_id":"', "latin1");
const ID_LAST = Buffer.from(',"event_id":"', "latin1");
const TIMESTAMP = Buffer.from('"timestamp":', "latin1");
const F_EVENT_ID = EVENT_FIELD.event_id;
const F_TIMESTAMP = EVENT_FIELD.timestamp;
const F_EVENT_NAME = EVENT_FIELD.event_name;
const F_USER_ID = EVENT_FIELD.user_id;
const F_CAMPAIGN_ID = EVENT_FIELD.campaign_id;
const F_APP = EVENT_FIELD.app;
const REQUIRED = (1 << F_TIMESTAMP) | (1 << F_EVENT_NAME) | (1 << F_USER_ID);
const ENVELOPE_NAMES = new NameSet(["events", "sent_at"]);
const scanner = new EventScanner(EVENT_KEYS);
const { valueStart, valueEnd } = scanner;

/** Reads the event object at `p`; the bit set of fields present, or -1 when it is not certainly valid. */
function readEvent(b: Buffer, p: number): number {
  const seen = scanner.read(b, p);
  return seen >= 0 && (seen & REQUIRED) === REQUIRED ? seen : -1;
}

/**
 * The body being read, copied to the start of `out`, and after it the messages read so far, before their
 * closing `,"received_at":…}` (known only once the envelope's sent_at has been read): written one after
 * another, with each one's span, the span of its user_id (the key) and its id and campaign. The body
 * sits in the same buffer so that a field's bytes move with one copyWithin (a native copy of ~40 ns
 * whatever the length) instead of a byte loop (~3 ns a byte).
 */
const KEPT_OUT_BYTES = 256 * 1024;
/** Room after each message head for its tail: `,"received_at":` and `,"sent_at":` with 15 digits each (integerEnd), and `}`. */
const TAIL_ROOM = 64;
let out = Buffer.allocUnsafe(KEPT_OUT_BYTES);
/** Where the messages start in `out`: the body's length. */
let messagesStart = 0;
const headStart = new Int32Array(LIMITS.batchEvents);
const headEnd = new Int32Array(LIMITS.batchEvents);
const keyStart = new Int32Array(LIMITS.batchEvents);
const keyEnd = new Int32Array(LIMITS.batchEvents);
const idStart = new Int32Array(LIMITS.batchEvents);
const campaignIds: (string | undefined)[] = [];
let count = 0;
let w = 0;

// The writers take and return the write position rather than updating `w`: a module variable in a byte
// loop costs a memory round trip per byte.

/** Writes the event_id (the given one lower-cased, or a fresh UUIDv7) and its closing quote; records where it starts. */
function putId(o: Buffer, b: Buffer, given: boolean, at: number): number {
  idStart[count] = at;
  if (given) {
    const start = (valueStart[F_EVENT_ID] as number) + 1;
    for (let i = 0; i < 36; i++) {
      const c = b[start + i] as number;
      // Only hex digits and dashes get here: upper-case A-F become a-f, as toLowerCase does.
      o[at + i] = c >= 0x41 && c <= 0x46 ? c + 0x20 : c;
    }
  } else writeUuidv7(o, at);
  o[at + 36] = QUOTE;
  return at + 37;
}

/** Makes room for `bytes` more in `out`, keeping what it holds. */
function reserve(bytes: number): void {
  if (w + bytes <= out.length) return;
  const grown = Buffer.allocUnsafe(Math.max(w + bytes, 2 * out.length));
  out.copy(grown, 0, 0, w);
  out = grown;
}

/** Starts reading `body`: copies it to the start of `out`, with the messages to follow it. */
function begin(body: Buffer): void {
  // A large body, read or declined, grew the scratch buffer; what it held is copied out or dropped.
  if (out.length > KEPT_OUT_BYTES) out = Buffer.allocUnsafe(KEPT_OUT_BYTES);
  count = 0;
  w = 0;
  reserve(body.length);
  body.copy(out, 0);
  w = body.length;
  messagesStart = w;
}

/** Builds the fast path for one ingest app's future-skew rule (the validator's options). */
export function createFastEventReader(options: EventSchemaOptions): FastEventReader {
  const now = options.now ?? Date.now;

  /**
   * Reads the event at `p` and appends its message head; false when the general path must decide.
   * Leaves the event's end in `scanner.end`.
   */
  function readOne(b: Buffer, p: number, latest: number): boolean {
    const seen = readEvent(b, p);
    if (seen < 0) return false;
    const tsStart = valueStart[F_TIMESTAMP] as number;
    const tsEnd = valueEnd[F_TIMESTAMP] as number;
    const iso = b[tsStart] === QUOTE;
    const timestamp = iso
      ? (parseIsoTimestamp(b.toString("latin1", tsStart + 1, tsEnd - 1)) ?? -1)
      : integerValue(b, tsStart, tsEnd);
    if (timestamp < LIMITS.minTimestampMs || timestamp > latest) return false;
    const given = (seen & (1 << F_EVENT_ID)) !== 0;
    // At most the event's bytes, a comma a field, an event_id, a timestamp longer than its text and the tail's room.
    reserve(scanner.end - p + 128 + TAIL_ROOM);
    // Input positions are the same in `out` (begin), so fields move within it.
    const o = out;
    let at = w;
    headStart[count] = at;
    o[at++] = OPEN_BRACE;
    // The validator's key order: event_id first when given, else appended after the other fields.
    if (given) {
      at = putId(o, b, true, copyBytes(o, ID_FIRST, 0, ID_FIRST.length, at));
      o[at++] = COMMA;
    }
    // An integer's text is already the canonical one (integerEnd); an ISO string becomes epoch ms.
    if (iso) {
      at = copyBytes(o, TIMESTAMP, 0, TIMESTAMP.length, at);
      at += o.write(String(timestamp), at, "latin1");
    } else {
      const from = tsStart - (KEY_BYTES[F_TIMESTAMP] as number);
      o.copyWithin(at, from, tsEnd);
      at += tsEnd - from;
    }
    for (let field = F_EVENT_NAME; field <= F_APP; field++) {
      if ((seen & (1 << field)) === 0) continue;
      const start = valueStart[field] as number;
      const end = valueEnd[field] as number;
      // A key is one of the names, unescaped: `"name":value` reads the same in the message.
      const from = start - (KEY_BYTES[field] as number);
      o[at++] = COMMA;
      o.copyWithin(at, from, end);
      if (field === F_USER_ID) {
        keyStart[count] = at + start - from + 1;
        keyEnd[count] = at + end - from - 1;
      }
      at += end - from;
    }
    if (!given) at = putId(o, b, false, copyBytes(o, ID_LAST, 0, ID_LAST.length, at));
    headEnd[count] = at;
    w = at + TAIL_ROOM;
    campaignIds[count] =
      (seen & (1 << F_CAMPAIGN_ID)) === 0
        ? undefined
        : b.toString("latin1", (valueStart[F_CAMPAIGN_ID] as number) + 1, (valueEnd[F_CAMPAIGN_ID] as number) - 1);
    count++;
    return true;
  }

  /** The events read so far, each head closed by `tail`: values and keys are views of one new buffer. */
  function finish(tail: string): FastEvent[] {
    // Each head is followed by room for the tail: written once, then copied after every other head.
    const tailLength = tail.length;
    if (count === 0) return [];
    if (tailLength > TAIL_ROOM) throw new Error(`a message tail of ${tailLength} bytes exceeds its room`);
    const first = headEnd[0] as number;
    out.write(tail, first, "latin1");
    for (let k = 1; k < count; k++) out.copyWithin(headEnd[k] as number, first, first + tailLength);
    // Up to the last tail (not its room): a buffer that is exactly the messages can be handed over whole.
    const end = (headEnd[count - 1] as number) + tailLength;
    const bytes = Buffer.allocUnsafe(end - messagesStart);
    out.copy(bytes, 0, messagesStart, end);
    // A batch's ids as one string, each a slice of it (no copy per id).
    const text = count === 1 ? "" : bytes.toString("latin1");
    const events: FastEvent[] = new Array(count);
    for (let k = 0; k < count; k++) {
      const key = (keyStart[k] as number) - messagesStart;
      const id = (idStart[k] as number) - messagesStart;
      events[k] = {
        value: bytes.subarray((headStart[k] as number) - messagesStart, (headEnd[k] as number) - messagesStart + tailLength),
        key: bytes.subarray(key, key + (keyEnd[k] as number) - (keyStart[k] as number)),
        eventId: count === 1 ? bytes.toString("latin1", id, id + 36) : text.slice(id, id + 36),
        campaignId: campaignIds[k],
      };
    }
    return events;
  }

  return {
    one(body, receivedAt) {
      begin(body);
      // The object must be the whole body: its closing brace is the last byte.
      if (!readOne(body, 0, now() + options.maxFutureSkewMs) || scanner.end !== body.length) return undefined;
      return finish(messageTail(receivedAt))[0];
    },

    batch(body, receivedAt) {
      const b = body;
      begin(body);
      if (b[0] !== OPEN_BRACE) return undefined;
      let seen = 0;
      let sentAt: number | undefined;
      let i = 1;
      const latest = now() + options.maxFutureSkewMs;
      for (;;) {
        const keyEnd = stringEnd(b, i);
        if (keyEnd < 0) return undefined;
        const key = ENVELOPE_NAMES.indexOf(b, i + 1, keyEnd);
        if (key < 0 || (seen & (1 << key)) !== 0 || b[keyEnd + 1] !== COLON) return undefined;
        seen |= 1 << key;
        i = keyEnd + 2;
        if (key === 1) {
          const sentEnd = integerEnd(b, i);
          if (sentEnd < 0) return undefined;
          sentAt = integerValue(b, i, sentEnd);
          i = sentEnd;
        } else {
          if (b[i] !== OPEN_BRACKET) return undefined;
          i++;
          for (;;) {
            if (count === LIMITS.batchEvents || !readOne(b, i, latest)) return undefined;
            i = scanner.end;
            if (b[i] === CLOSE_BRACKET) break;
            if (b[i] !== COMMA) return undefined;
            i++;
          }
          i++;
        }
        if (b[i] === CLOSE_BRACE) break;
        if (b[i] !== COMMA) return undefined;
        i++;
      }
      if (i + 1 !== b.length || (seen & 1) === 0) return undefined;
      return finish(messageTail(receivedAt, sentAt));
    },
  };
}
