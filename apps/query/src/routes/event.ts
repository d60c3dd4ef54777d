import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ClickHouse } from "@sluice/clickhouse";
import { AppError } from "@sluice/http";
import { findEvent } from "../queries/events";
import { readFromClickHouse } from "../queries/guard";
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
  request: {
    params: z.object({
      event_id: z
        .string()
        .min(1)
        .max(256)
        .openapi({ param: { name: "event_id", in: "path" }, example: "0190a0b0-0000-7000-8000-000000000001" }),
    }),
  },
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
  app.openapi(route, async (c) => {
    const { event_id } = c.req.valid("param");
    const found = await readFromClickHouse(() => findEvent(deps.db, event_id));
    if (found === undefined) throw new AppError("NOT_FOUND", "no stored or failed event with this id");
    return c.json(found, 200);
  });
}
