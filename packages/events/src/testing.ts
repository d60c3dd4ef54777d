import fc from "fast-check";
import { CHANNELS, LIMITS } from "./schema";

// fast-check generators for the tests that hold a byte-level fast path (fast-event, the worker's
// fast-line) against the parsed path: values that mostly stay on the fast path, with the characters,
// lengths and numbers that must send them to the parsed one.

const char = fc.oneof(
  { weight: 400, arbitrary: fc.constantFrom("a", "Z", "0", "9", "-", "_", ".", "/", " ", "?", "=", "~") },
  { weight: 1, arbitrary: fc.constantFrom("'", "\\", "\t", "\n", '"', "é", "\u{1F600}", "\ud800", "\u0000", "\u007f") },
);

/** Text of `minLength` to `maxLength` characters, now and then one the fast path must not take. */
export const text = (minLength: number, maxLength: number) =>
  fc.array(char, { minLength, maxLength }).map((chars) => chars.join(""));

/** `valid` forty times out of forty-one, else `odd`. */
export const mostly = <T>(valid: fc.Arbitrary<T>, odd: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 40, arbitrary: valid }, { weight: 1, arbitrary: odd });

const near = (max: number) => fc.integer({ min: max - 1, max: max + 1 }).map((n) => "x".repeat(n));

/** A string for a field bounded to [min, max] characters, now and then at or just past a bound. */
export const bounded = (min: number, max: number) => mostly(text(min, Math.min(max, 12)), fc.oneof(near(max), fc.constant("")));

const number = fc.oneof(
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.integer({ min: -1e6, max: 1e6 }).map((n) => n / 100),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-0, 0.1, 1e21, 1e-7, 0.000001, 123456789012345.6, 2 ** 53 + 2, 1.5e300),
);
const propertyKey = mostly(text(1, 8), fc.constantFrom("", "0", "12", "1a", "-1", "__proto__", "constructor", "x".repeat(129)));

/** A metadata or user_properties map. */
export const properties = fc.dictionary(propertyKey, fc.oneof(text(0, 10), number, fc.boolean()), { maxKeys: 6 });

/** An event_id: a UUID in either case, now and then not one. */
export const eventId = mostly(
  fc.oneof(
    fc.uuid(),
    fc.uuid().map((u) => u.toUpperCase()),
  ),
  fc.constantFrom("not-a-uuid", "00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"),
);

/** The optional fields an event and its message share. */
export const optionalFields = {
  channel: mostly(fc.constantFrom(...CHANNELS), fc.constantFrom("Web", "fax", "")),
  campaign_id: bounded(0, LIMITS.campaignId),
  session_id: bounded(0, LIMITS.sessionId),
  anonymous_id: bounded(0, LIMITS.anonymousId),
  tags: fc.array(bounded(0, LIMITS.tagLength), { maxLength: 4 }),
  metadata: properties,
  user_properties: properties,
  device: fc.record(
    {
      category: bounded(0, LIMITS.deviceFieldLength),
      os: bounded(0, LIMITS.deviceFieldLength),
      hostname: bounded(0, LIMITS.deviceFieldLength),
    },
    { requiredKeys: [] },
  ),
  app: fc.record({ id: bounded(0, LIMITS.appFieldLength), version: text(0, 6) }, { requiredKeys: [] }),
};

/**
 * Objects of the given parts with some keys left out (`droppable`, now and then one) and keys in a
 * shuffled order, as clients may send them.
 */
export function shuffledObject(
  parts: fc.Arbitrary<Record<string, unknown>>[],
  droppable: readonly string[],
): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(fc.tuple(...parts), mostly(fc.constant<string[]>([]), fc.subarray([...droppable], { maxLength: 1 })), fc.nat())
    .map(([values, drop, seed]) => {
      const entries = Object.entries(Object.assign({}, ...values) as Record<string, unknown>).filter(
        ([key]) => !drop.includes(key),
      );
      const shift = entries.length > 0 ? seed % entries.length : 0;
      return Object.fromEntries([...entries.slice(shift), ...entries.slice(0, shift)]);
    });
}
