import type { OpenAPIHono } from "@hono/zod-openapi";
import { readJsonBody } from "../body";
import type { IngestService } from "../ingest-service";
import { batchAcceptedSchema, batchPartialSchema, errorResponses, jsonContent, requestSchemas } from "../openapi";
import type { IngestEnv } from "../types";

export interface BatchRouteDeps {
  service: IngestService;
  maxBatchBodyBytes: number;
  maxFutureSkewMs: number;
}

const PATHS = ["/events/batch", "/events/bulk"] as const;

/** `POST /events/batch` (alias `/events/bulk`): up to 1000 events; 202 all accepted, 207 some rejected. */
export function registerBatch(app: OpenAPIHono<IngestEnv>, deps: BatchRouteDeps): void {
  const { batch } = requestSchemas(deps.maxFutureSkewMs);
  for (const path of PATHS) {
    app.openAPIRegistry.registerPath({
      method: "post",
      path,
      summary: path === PATHS[0] ? "Ingest a batch of events" : "Alias of /events/batch",
      security: [{ bearer: [] }, { apiKey: [] }],
      request: { body: { required: true, ...jsonContent(batch, "up to 1000 events, validated one by one") } },
      responses: {
        202: jsonContent(batchAcceptedSchema, "every event acknowledged by the broker"),
        207: jsonContent(batchPartialSchema, "the valid events were acknowledged; the others are listed by index"),
        ...errorResponses(),
      },
    });
    app.post(path, async (c) => {
      const body = await readJsonBody(c, deps.maxBatchBodyBytes);
      c.set("counted", true);
      const result = await deps.service.ingestBatch(body);
      if (result.rejected.length === 0) {
        return c.json({ status: "accepted" as const, accepted: result.accepted, event_ids: result.eventIds }, 202);
      }
      return c.json(
        { status: "partial" as const, accepted: result.accepted, event_ids: result.eventIds, rejected: result.rejected },
        207,
      );
    });
  }
}
