import { z } from "@hono/zod-openapi";
import type { ClickHouse } from "@sluice/clickhouse";
import { LIMITS } from "@sluice/events";
import { metricsRange } from "../params/time";
import { readFromClickHouse } from "../queries/guard";
import {
  answerMetrics,
  answerMetricsUnversioned,
  GROUP_BY,
  type Metrics,
  queryMetrics,
  queryMetricsCounts,
} from "../queries/metrics";
import { instantParam } from "../routes/schemas";
import type { MetricsCache } from "./metrics-cache";

/** The parameters of a metrics request, as GET /metrics declares them and the gRPC GetMetrics maps onto them. */
export const metricsParamsSchema = z.object({
  event_name: z.string().min(1).max(LIMITS.eventName).optional(),
  from: instantParam("from", "unix seconds or ISO-8601"),
  to: instantParam("to", "unix seconds or ISO-8601"),
  group_by: z.enum(GROUP_BY).default("hour"),
});

export type MetricsParams = z.output<typeof metricsParamsSchema>;

/** What answering GET /metrics needs; without a cache every request merges the unique-user states. */
export interface MetricsDeps {
  db: ClickHouse;
  cache?: MetricsCache | undefined;
}

/**
 * Counts and unique users over the range (widened to whole hours) from the rollups. With a cache, an answer
 * computed earlier is reused while the range's event counts are unchanged, so it is as exact as a fresh one.
 */
export async function getMetrics(deps: MetricsDeps, params: MetricsParams, now: number): Promise<Metrics> {
  const range = metricsRange(params, now);
  const query = { ...range, eventName: params.event_name, groupBy: params.group_by };
  const { db, cache } = deps;
  return await readFromClickHouse(async () => {
    if (cache === undefined) return await answerMetricsUnversioned(db, query);
    const key = JSON.stringify([query.groupBy, query.eventName ?? null, query.fromMs, query.toMs]);
    const first = cache.firstAnswer(key, () => answerMetrics(db, query));
    if (first !== undefined) return await first;
    // Read before the answer: events landing in between make the stored version older than the answer,
    // and the next request recomputes, rather than the other way round (a stale answer served).
    const counts = await queryMetricsCounts(db, query);
    return await cache.answer(key, counts.version, () => queryMetrics(db, query, counts));
  });
}
