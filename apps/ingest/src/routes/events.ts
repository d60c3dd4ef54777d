import type { OpenAPIHono } from "@hono/zod-openapi";
import { readJsonBody } from "../body";
import type { IngestService } from "../ingest-service";
import { acceptedSchema, errorResponses, jsonContent, requestSchemas } from "../openapi";
import type { IngestEnv } from "../types";

export interface EventsRouteDeps {
  service: IngestService;
  maxBodyBytes: number;
  maxFutureSkewMs: number;
}

/** `POST /events`: one event, answered 202 once the broker acknowledged it. */
export function registerEvents(app: OpenAPIHono<IngestEnv>, deps: EventsRouteDeps): void {
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/events",
    summary: "Ingest one event",
    security: [{ bearer: [] }, { apiKey: [] }],
    request: { body: { required: true, ...jsonContent(requestSchemas(deps.maxFutureSkewMs).event, "one event") } },
    responses: { 202: jsonContent(acceptedSchema, "acknowledged by the broker"), ...errorResponses() },
  });
  app.post("/events", async (c) => {
    const body = await readJsonBody(c, deps.maxBodyBytes);
    c.set("counted", true);
    const eventId = await deps.service.ingestOne(body);
    return c.json({ status: "accepted" as const, event_id: eventId }, 202);
  });
}
