import { z } from "@hono/zod-openapi";
import type { ClickHouse } from "@sluice/clickhouse";
import { LIMITS } from "@sluice/events";
import { metricsRange } from "../params/time";
import { readFromClickHouse } from "../queries/guard";
import { GROUP_BY, type Metrics, queryMetrics } from "../queries/metrics";
import { instantParam } from "../routes/schemas";

/** The parameters of a metrics request, as GET /metrics declares them and the gRPC GetMetrics maps onto them. */
export const metricsParamsSchema = z.object({
  event_name: z.string().min(1).max(LIMITS.eventName).optional(),
  from: instantParam("from", "unix seconds or ISO-8601"),
  to: instantParam("to", "unix seconds or ISO-8601"),
  group_by: z.enum(GROUP_BY).default("hour"),
});

export type MetricsParams = z.output<typeof metricsParamsSchema>;

/** Counts and unique users over the range (widened to whole hours) from the rollups. */
export async function getMetrics(db: ClickHouse, params: MetricsParams, now: number): Promise<Metrics> {
  const range = metricsRange(params, now);
  return await readFromClickHouse(() => queryMetrics(db, { ...range, eventName: params.event_name, groupBy: params.group_by }));
}
