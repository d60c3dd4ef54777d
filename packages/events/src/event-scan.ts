import { z } from "zod";
import {
  asciiNames,
  CLOSE_BRACE,
  COLON,
  COMMA,
  integerEnd,
  NameSet,
  OPEN_BRACE,
  PropertySpans,
  QUOTE,
  readProperties,
  readStringObject,
  readTags,
  stringEnd,
  TagSpans,
} from "./json-scan";
import { CHANNELS, DEVICE_FIELDS, LIMITS } from "./schema";

/** What a top-level key of an event holds, as EventScanner checks it. */
export type EventValueKind =
  | "integer"
  | "timestamp"
  | "uuid"
  | "string"
  | "channel"
  | "tags"
  | "metadata"
  | "user_properties"
  | "device"
  | "app";

/** One key an event reader accepts: what it holds and, for a string, its [min, max] length. */
export interface EventKey {
  name: string;
  kind: EventValueKind;
  bounds?: readonly [number, number];
}

/**
 * The keys of a client event as the scanner checks them, in the order the validator writes them (so
 * an event's fields can be copied out in index order after event_id and timestamp); EVENT_FIELD
 * gives their indexes. A Kafka message reader appends received_at and sent_at (indexes 13 and 14) and
 * reads timestamp as an integer.
 */
export const EVENT_KEYS: readonly EventKey[] = [
  { name: "event_id", kind: "uuid" },
  { name: "timestamp", kind: "timestamp" },
  { name: "event_name", kind: "string", bounds: [1, LIMITS.eventName] },
  { name: "user_id", kind: "string", bounds: [1, LIMITS.userId] },
  { name: "channel", kind: "channel" },
  { name: "campaign_id", kind: "string", bounds: [1, LIMITS.campaignId] },
  { name: "session_id", kind: "string", bounds: [1, LIMITS.sessionId] },
  { name: "anonymous_id", kind: "string", bounds: [1, LIMITS.anonymousId] },
  { name: "tags", kind: "tags" },
  { name: "metadata", kind: "metadata" },
  { name: "user_properties", kind: "user_properties" },
  { name: "device", kind: "device" },
  { name: "app", kind: "app" },
];

/** Indexes of EVENT_KEYS (and of a message reader's two extra keys), for the bit sets and spans of EventScanner. */
export const EVENT_FIELD = {
  event_id: 0,
  timestamp: 1,
  event_name: 2,
  user_id: 3,
  channel: 4,
  campaign_id: 5,
  session_id: 6,
  anonymous_id: 7,
  tags: 8,
  metadata: 9,
  user_properties: 10,
  device: 11,
  app: 12,
  received_at: 13,
  sent_at: 14,
} as const;

const UUID = z.regexes.uuid();
const KINDS: readonly EventValueKind[] = [
  "integer",
  "timestamp",
  "uuid",
  "string",
  "channel",
  "tags",
  "metadata",
  "user_properties",
  "device",
  "app",
];
// Indexes into KINDS.
const INTEGER = 0;
const TIMESTAMP = 1;
const ID = 2;
const STRING = 3;
const CHANNEL = 4;
const TAGS = 5;
const METADATA = 6;
const USER_PROPERTIES = 7;
const DEVICE = 8;
const CHANNEL_NAMES = new NameSet(CHANNELS);
const DEVICE_NAMES = asciiNames(DEVICE_FIELDS);
const APP_NAMES = asciiNames(["id", "version"]);

/**
 * Reads the top-level keys of an event object in compact JSON, the part the ingest's fast-event.ts and
 * the worker's fast-line.ts share: known keys only, each once, each value of its kind and within its
 * bounds (json-scan.ts's readers). Reading is synchronous, so one scanner's spans serve every call.
 */
export class EventScanner {
  /** Whole-value spans by key index (a string's quotes included). */
  readonly valueStart: Int32Array;
  readonly valueEnd: Int32Array;
  readonly tags = new TagSpans();
  readonly metadata = new PropertySpans(LIMITS.metadataKeys);
  readonly userProperties = new PropertySpans(LIMITS.userPropertiesKeys);
  /** Device and app values (without quotes) by key, in DEVICE_FIELDS and (id, version) order; -1: absent. */
  readonly deviceStart = new Int32Array(DEVICE_NAMES.length);
  readonly deviceEnd = new Int32Array(DEVICE_NAMES.length);
  readonly appStart = new Int32Array(APP_NAMES.length);
  readonly appEnd = new Int32Array(APP_NAMES.length);
  /** The index just past the closing brace of the object read last. */
  end = 0;
  private readonly names: NameSet;
  private readonly kinds: Uint8Array;
  private readonly min: Int32Array;
  private readonly max: Int32Array;

  constructor(keys: readonly EventKey[]) {
    this.names = new NameSet(keys.map((key) => key.name));
    this.kinds = Uint8Array.from(keys, (key) => KINDS.indexOf(key.kind));
    this.min = Int32Array.from(keys, (key) => key.bounds?.[0] ?? 0);
    this.max = Int32Array.from(keys, (key) => key.bounds?.[1] ?? Number.MAX_SAFE_INTEGER);
    this.valueStart = new Int32Array(keys.length);
    this.valueEnd = new Int32Array(keys.length);
  }

  /** Reads the object at `p`; the bit set of the keys present (by index), or -1. */
  read(b: Buffer, p: number): number {
    if (b[p] !== OPEN_BRACE) return -1;
    let seen = 0;
    let i = p + 1;
    for (;;) {
      const keyEnd = stringEnd(b, i);
      if (keyEnd < 0) return -1;
      const key = this.names.indexOf(b, i + 1, keyEnd);
      if (key < 0 || (seen & (1 << key)) !== 0 || b[keyEnd + 1] !== COLON) return -1;
      seen |= 1 << key;
      i = keyEnd + 2;
      const end = this.value(b, i, key);
      if (end <= 0) return -1;
      this.valueStart[key] = i;
      this.valueEnd[key] = end;
      i = end;
      if (b[i] === CLOSE_BRACE) {
        this.end = i + 1;
        return seen;
      }
      if (b[i] !== COMMA) return -1;
      i++;
    }
  }

  /** The end of the value at `i` of key `key` when it is of its kind, or -1. */
  private value(b: Buffer, i: number, key: number): number {
    const kind = this.kinds[key] as number;
    if (kind === INTEGER) return integerEnd(b, i);
    // A timestamp is epoch ms or an ISO-8601 string; the caller parses and bounds it.
    if (kind === TIMESTAMP) return b[i] === QUOTE ? stringEnd(b, i) + 1 : integerEnd(b, i);
    if (kind === TAGS) return readTags(b, i, this.tags);
    if (kind === METADATA) return readProperties(b, i, this.metadata);
    if (kind === USER_PROPERTIES) return readProperties(b, i, this.userProperties);
    if (kind === DEVICE) return readStringObject(b, i, DEVICE_NAMES, this.deviceStart, this.deviceEnd, LIMITS.deviceFieldLength);
    if (kind > DEVICE) return readStringObject(b, i, APP_NAMES, this.appStart, this.appEnd, LIMITS.appFieldLength);
    const close = stringEnd(b, i);
    if (close < 0) return -1;
    const length = close - i - 1;
    if (kind === STRING && (length < (this.min[key] as number) || length > (this.max[key] as number))) return -1;
    if (kind === CHANNEL && CHANNEL_NAMES.indexOf(b, i + 1, close) < 0) return -1;
    if (kind === ID && (length !== 36 || !UUID.test(b.toString("latin1", i + 1, close)))) return -1;
    return close + 1;
  }
}
