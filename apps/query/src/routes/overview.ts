import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ClickHouse } from "@sluice/clickhouse";
import { metricsRange } from "../params/time";
import { readFromClickHouse } from "../queries/guard";
import { queryOverview } from "../queries/overview";
import { errorResponses, instantParam } from "./schemas";

const OverviewSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    total_events: z.number(),
    unique_users: z.number(),
    hours: z.array(z.string()).openapi({ description: "start of each hourly bucket (UTC)" }),
    channels: z.array(
      z.object({
        channel: z.string().nullable(),
        total_events: z.number(),
        hourly: z.array(z.number()).openapi({ description: "events per hour, aligned with `hours`" }),
      }),
    ),
    top_events: z.array(z.object({ event_name: z.string(), total_events: z.number(), unique_users: z.number() })),
    ingest: z.object({ window_seconds: z.number(), events: z.number(), per_second: z.number() }),
  })
  .openapi("Overview");

const route = createRoute({
  method: "get",
  path: "/overview",
  summary: "What the dashboard shows: events per hour by channel, top events, unique users, live ingest rate",
  description:
    "Same range rules as /metrics (default: the last 24 hours). The ingest rate counts events received in the last minute " +
    "whose own timestamp lies within the last hour.",
  request: {
    query: z.object({
      from: instantParam("from", "unix seconds or ISO-8601"),
      to: instantParam("to", "unix seconds or ISO-8601"),
    }),
  },
  responses: {
    200: { description: "dashboard data", content: { "application/json": { schema: OverviewSchema } } },
    ...errorResponses(400, 401, 503),
  },
});

/** Registers `GET /overview`, the dashboard's one data call. */
export function registerOverview(app: OpenAPIHono, deps: { db: ClickHouse; now: () => number }): void {
  app.openapi(route, async (c) => {
    const now = deps.now();
    const range = metricsRange(c.req.valid("query"), now);
    return c.json(await readFromClickHouse(() => queryOverview(deps.db, range, now)), 200);
  });
}
