import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ClickHouse } from "@sluice/clickhouse";
import { LIMITS } from "@sluice/events";
import { AppError } from "@sluice/http";
import { decodeCursor, encodeCursor } from "../params/cursor";
import { searchRange } from "../params/time";
import { parseWhere, WHERE_LIMITS } from "../params/where";
import { searchEvents } from "../queries/events";
import { readFromClickHouse } from "../queries/guard";
import { EventSchema, errorResponses, instantParam } from "./schemas";

/** The largest page a search returns. */
export const MAX_LIMIT = 1000;

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
  request: {
    query: z.object({
      event_name: z.string().min(1).max(LIMITS.eventName).optional(),
      user_id: z.string().min(1).max(LIMITS.userId).optional(),
      campaign_id: z.string().min(1).max(LIMITS.campaignId).optional(),
      from: instantParam("from", "unix seconds or ISO-8601 (inclusive)"),
      to: instantParam("to", "unix seconds or ISO-8601 (exclusive)"),
      where: z
        .union([z.string(), z.array(z.string())])
        .optional()
        .openapi({ param: { name: "where", in: "query", style: "form", explode: true }, example: "plan:eq:pro" }),
      match: z.enum(["all", "any"]).default("all"),
      limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(100),
      cursor: z.string().max(256).optional(),
    }),
  },
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
  app.openapi(route, async (c) => {
    const query = c.req.valid("query");
    const rawWhere = query.where === undefined ? [] : Array.isArray(query.where) ? query.where : [query.where];
    if (rawWhere.length > WHERE_LIMITS.clauses) {
      throw new AppError("VALIDATION_FAILED", `at most ${WHERE_LIMITS.clauses} where filters`, [
        { path: "where", message: `at most ${WHERE_LIMITS.clauses}` },
      ]);
    }
    const where = rawWhere.map((text, i) => parseWhere(text, `where[${i}]`));
    const page = await readFromClickHouse(() =>
      searchEvents(
        deps.db,
        {
          eventName: query.event_name,
          userId: query.user_id,
          campaignId: query.campaign_id,
          ...searchRange(query),
          where,
          match: query.match,
          limit: query.limit,
          cursor: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
        },
        deps.now(),
      ),
    );
    return c.json({ data: page.data, next_cursor: page.next_cursor ? encodeCursor(page.next_cursor) : null }, 200);
  });
}
