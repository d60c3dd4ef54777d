import { z } from "@hono/zod-openapi";

/** The error envelope every failure answers with. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })),
      request_id: z.string(),
    }),
  })
  .openapi("Error");

/** Standard error responses for the OpenAPI document. */
export const errorResponses = (...statuses: (400 | 401 | 403 | 404 | 503)[]) =>
  Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: ERROR_DESCRIPTIONS[status], content: { "application/json": { schema: ErrorSchema } } },
    ]),
  );

const ERROR_DESCRIPTIONS = {
  400: "invalid parameter (named in details)",
  401: "missing or unknown API key",
  403: "the key may only read (QUERY_API_KEYS); writes need a key from QUERY_ADMIN_API_KEYS",
  404: "not found",
  503: "ClickHouse or Kafka unavailable",
} as const;

const propertyValue = z.union([z.string(), z.number(), z.boolean()]);

/** A stored event as the API returns it. */
export const EventSchema = z
  .object({
    event_id: z.string(),
    event_name: z.string(),
    user_id: z.string(),
    timestamp: z.number().openapi({ description: "epoch milliseconds" }),
    channel: z.string().optional(),
    campaign_id: z.string().optional(),
    session_id: z.string().optional(),
    anonymous_id: z.string().optional(),
    tags: z.array(z.string()),
    metadata: z.record(z.string(), propertyValue),
    user_properties: z.record(z.string(), propertyValue),
    device: z.record(z.string(), z.string()).optional(),
    app: z.object({ id: z.string().optional(), version: z.string().optional() }).optional(),
    items: z.array(z.record(z.string(), z.unknown())).optional(),
    received_at: z.number(),
    sent_at: z.number().optional(),
  })
  .openapi("Event");

/** `from`/`to` as the API accepts them. */
export const instantParam = (name: "from" | "to", description: string) =>
  z
    .string()
    .max(64)
    .optional()
    .openapi({ param: { name, in: "query" }, description, example: name === "from" ? "2026-01-01T00:00:00Z" : "1767225600" });
