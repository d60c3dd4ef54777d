import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ClickHouse } from "@sluice/clickhouse";
import { eventLookupParamsSchema, lookupEvent } from "../services/event";
import { EventSchema, errorResponses } from "./schemas";

const FailedSchema = z
  .object({
    status: z.literal("failed"),
    event_id: z.string(),
    reason: z.string(),
    details: z.string(),
    payload: z.string(),
    failed_at: z.string(),
    dead_letter_status: z.string(),
    kafka: z.object({ topic: z.string(), partition: z.number(), offset: z.string() }),
  })
  .openapi("FailedEvent");

const route = createRoute({
  method: "get",
  path: "/events/{event_id}",
  summary: "One event by id: the stored event, or its dead-letter record",
  request: { params: eventLookupParamsSchema },
  responses: {
    200: {
      description: 'the stored event (`"status":"stored"`) or the reason it failed (`"status":"failed"`)',
      content: { "application/json": { schema: z.union([EventSchema.extend({ status: z.literal("stored") }), FailedSchema]) } },
    },
    ...errorResponses(400, 401, 404, 503),
  },
});

/** Registers `GET /events/{event_id}`. */
export function registerEventLookup(app: OpenAPIHono, deps: { db: ClickHouse }): void {
  app.openapi(route, async (c) => c.json(await lookupEvent(deps.db, c.req.valid("param").event_id), 200));
}
