import { z } from "@hono/zod-openapi";
import type { ClickHouse, StoredEvent } from "@sluice/clickhouse";
import { LIMITS } from "@sluice/events";
import { AppError } from "@sluice/http";
import { decodeCursor, encodeCursor } from "../params/cursor";
import { searchRange } from "../params/time";
import { parseWhere, WHERE_LIMITS } from "../params/where";
import { searchEvents } from "../queries/events";
import { readFromClickHouse } from "../queries/guard";
import { instantParam } from "../routes/schemas";

/** The largest page a search returns. */
export const MAX_LIMIT = 1000;

/** The parameters of a search, as GET /events declares them and the gRPC ListEvents maps onto them. */
export const searchParamsSchema = z.object({
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
});

export type SearchParams = z.output<typeof searchParamsSchema>;

/** One page of a search and the opaque cursor of the next (null on the last page). */
export interface SearchResult {
  data: StoredEvent[];
  next_cursor: string | null;
}

/**
 * Runs a search: checks and parses the `where` filters, the range and the cursor (400 naming the
 * parameter), then reads one newest-first page (503 when ClickHouse is unreachable).
 */
export async function runSearch(db: ClickHouse, params: SearchParams, now: number): Promise<SearchResult> {
  const rawWhere = params.where === undefined ? [] : Array.isArray(params.where) ? params.where : [params.where];
  if (rawWhere.length > WHERE_LIMITS.clauses) {
    throw new AppError("VALIDATION_FAILED", `at most ${WHERE_LIMITS.clauses} where filters`, [
      { path: "where", message: `at most ${WHERE_LIMITS.clauses}` },
    ]);
  }
  const where = rawWhere.map((text, i) => parseWhere(text, `where[${i}]`));
  const page = await readFromClickHouse(() =>
    searchEvents(
      db,
      {
        eventName: params.event_name,
        userId: params.user_id,
        campaignId: params.campaign_id,
        ...searchRange(params),
        where,
        match: params.match,
        limit: params.limit,
        cursor: params.cursor === undefined ? undefined : decodeCursor(params.cursor),
      },
      now,
    ),
  );
  return { data: page.data, next_cursor: page.next_cursor ? encodeCursor(page.next_cursor) : null };
}
