import { z } from "zod";
import {
  APP_FIELDS,
  CHANNELS,
  DEVICE_FIELDS,
  type EventMessage,
  type EventSchemaOptions,
  type FieldIssue,
  LIMITS,
  parseIsoTimestamp,
  type ValidatedEvent,
} from "./schema";
import { uuidv7 } from "./uuid";

// Hand-written twins of createEventInputSchema and eventMessageSchema for the hot paths (ingest, worker).
// The zod schemas stay the declared contract (OpenAPI is generated from them); these apply the same
// rules and report the same issues, paths and messages as `toFieldIssues(schema.safeParse(x).error)`,
// in the same order, which validate.test.ts checks against zod with fast-check. Each branch below
// mirrors a zod behaviour: string bounds count code points, arrays over their bound report only the
// bound, a union reports its single type-matched option's issues, records drop `__proto__`, and a
// record's key-count rule runs only when nothing aborted before it.

/** A verdict of the hand-written validators, shaped like zod's safeParse result. */
export type Validation<T> = { success: true; data: T } | { success: false; issues: FieldIssue[] };

const UUID = z.regexes.uuid();
const CHANNEL_SET: ReadonlySet<unknown> = new Set(CHANNELS);
const CHANNEL_MESSAGE = `Invalid option: expected one of ${CHANNELS.map((c) => `"${c}"`).join("|")}`;
const TIMESTAMP_MESSAGE = "must be epoch milliseconds or an ISO-8601 string";
const UUID_MESSAGE = "must be a UUID";
const HIGH_SURROGATE = /[\uD800-\uDBFF]/;

const ITEM_STRING_KEYS = ["id", "name", "brand", "variant"];
const DEVICE_KEY_SET: ReadonlySet<string> = new Set(DEVICE_FIELDS);
const APP_KEY_SET: ReadonlySet<string> = new Set(APP_FIELDS);
const ITEM_KEYS = [...ITEM_STRING_KEYS, "price", "quantity"];
const ITEM_KEY_SET = new Set(ITEM_KEYS);
const EVENT_FIELDS = [
  "event_name",
  "user_id",
  "channel",
  "campaign_id",
  "session_id",
  "anonymous_id",
  "tags",
  "metadata",
  "user_properties",
  "device",
  "app",
  "items",
];
const MESSAGE_FIELDS = [...EVENT_FIELDS, "received_at", "sent_at"];
const INPUT_KEY_SET = new Set(["event_id", "timestamp", ...EVENT_FIELDS]);
const MESSAGE_KEY_SET = new Set(["event_id", "timestamp", ...MESSAGE_FIELDS]);

/** The issue list of one validation; allocated only when the first issue appears. */
interface Issues {
  list: FieldIssue[] | undefined;
}

/** Joins path parts the way toFieldIssues does: empty parts vanish, the rest are dot-joined. */
function join(base: string, part: string): string {
  if (part === "") return base;
  return base === "" ? part : `${base}.${part}`;
}

function push(issues: Issues, issue: FieldIssue): void {
  if (issues.list === undefined) issues.list = [issue];
  else issues.list.push(issue);
}

function add(issues: Issues, path: string, message: string): void {
  push(issues, { path: path === "" ? "(body)" : path, message });
}

/** Unknown keys are reported by name; unlike other issues an empty key is kept, as toFieldIssues does. */
function addUnknown(issues: Issues, base: string, key: string): void {
  push(issues, { path: base ? `${base}.${key}` : key, message: "unknown field" });
}

/** zod's name for the type of a value it did not expect. */
function received(value: unknown): string {
  switch (typeof value) {
    case "number":
      if (Number.isNaN(value)) return "NaN";
      return Number.isFinite(value) ? "number" : String(value);
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) return "array";
      const ctor = (value as { constructor?: { name?: string } }).constructor;
      if (Object.getPrototypeOf(value) !== Object.prototype && "constructor" in value && ctor) {
        return String(ctor.name);
      }
      return "object";
    }
    default:
      return typeof value;
  }
}

const expected = (type: string, value: unknown) => `Invalid input: expected ${type}, received ${received(value)}`;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** zod's test for a record: an object whose constructor, if any, is Object's (or not a function at all). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isObject(value)) return false;
  const ctor = value.constructor;
  if (ctor === undefined || typeof ctor !== "function") return true;
  const prototype: unknown = ctor.prototype;
  return isObject(prototype) && Object.hasOwn(prototype, "isPrototypeOf");
}

/** Length in code points: a surrogate pair counts once, a lone surrogate as itself. */
function codePoints(value: string): number {
  const units = value.length;
  if (!HIGH_SURROGATE.test(value)) return units;
  let count = units;
  for (let i = 0; i < units - 1; i += 1) {
    if ((value.charCodeAt(i) & 0xfc00) === 0xd800 && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count -= 1;
      i += 1;
    }
  }
  return count;
}

/** Whether a string is longer than `max` code points; counted only when its UTF-16 units exceed the bound. */
function exceeds(value: string, max: number): boolean {
  return value.length > max && codePoints(value) > max;
}

/**
 * zod runs length bounds even after a type mismatch, on anything with a `length` (a string where an
 * array belongs, an array where a string belongs, an object with a `length` key), comparing with JS
 * semantics; this reports what those checks add.
 */
function checkLengthAfterMismatch(value: unknown, min: number | undefined, max: number, issues: Issues, path: string): void {
  if (value === null || value === undefined) return;
  const units = (value as { length?: unknown }).length as number;
  if (units === undefined) return;
  const origin = Array.isArray(value) ? "array" : typeof value === "string" ? "string" : "unknown";
  const sizing = origin === "array" ? " items" : origin === "string" ? " characters" : "";
  const verb = origin === "unknown" ? "to be" : "to have";
  if (min !== undefined) {
    const length = typeof value === "string" && units >= min && units < min * 2 ? codePoints(value) : units;
    if (!(length >= min)) add(issues, path, `Too small: expected ${origin} ${verb} >=${min}${sizing}`);
  }
  const length = typeof value === "string" && units > max ? codePoints(value) : units;
  if (!(length <= max)) add(issues, path, `Too big: expected ${origin} ${verb} <=${max}${sizing}`);
}

/** z.string().min(min).max(max); reports whether the value passed. */
function checkString(value: unknown, max: number, min: number, issues: Issues, path: string): boolean {
  if (typeof value !== "string") {
    add(issues, path, expected("string", value));
    checkLengthAfterMismatch(value, min, max, issues, path);
    return false;
  }
  if (value.length < min) {
    add(issues, path, `Too small: expected string to have >=${min} characters`);
    return false;
  }
  if (exceeds(value, max)) {
    add(issues, path, `Too big: expected string to have <=${max} characters`);
    return false;
  }
  return true;
}

/** z.number() (finite) followed by z.int()'s checks; reports "ok", "aborted" (no later check runs) or "failed". */
function checkInt(value: unknown, issues: Issues, path: string): "ok" | "aborted" | "failed" {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    add(issues, path, expected("number", value));
    return "aborted";
  }
  if (!Number.isInteger(value)) {
    add(issues, path, "Invalid input: expected int, received number");
    return "aborted";
  }
  if (value > Number.MAX_SAFE_INTEGER) {
    add(issues, path, `Too big: expected int to be <=${Number.MAX_SAFE_INTEGER}`);
    return "failed";
  }
  if (value < Number.MIN_SAFE_INTEGER) {
    add(issues, path, `Too small: expected int to be >=${Number.MIN_SAFE_INTEGER}`);
    return "failed";
  }
  return "ok";
}

/** z.number().int().min(min) (and .max(max) when given). */
function checkBoundedInt(value: unknown, min: number, max: number | undefined, issues: Issues, path: string): void {
  const verdict = checkInt(value, issues, path);
  if (verdict === "aborted") return;
  const n = value as number;
  if (n < min) add(issues, path, `Too small: expected number to be >=${min}`);
  if (max !== undefined && n > max) add(issues, path, `Too big: expected number to be <=${max}`);
}

function checkOptionalString(event: Record<string, unknown>, key: string, max: number, min: number, issues: Issues): void {
  const value = event[key];
  if (value !== undefined) checkString(value, max, min, issues, key);
}

function checkTags(value: unknown, issues: Issues): void {
  if (!Array.isArray(value)) {
    add(issues, "tags", expected("array", value));
    checkLengthAfterMismatch(value, undefined, LIMITS.tags, issues, "tags");
    return;
  }
  if (value.length > LIMITS.tags) {
    add(issues, "tags", `Too big: expected array to have <=${LIMITS.tags} items`);
    return;
  }
  for (let i = 0; i < value.length; i += 1) checkString(value[i], LIMITS.tagLength, 0, issues, `tags.${i}`);
}

/**
 * z.record(key 1..128 chars, string | finite number | boolean) with the key-count refinement. Returns
 * the record as zod outputs it: the input itself, or a copy without an own `__proto__` key, which
 * zod skips without validating.
 */
function checkProperties(value: unknown, field: string, maxKeys: number, issues: Issues): Record<string, unknown> | undefined {
  if (!isPlainObject(value)) {
    add(issues, field, expected("record", value));
    return undefined;
  }
  let aborted = false;
  let keys = 0;
  let proto = false;
  for (const key in value) {
    if (key === "__proto__") {
      proto = true;
      continue;
    }
    keys += 1;
    if (key.length === 0 || exceeds(key, LIMITS.propertyKeyLength)) {
      add(issues, join(field, key), "Invalid key in record");
      aborted = true;
      continue;
    }
    const item = value[key];
    if (typeof item === "string") {
      if (exceeds(item, LIMITS.propertyStringLength)) {
        add(issues, join(field, key), `Too big: expected string to have <=${LIMITS.propertyStringLength} characters`);
      }
    } else if (!(typeof item === "boolean" || (typeof item === "number" && Number.isFinite(item)))) {
      add(issues, join(field, key), "Invalid input");
      aborted = true;
    }
  }
  if (!aborted && keys > maxKeys) add(issues, field, `at most ${maxKeys} keys`);
  if (!proto) return value;
  const copy: Record<string, unknown> = {};
  for (const key in value) if (key !== "__proto__") copy[key] = value[key];
  return copy;
}

/**
 * The output object with zod's key order: the leading keys always (their values are set later), then
 * each field the input has, holding the input's value until a check replaces it.
 */
function canonical(
  input: Record<string, unknown>,
  leading: readonly string[],
  fields: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of leading) out[key] = input[key];
  for (const key of fields) if (key in input) out[key] = input[key];
  return out;
}

/**
 * zod outputs a strict object as a fresh object of its known keys. For JSON objects (whose keys were all
 * checked) that equals the input; an object of another prototype (a Date, say) is copied the same way.
 */
function asOutput(value: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  if (Object.getPrototypeOf(value) === Object.prototype) return value;
  const copy: Record<string, unknown> = {};
  for (const key of keys) if (value[key] !== undefined) copy[key] = value[key];
  return copy;
}

/** A strict object of optional bounded strings (device, app); returns zod's output for it. */
function checkStringObject(
  value: unknown,
  field: string,
  keys: readonly string[],
  keySet: ReadonlySet<string>,
  max: number,
  issues: Issues,
): unknown {
  if (!isObject(value)) {
    add(issues, field, expected("object", value));
    return value;
  }
  for (const key of keys) {
    const item = value[key];
    if (item !== undefined) checkString(item, max, 0, issues, `${field}.${key}`);
  }
  for (const key in value) if (!keySet.has(key)) addUnknown(issues, field, key);
  return asOutput(value, keys);
}

/** The items array; returns zod's output for it (the input unless an item had to be copied). */
function checkItems(value: unknown, issues: Issues): unknown {
  if (!Array.isArray(value)) {
    add(issues, "items", expected("array", value));
    checkLengthAfterMismatch(value, undefined, LIMITS.items, issues, "items");
    return value;
  }
  if (value.length > LIMITS.items) {
    add(issues, "items", `Too big: expected array to have <=${LIMITS.items} items`);
    return value;
  }
  let output = value;
  for (let i = 0; i < value.length; i += 1) {
    const item: unknown = value[i];
    const base = `items.${i}`;
    if (!isObject(item)) {
      add(issues, base, expected("object", item));
      continue;
    }
    for (const key of ITEM_STRING_KEYS) {
      const field = item[key];
      if (field !== undefined) checkString(field, LIMITS.itemFieldLength, 0, issues, `${base}.${key}`);
    }
    const price = item.price;
    if (price !== undefined && (typeof price !== "number" || !Number.isFinite(price))) {
      add(issues, `${base}.price`, expected("number", price));
    }
    if (item.quantity !== undefined) checkBoundedInt(item.quantity, 0, LIMITS.itemQuantity, issues, `${base}.quantity`);
    for (const key in item) if (!ITEM_KEY_SET.has(key)) addUnknown(issues, base, key);
    const copy = asOutput(item, ITEM_KEYS);
    if (copy !== item) {
      if (output === value) output = [...value];
      output[i] = copy;
    }
  }
  return output;
}

/**
 * The fields the client event and the Kafka message share, in the schema's order. Writes a nested
 * value into `out` only where zod's output differs from the input's (see asOutput, checkProperties).
 */
function checkEventFields(event: Record<string, unknown>, out: Record<string, unknown>, issues: Issues): void {
  checkString(event.event_name, LIMITS.eventName, 1, issues, "event_name");
  checkString(event.user_id, LIMITS.userId, 1, issues, "user_id");
  const channel = event.channel;
  if (channel !== undefined && !CHANNEL_SET.has(channel)) add(issues, "channel", CHANNEL_MESSAGE);
  checkOptionalString(event, "campaign_id", LIMITS.campaignId, 1, issues);
  checkOptionalString(event, "session_id", LIMITS.sessionId, 1, issues);
  checkOptionalString(event, "anonymous_id", LIMITS.anonymousId, 1, issues);
  if (event.tags !== undefined) checkTags(event.tags, issues);
  if (event.metadata !== undefined) {
    const metadata = checkProperties(event.metadata, "metadata", LIMITS.metadataKeys, issues);
    if (metadata !== event.metadata) out.metadata = metadata;
  }
  if (event.user_properties !== undefined) {
    const properties = checkProperties(event.user_properties, "user_properties", LIMITS.userPropertiesKeys, issues);
    if (properties !== event.user_properties) out.user_properties = properties;
  }
  if (event.device !== undefined) {
    const device = checkStringObject(event.device, "device", DEVICE_FIELDS, DEVICE_KEY_SET, LIMITS.deviceFieldLength, issues);
    if (device !== event.device) out.device = device;
  }
  if (event.app !== undefined) {
    const app = checkStringObject(event.app, "app", APP_FIELDS, APP_KEY_SET, LIMITS.appFieldLength, issues);
    if (app !== event.app) out.app = app;
  }
  if (event.items !== undefined) {
    const items = checkItems(event.items, issues);
    if (items !== event.items) out.items = items;
  }
}

/**
 * Builds the hot-path validator of client events: the same verdict, normalised event (timestamp in
 * epoch ms, event_id lower-cased or a fresh UUIDv7) and issues as `createEventInputSchema(options)`.
 * The input is never modified; the output shares its nested values.
 */
export function createEventValidator(options: EventSchemaOptions): (input: unknown) => Validation<ValidatedEvent> {
  const now = options.now ?? Date.now;
  const futureMessage = `must not be more than ${options.maxFutureSkewMs} ms in the future`;

  /** The timestamp union and its transform: epoch ms, or undefined after adding the issue. */
  function checkTimestamp(value: unknown, issues: Issues): number | undefined {
    let ms: number | undefined;
    if (typeof value === "string") {
      ms = parseIsoTimestamp(value);
      if (ms === undefined) {
        add(issues, "timestamp", TIMESTAMP_MESSAGE);
        return undefined;
      }
    } else if (typeof value === "number" && Number.isInteger(value)) {
      // Integers outside the safe range fail only int's range check, which zod's union then reports.
      if (checkInt(value, issues, "timestamp") !== "ok") return undefined;
      ms = value;
    } else {
      add(issues, "timestamp", TIMESTAMP_MESSAGE);
      return undefined;
    }
    if (ms < LIMITS.minTimestampMs) {
      add(issues, "timestamp", "must not be before 2000-01-01T00:00:00Z");
      return undefined;
    }
    if (ms > now() + options.maxFutureSkewMs) {
      add(issues, "timestamp", futureMessage);
      return undefined;
    }
    return ms;
  }

  return (input) => {
    const issues: Issues = { list: undefined };
    if (!isObject(input)) {
      add(issues, "", expected("object", input));
      return { success: false, issues: issues.list as FieldIssue[] };
    }
    // zod's key order: event_id (first when the key was given, else appended by the transform), timestamp, the rest.
    const hasId = "event_id" in input;
    const out = canonical(input, hasId ? ["event_id", "timestamp"] : ["timestamp"], EVENT_FIELDS);
    const id = input.event_id;
    if (id !== undefined) {
      if (typeof id === "string" && UUID.test(id)) out.event_id = id.toLowerCase();
      else add(issues, "event_id", UUID_MESSAGE);
    }
    const timestamp = checkTimestamp(input.timestamp, issues);
    checkEventFields(input, out, issues);
    for (const key in input) if (!INPUT_KEY_SET.has(key)) addUnknown(issues, "", key);
    if (issues.list !== undefined) return { success: false, issues: issues.list };
    out.timestamp = timestamp;
    out.event_id ??= uuidv7();
    return { success: true, data: out as ValidatedEvent };
  };
}

/** The hot-path twin of `eventMessageSchema` (what the worker reads from Kafka): same verdict and issues. */
export function validateEventMessage(input: unknown): Validation<EventMessage> {
  const issues: Issues = { list: undefined };
  if (!isObject(input)) {
    add(issues, "", expected("object", input));
    return { success: false, issues: issues.list as FieldIssue[] };
  }
  const out = canonical(input, ["event_id", "timestamp"], MESSAGE_FIELDS);
  const id = input.event_id;
  if (typeof id !== "string") add(issues, "event_id", expected("string", id));
  else if (!UUID.test(id)) add(issues, "event_id", "Invalid UUID");
  checkBoundedInt(input.timestamp, LIMITS.minTimestampMs, undefined, issues, "timestamp");
  checkEventFields(input, out, issues);
  checkBoundedInt(input.received_at, 0, undefined, issues, "received_at");
  if (input.sent_at !== undefined) checkBoundedInt(input.sent_at, 0, undefined, issues, "sent_at");
  for (const key in input) if (!MESSAGE_KEY_SET.has(key)) addUnknown(issues, "", key);
  if (issues.list !== undefined) return { success: false, issues: issues.list };
  return { success: true, data: out as EventMessage };
}
