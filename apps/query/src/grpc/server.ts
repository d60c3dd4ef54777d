import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { ClickHouse } from "@sluice/clickhouse";
import { apiKeyInterceptor, errorInterceptor, observeInterceptor, registerStandardServices } from "@sluice/grpc";
import { AppError, type CommonDeps } from "@sluice/http";
import { QueryService } from "@sluice/proto";
import { eventLookupParamsSchema, lookupEvent } from "../services/event";
import { getMetrics, metricsParamsSchema } from "../services/metrics";
import type { MetricsCache } from "../services/metrics-cache";
import { runSearch, searchParamsSchema } from "../services/search";
import { parseParams } from "../services/validate";
import { groupByEnum, groupByName, toFailedEventMessage, toStoredEventMessage } from "./convert";

export interface QueryGrpcDeps extends CommonDeps {
  db: ClickHouse;
  /** Keys that may call QueryService; empty means open, as for the HTTP API. */
  apiKeys: readonly string[];
  accessLogSampleRate?: number;
  now?: () => number;
  metricsCache?: MetricsCache;
}

/** HTTP parameter names and the request fields of ListEvents that carry them, for error details. */
const LIST_FIELDS: Record<string, string> = { limit: "page_size", cursor: "page_token" };

/** Names a parameter in error details by its gRPC field where the two differ. */
async function namingFields<T>(fields: Record<string, string>, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    const details = error.details.map((d) => ({ ...d, path: fields[d.path] ?? d.path }));
    throw new AppError(error.code, error.message, details, error.retryAfterSeconds);
  }
}

/** Empty proto3 strings mean "not given", as an absent query parameter does. */
const given = (value: string) => (value === "" ? undefined : value);

/**
 * The query app's gRPC face: sluice.v1.QueryService over the same parameter schemas and query
 * functions as the HTTP routes (GET /events/{id}, GET /events, GET /metrics), plus health and reflection.
 */
export function createQueryGrpc(deps: QueryGrpcDeps): { routes: (router: ConnectRouter) => void; interceptors: Interceptor[] } {
  const now = deps.now ?? Date.now;
  const interceptors: Interceptor[] = [
    observeInterceptor({ registry: deps.registry, logger: deps.logger, accessLogSampleRate: deps.accessLogSampleRate ?? 0.01 }),
    errorInterceptor(deps.logger),
    apiKeyInterceptor(deps.apiKeys, new Set([QueryService.typeName])),
  ];
  const routes = (router: ConnectRouter) => {
    router.service(QueryService, {
      async getEvent(request) {
        const params = parseParams(eventLookupParamsSchema, { event_id: request.eventId });
        const found = await lookupEvent(deps.db, params.event_id);
        return found.status === "stored"
          ? { result: { case: "event", value: toStoredEventMessage(found) } }
          : { result: { case: "failed", value: toFailedEventMessage(found) } };
      },
      async listEvents(request) {
        return await namingFields(LIST_FIELDS, async () => {
          const params = parseParams(searchParamsSchema, {
            event_name: given(request.eventName),
            user_id: given(request.userId),
            campaign_id: given(request.campaignId),
            from: given(request.from),
            to: given(request.to),
            where: request.where.length === 0 ? undefined : request.where,
            match: given(request.match),
            limit: request.pageSize === 0 ? undefined : request.pageSize,
            cursor: given(request.pageToken),
          });
          const page = await runSearch(deps.db, params, now());
          return { events: page.data.map(toStoredEventMessage), nextPageToken: page.next_cursor ?? "" };
        });
      },
      async getMetrics(request) {
        const params = parseParams(metricsParamsSchema, {
          event_name: given(request.eventName),
          from: given(request.from),
          to: given(request.to),
          group_by: groupByName(request.groupBy),
        });
        const metrics = await getMetrics({ db: deps.db, cache: deps.metricsCache }, params, now());
        return {
          eventName: metrics.event_name ?? undefined,
          from: metrics.from,
          to: metrics.to,
          groupedBy: groupByEnum(metrics.grouped_by),
          totalEvents: BigInt(metrics.total_events),
          uniqueUsers: BigInt(metrics.unique_users),
          data: metrics.data.map((group) => ({
            group: group.group ?? undefined,
            totalEvents: BigInt(group.total_events),
            uniqueUsers: BigInt(group.unique_users),
          })),
        };
      },
    });
    registerStandardServices(router, { readiness: deps.readiness, services: [QueryService] });
  };
  return { routes, interceptors };
}
