import { z } from "@hono/zod-openapi";
import { batchEnvelopeSchema, createEventInputSchema, LIMITS } from "@sluice/events";

/** The error envelope every non-2xx answer uses. */
export const errorEnvelopeSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })),
    request_id: z.string(),
  }),
});

export const acceptedSchema = z.object({ status: z.literal("accepted"), event_id: z.string() });

export const batchAcceptedSchema = z.object({
  status: z.literal("accepted"),
  accepted: z.number().int(),
  event_ids: z.array(z.string()),
});

export const batchPartialSchema = z.object({
  status: z.literal("partial"),
  accepted: z.number().int(),
  event_ids: z.array(z.string().nullable()).describe("one entry per submitted event; null where it was rejected"),
  rejected: z.array(
    z.object({
      index: z.number().int(),
      error: z.object({
        code: z.string(),
        message: z.string(),
        details: z.array(z.object({ path: z.string(), message: z.string() })),
      }),
    }),
  ),
});

/** The request bodies, built from the same schemas that validate them. */
export function requestSchemas(maxFutureSkewMs: number) {
  const event = createEventInputSchema({ maxFutureSkewMs });
  const batch = batchEnvelopeSchema.extend({ events: z.array(event).min(1).max(LIMITS.batchEvents) });
  return { event, batch };
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** Error answers shared by both ingest routes. */
export function errorResponses() {
  return {
    400: json(errorEnvelopeSchema, "malformed JSON (INVALID_JSON) or a schema violation (VALIDATION_FAILED), fields named"),
    401: json(errorEnvelopeSchema, "missing or unknown API key"),
    413: json(errorEnvelopeSchema, "body (or its decompressed form, or one serialized event) too large"),
    415: json(errorEnvelopeSchema, "content-type is not JSON or content-encoding is not gzip"),
    422: json(errorEnvelopeSchema, "the event names a campaign whose required metadata keys are missing"),
    429: json(errorEnvelopeSchema, "rate limited; see Retry-After"),
    503: json(errorEnvelopeSchema, "the broker did not acknowledge in time or the app is overloaded; see Retry-After"),
  };
}

export { json as jsonContent };
