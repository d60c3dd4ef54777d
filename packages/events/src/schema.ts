import { z } from "zod";
import { uuidv7 } from "./uuid";

/** Channels an event may name; anything else is a validation error. */
export const CHANNELS = ["web", "mobile", "api", "email", "push", "desktop", "tv", "console", "other"] as const;
export type Channel = (typeof CHANNELS)[number];

/** Every bound the event contract enforces, in one place so docs, tests and code agree. */
export const LIMITS = {
  eventName: 128,
  userId: 256,
  campaignId: 128,
  sessionId: 256,
  anonymousId: 256,
  tags: 32,
  tagLength: 128,
  metadataKeys: 64,
  userPropertiesKeys: 64,
  propertyKeyLength: 128,
  propertyStringLength: 8192,
  deviceFieldLength: 256,
  appFieldLength: 128,
  items: 100,
  itemFieldLength: 256,
  itemQuantity: 1_000_000,
  batchEvents: 1000,
  /** Earliest accepted timestamp: 2000-01-01T00:00:00Z (ClickHouse DateTime starts in 1970; older dates are SDK bugs). */
  minTimestampMs: 946_684_800_000,
} as const;

const boundedString = (max: number, min = 0) => z.string().min(min).max(max);

const propertyValue = z.union([z.string().max(LIMITS.propertyStringLength), z.number().finite(), z.boolean()]);

const properties = (maxKeys: number) =>
  z
    .record(z.string().min(1).max(LIMITS.propertyKeyLength), propertyValue)
    .refine((value) => Object.keys(value).length <= maxKeys, { message: `at most ${maxKeys} keys` });

/** Optional device context, as SDKs send it. */
export const deviceSchema = z
  .object({
    category: boundedString(LIMITS.deviceFieldLength),
    brand: boundedString(LIMITS.deviceFieldLength),
    model: boundedString(LIMITS.deviceFieldLength),
    os: boundedString(LIMITS.deviceFieldLength),
    os_version: boundedString(LIMITS.deviceFieldLength),
    browser: boundedString(LIMITS.deviceFieldLength),
    browser_version: boundedString(LIMITS.deviceFieldLength),
    language: boundedString(LIMITS.deviceFieldLength),
    hostname: boundedString(LIMITS.deviceFieldLength),
  })
  .partial()
  .strict();

/** The device fields, in schema order (which is also the order of the `device_*` columns). */
export const DEVICE_FIELDS = Object.keys(deviceSchema.shape) as readonly (keyof z.infer<typeof deviceSchema>)[];

/** Optional application context. */
export const appSchema = z
  .object({ id: boundedString(LIMITS.appFieldLength), version: boundedString(LIMITS.appFieldLength) })
  .partial()
  .strict();

/** The app fields, in schema order (and `app_*` column order). */
export const APP_FIELDS = Object.keys(appSchema.shape) as readonly (keyof z.infer<typeof appSchema>)[];

/** One line item of a commerce event. */
export const itemSchema = z
  .object({
    id: boundedString(LIMITS.itemFieldLength),
    name: boundedString(LIMITS.itemFieldLength),
    brand: boundedString(LIMITS.itemFieldLength),
    variant: boundedString(LIMITS.itemFieldLength),
    price: z.number().finite(),
    quantity: z.number().int().min(0).max(LIMITS.itemQuantity),
  })
  .partial()
  .strict();

export type Device = z.infer<typeof deviceSchema>;
export type App = z.infer<typeof appSchema>;
export type Item = z.infer<typeof itemSchema>;
export type Properties = Record<string, string | number | boolean>;

/** Fields shared by the client input and the stored message; timestamp and event_id differ. */
const eventFields = {
  event_name: boundedString(LIMITS.eventName, 1),
  user_id: boundedString(LIMITS.userId, 1),
  channel: z.enum(CHANNELS).optional(),
  campaign_id: boundedString(LIMITS.campaignId, 1).optional(),
  session_id: boundedString(LIMITS.sessionId, 1).optional(),
  anonymous_id: boundedString(LIMITS.anonymousId, 1).optional(),
  tags: z.array(boundedString(LIMITS.tagLength)).max(LIMITS.tags).optional(),
  metadata: properties(LIMITS.metadataKeys).optional(),
  user_properties: properties(LIMITS.userPropertiesKeys).optional(),
  device: deviceSchema.optional(),
  app: appSchema.optional(),
  items: z.array(itemSchema).max(LIMITS.items).optional(),
};

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Parses an ISO-8601 date-time string to epoch ms, or undefined when it is not ISO-8601. */
export function parseIsoTimestamp(value: string): number | undefined {
  if (!ISO_8601.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

export interface EventSchemaOptions {
  /** How far in the future a timestamp may be, to absorb client clock skew. */
  maxFutureSkewMs: number;
  /** Clock used for the future-skew rule; injectable for tests. */
  now?: () => number;
}

/**
 * The client-facing event schema: strict (unknown fields are errors), timestamp as epoch ms or
 * ISO-8601 normalised to ms, event_id defaulted to a UUIDv7.
 */
export function createEventInputSchema(options: EventSchemaOptions) {
  const now = options.now ?? Date.now;
  const timestamp = z
    .union([z.number().int(), z.string()], { error: "must be epoch milliseconds or an ISO-8601 string" })
    .transform((value, ctx) => {
      const ms = typeof value === "number" ? value : parseIsoTimestamp(value);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: "must be epoch milliseconds or an ISO-8601 string" });
        return z.NEVER;
      }
      if (ms < LIMITS.minTimestampMs) {
        ctx.addIssue({ code: "custom", message: "must not be before 2000-01-01T00:00:00Z" });
        return z.NEVER;
      }
      if (ms > now() + options.maxFutureSkewMs) {
        ctx.addIssue({ code: "custom", message: `must not be more than ${options.maxFutureSkewMs} ms in the future` });
        return z.NEVER;
      }
      return ms;
    });
  return z
    .object({
      event_id: z
        .uuid({ error: "must be a UUID" })
        .transform((id) => id.toLowerCase())
        .optional(),
      timestamp,
      ...eventFields,
    })
    .strict()
    .transform((event) => ({ ...event, event_id: event.event_id ?? uuidv7() }));
}

export type EventInputSchema = ReturnType<typeof createEventInputSchema>;
/** An event after validation and normalisation: event_id set, timestamp in epoch ms. */
export type ValidatedEvent = z.output<EventInputSchema>;

/**
 * What the ingest app produces to Kafka and the worker consumes: the validated event plus the
 * server's `received_at` and the batch's optional `sent_at`, both epoch ms. Version 1.
 */
export const eventMessageSchema = z
  .object({
    event_id: z.uuid(),
    timestamp: z.number().int().min(LIMITS.minTimestampMs),
    ...eventFields,
    received_at: z.number().int().nonnegative(),
    sent_at: z.number().int().nonnegative().optional(),
  })
  .strict();

export type EventMessage = z.infer<typeof eventMessageSchema>;

/** The batch envelope; each event is validated on its own so one bad event does not sink the rest. */
export const batchEnvelopeSchema = z
  .object({
    events: z.array(z.unknown()).min(1).max(LIMITS.batchEvents),
    sent_at: z.number().int().nonnegative().optional(),
  })
  .strict();

/** A validation problem at one path, as reported in the error envelope's details. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Flattens zod issues into `{path, message}` details; unknown keys become one issue per field. */
export function toFieldIssues(error: z.ZodError, prefix = ""): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const issue of error.issues) {
    const base = [prefix, ...issue.path.map(String)].filter((part) => part !== "").join(".");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) issues.push({ path: base ? `${base}.${key}` : key, message: "unknown field" });
    } else {
      issues.push({ path: base || "(body)", message: issue.message });
    }
  }
  return issues;
}

/**
 * The Kafka message value of a validated event: exactly `JSON.stringify(toEventMessage(...))`, built by
 * appending the server's fields to the event's JSON instead of copying the event into a new object.
 */
export function serializeEventMessage(event: ValidatedEvent, receivedAt: number, sentAt?: number): string {
  return JSON.stringify(event).slice(0, -1) + messageTail(receivedAt, sentAt);
}

/** What closes an event message after the event's own fields: the server's times and the brace. */
export function messageTail(receivedAt: number, sentAt?: number): string {
  return sentAt === undefined ? `,"received_at":${receivedAt}}` : `,"received_at":${receivedAt},"sent_at":${sentAt}}`;
}

/** Builds the Kafka message for a validated event. */
export function toEventMessage(event: ValidatedEvent, receivedAt: number, sentAt?: number): EventMessage {
  return sentAt === undefined ? { ...event, received_at: receivedAt } : { ...event, received_at: receivedAt, sent_at: sentAt };
}
