import {
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
import { APP_FIELDS, CHANNELS, DEVICE_FIELDS, LIMITS } from "./schema";
import { isUuidAt } from "./uuid";

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

/** How each top-level key of an event and of its Kafka message is checked, in field-number order. */
const FIELD_KEYS = [
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
  { name: "received_at", kind: "integer" },
  { name: "sent_at", kind: "integer" },
] as const satisfies readonly EventKey[];

/**
 * The keys of a client event, in the order the validator writes them (so an event's fields can be
 * copied out in field-number order after event_id and timestamp).
 */
export const EVENT_KEYS: readonly EventKey[] = FIELD_KEYS.slice(
  0,
  FIELD_KEYS.findIndex((key) => key.name === "received_at"),
);

/** The keys the ingest adds to a Kafka message, after the event's: received_at and sent_at. */
export const MESSAGE_TIME_KEYS: readonly EventKey[] = FIELD_KEYS.slice(EVENT_KEYS.length);

/** Field numbers by key name: indexes into EVENT_KEYS followed by MESSAGE_TIME_KEYS, for EventScanner's bit sets and spans. */
export const EVENT_FIELD = Object.fromEntries(FIELD_KEYS.map(({ name }, index) => [name, index])) as {
  readonly [Name in (typeof FIELD_KEYS)[number]["name"]]: number;
};

const CHANNEL_NAMES = new NameSet(CHANNELS);
const DEVICE_NAMES = new NameSet(DEVICE_FIELDS);
const APP_NAMES = new NameSet(APP_FIELDS);

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
  readonly deviceStart = new Int32Array(DEVICE_FIELDS.length);
  readonly deviceEnd = new Int32Array(DEVICE_FIELDS.length);
  readonly appStart = new Int32Array(APP_FIELDS.length);
  readonly appEnd = new Int32Array(APP_FIELDS.length);
  /** The index just past the closing brace of the object read last. */
  end = 0;
  private readonly names: NameSet;
  private readonly keys: readonly EventKey[];

  constructor(keys: readonly EventKey[]) {
    this.names = new NameSet(keys.map((key) => key.name));
    this.keys = keys;
    this.valueStart = new Int32Array(keys.length);
    this.valueEnd = new Int32Array(keys.length);
  }

  /** Reads the object at `p`; the bit set of the keys present (by index), or -1. */
  read(b: Buffer, p: number): number {
    if (b[p] !== OPEN_BRACE) return -1;
    let seen = 0;
    let i = p + 1;
    let previous = -1;
    for (;;) {
      const key = this.names.readKey(b, i, previous);
      const keyEnd = this.names.keyEnd;
      if (key < 0 || (seen & (1 << key)) !== 0 || b[keyEnd + 1] !== COLON) return -1;
      seen |= 1 << key;
      previous = key;
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
    const { kind, bounds } = this.keys[key] as EventKey;
    switch (kind) {
      case "integer":
        return integerEnd(b, i);
      case "timestamp":
        // Epoch ms or an ISO-8601 string; the caller parses and bounds it.
        return b[i] === QUOTE ? stringEnd(b, i) + 1 : integerEnd(b, i);
      case "tags":
        return readTags(b, i, this.tags);
      case "metadata":
        return readProperties(b, i, this.metadata);
      case "user_properties":
        return readProperties(b, i, this.userProperties);
      case "device":
        return readStringObject(b, i, DEVICE_NAMES, this.deviceStart, this.deviceEnd, LIMITS.deviceFieldLength);
      case "app":
        return readStringObject(b, i, APP_NAMES, this.appStart, this.appEnd, LIMITS.appFieldLength);
    }
    const close = stringEnd(b, i);
    if (close < 0) return -1;
    const length = close - i - 1;
    if (bounds !== undefined && (length < bounds[0] || length > bounds[1])) return -1;
    if (kind === "channel" && CHANNEL_NAMES.indexOf(b, i + 1, close) < 0) return -1;
    if (kind === "uuid" && (length !== 36 || !isUuidAt(b, i + 1))) return -1;
    return close + 1;
  }
}
