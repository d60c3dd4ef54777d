import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ClickHouse } from "@sluice/clickhouse";
import { runSearch, searchParamsSchema } from "../services/search";
import { EventSchema, errorResponses } from "./schemas";

const route = createRoute({
  method: "get",
  path: "/events",
  summary: "Search stored events, newest first",
  description:
    "Filters combine with AND; `where` filters (repeatable, `key:op:value` over metadata) combine by `match` (all = AND, any = OR). " +
    "Ops: eq and ne (against the string, number or boolean the key holds; ne also matches events without the key), " +
    "gt gte lt lte (numeric values only), like (string values, % and _ wildcards, backslash escapes them), " +
    "between (`low,high`, inclusive, numeric), in (up to 100 values separated by `|`). Keys containing `:` cannot be searched. " +
    "from/to: unix seconds or ISO-8601, inclusive from, exclusive to. Pass `next_cursor` back as `cursor` for the next page.",
  request: { query: searchParamsSchema },
  responses: {
    200: {
      description: "one page of events and the cursor of the next (null on the last page)",
      content: {
        "application/json": { schema: z.object({ data: z.array(EventSchema), next_cursor: z.string().nullable() }) },
      },
    },
    ...errorResponses(400, 401, 503),
  },
});

/** Registers `GET /events` (search). */
export function registerSearch(app: OpenAPIHono, deps: { db: ClickHouse; now: () => number }): void {
  app.openapi(route, async (c) => c.json(await runSearch(deps.db, c.req.valid("query"), deps.now()), 200));
}
