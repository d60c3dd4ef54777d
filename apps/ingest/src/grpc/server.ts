import { type ConnectRouter, createContextKey, type Interceptor } from "@connectrpc/connect";
import {
  apiKeyInterceptor,
  errorInterceptor,
  observeInterceptor,
  rateLimitInterceptor,
  registerStandardServices,
} from "@sluice/grpc";
import { AppError, type CommonDeps } from "@sluice/http";
import { IngestService } from "@sluice/proto";
import type { IngestCore } from "../app";
import type { IngestConfig } from "../config";
import type { IngestMetrics } from "../metrics";
import { rejectUnknownFields, toBatchInput, toBatchResponse, toEventInput } from "./convert";

export type IngestGrpcConfig = Pick<
  IngestConfig,
  "INGEST_API_KEYS" | "MAX_BODY_BYTES" | "MAX_BATCH_BODY_BYTES" | "ACCESS_LOG_SAMPLE_RATE"
>;

export interface IngestGrpcDeps extends CommonDeps {
  config: IngestGrpcConfig;
  /** The same core the HTTP app uses: one service, one set of counters, one rate-limit bucket per key. */
  core: IngestCore;
}

/** Set once the ingest service took a call over, so it alone counts that call's rejections. */
const counted = createContextKey(false, { description: "rejections counted by the ingest service" });
const GUARDED = new Set([IngestService.typeName]);

/** Counts rejections the service never saw (auth, rate limit, a missing event) and tracks calls in flight. */
function countRejections(metrics: IngestMetrics): Interceptor {
  return (next) => async (req) => {
    if (!GUARDED.has(req.service.typeName)) return await next(req);
    metrics.inFlightRequests.inc();
    try {
      return await next(req);
    } catch (error) {
      if (error instanceof AppError && !req.contextValues.get(counted)) metrics.rejected.inc({ reason: error.code });
      throw error;
    } finally {
      metrics.inFlightRequests.dec();
    }
  };
}

/**
 * The ingest app's gRPC face: sluice.v1.IngestService over the same ingest service as the HTTP routes,
 * with the same keys, rate limit and body limits (a request message over MAX_BODY_BYTES /
 * MAX_BATCH_BODY_BYTES, also after decompression, is RESOURCE_EXHAUSTED), plus health and reflection.
 */
export function createIngestGrpc(deps: IngestGrpcDeps): { routes: (router: ConnectRouter) => void; interceptors: Interceptor[] } {
  const { config, core } = deps;
  const interceptors: Interceptor[] = [
    observeInterceptor({ registry: deps.registry, logger: deps.logger, accessLogSampleRate: config.ACCESS_LOG_SAMPLE_RATE }),
    errorInterceptor(deps.logger),
    countRejections(core.metrics),
    apiKeyInterceptor(config.INGEST_API_KEYS, GUARDED),
  ];
  if (core.limiter !== undefined) interceptors.push(rateLimitInterceptor(core.limiter, GUARDED));

  const routes = (router: ConnectRouter) => {
    router.rpc(
      IngestService.method.publishEvent,
      async (request, context) => {
        rejectUnknownFields(request);
        if (request.event === undefined) {
          throw new AppError("VALIDATION_FAILED", "the request has no event", [{ path: "event", message: "required" }]);
        }
        const input = toEventInput(request.event);
        context.values.set(counted, true);
        return { eventId: await core.service.ingestOne(input) };
      },
      { readMaxBytes: config.MAX_BODY_BYTES },
    );
    router.rpc(
      IngestService.method.publishEvents,
      async (request, context) => {
        const input = toBatchInput(request);
        context.values.set(counted, true);
        return toBatchResponse(await core.service.ingestBatch(input));
      },
      { readMaxBytes: config.MAX_BATCH_BODY_BYTES },
    );
    registerStandardServices(router, { readiness: deps.readiness, services: [IngestService] });
  };
  return { routes, interceptors };
}
