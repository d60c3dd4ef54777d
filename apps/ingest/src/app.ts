import { OpenAPIHono } from "@hono/zod-openapi";
import {
  apiKeyAuth,
  type CommonDeps,
  type FastLane,
  installCommon,
  nodeEnv,
  rateLimit,
  rateLimitKey,
  registerDocs,
  requestStart,
  TokenBucketLimiter,
  toAppError,
} from "@sluice/http";
import type { MiddlewareHandler } from "hono";
import { createAccessLog } from "./access-log";
import type { BatchReader } from "./batch-reader";
import { passedOn } from "./body";
import type { CampaignRules } from "./campaigns";
import type { IngestConfig } from "./config";
import { createIngestService, type IngestService } from "./ingest-service";
import { createIngestMetrics, type IngestMetrics } from "./metrics";
import type { EventPublisher } from "./publisher";
import { registerBatch } from "./routes/batch";
import { eventsFastLane, registerEvents } from "./routes/events";
import type { IngestEnv } from "./types";

export type IngestAppConfig = Pick<
  IngestConfig,
  | "INGEST_API_KEYS"
  | "RATE_LIMIT_PER_SEC"
  | "RATE_LIMIT_BURST"
  | "MAX_FUTURE_SKEW_MS"
  | "MAX_BODY_BYTES"
  | "MAX_BATCH_BODY_BYTES"
  | "MAX_MESSAGE_BYTES"
  | "ACCESS_LOG_SAMPLE_RATE"
>;

export interface IngestDeps extends CommonDeps {
  config: IngestAppConfig;
  publisher: EventPublisher;
  campaigns: CampaignRules;
  /** Clock for received_at and the future-skew rule; injectable for tests. */
  now?: () => number;
  /** Reads batch bodies on worker threads (main); on the event loop when absent. */
  batchReader?: BatchReader;
  /** The core shared with the gRPC face; built here when absent. */
  core?: IngestCore;
}

/**
 * What the HTTP and gRPC faces share, so every rule, counter and rate-limit bucket exists once: the
 * ingest service (validation, campaign rules, produce path), its metrics, and the per-key token bucket.
 */
export interface IngestCore {
  service: IngestService;
  metrics: IngestMetrics;
  /** Undefined while rate limiting is off (RATE_LIMIT_PER_SEC unset). */
  limiter: TokenBucketLimiter | undefined;
}

/** Builds the ingest core; its metrics register on `deps.registry`, so build it once per registry. */
export function createIngestCore(
  deps: Pick<IngestDeps, "config" | "publisher" | "campaigns" | "registry" | "now" | "batchReader">,
): IngestCore {
  const { config } = deps;
  const metrics = createIngestMetrics(deps.registry);
  const service = createIngestService({
    publisher: deps.publisher,
    campaigns: deps.campaigns,
    metrics,
    maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS,
    maxMessageBytes: config.MAX_MESSAGE_BYTES,
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.batchReader ? { batchReader: deps.batchReader } : {}),
  });
  const limiter =
    config.RATE_LIMIT_PER_SEC === undefined
      ? undefined
      : new TokenBucketLimiter({
          ratePerSec: config.RATE_LIMIT_PER_SEC,
          burst: config.RATE_LIMIT_BURST ?? Math.max(1, config.RATE_LIMIT_PER_SEC),
        });
  return { service, metrics, limiter };
}

// Hono's "/events/*" also matches "/events" itself.
const INGEST_PATH = "/events/*";

/**
 * Counts rejections the service did not see (auth, rate limit, body), tracks requests in flight, and
 * writes the access log.
 */
function observe(deps: IngestDeps, metrics: IngestMetrics): MiddlewareHandler<IngestEnv> {
  const log = createAccessLog(deps.logger, deps.config.ACCESS_LOG_SAMPLE_RATE);
  return async (c, next) => {
    const started = requestStart(c);
    metrics.inFlightRequests.inc();
    try {
      await next();
    } finally {
      metrics.inFlightRequests.dec();
    }
    const error = c.error === undefined ? undefined : toAppError(c.error);
    if (error !== undefined && !c.get("counted")) metrics.rejected.inc({ reason: error.code });
    log({
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      started,
      ...(error ? { code: error.code } : {}),
    });
  };
}

/** The Node-level `POST /events` lane (see eventsFastLane) over the same core, registry and settings as the app. */
export function createIngestFastLane(deps: IngestDeps & { core: IngestCore }): FastLane {
  const { service, metrics, limiter } = deps.core;
  return eventsFastLane({ ...deps, service, metrics, limiter });
}

/** Builds the ingest HTTP app from its dependencies; no I/O happens here. */
export function createApp(deps: IngestDeps): OpenAPIHono<IngestEnv> {
  const { config } = deps;
  const app = new OpenAPIHono<IngestEnv>();
  installCommon(app, deps);
  const { service, metrics, limiter } = deps.core ?? createIngestCore(deps);

  // While draining, ask clients to reconnect elsewhere so the server can close keep-alive connections.
  app.use("*", async (c, next) => {
    await next();
    if (deps.readiness.isDraining) c.header("Connection", "close");
  });
  app.use(INGEST_PATH, observe(deps, metrics));
  if (config.INGEST_API_KEYS.length > 0) app.use(INGEST_PATH, apiKeyAuth(config.INGEST_API_KEYS));
  if (limiter !== undefined) {
    const limit = rateLimit(limiter, (c) => rateLimitKey(c.get("apiKey" as never) as string | undefined));
    // A request the fast lane passed on with its body has been charged already.
    app.use(INGEST_PATH, (c, next) => (passedOn(nodeEnv(c).incoming) ? next() : limit(c, next)));
  }

  registerEvents(app, { service, maxBodyBytes: config.MAX_BODY_BYTES, maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS });
  registerBatch(app, { service, maxBatchBodyBytes: config.MAX_BATCH_BODY_BYTES, maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS });
  registerDocs(app, {
    title: "Sluice ingest API",
    description:
      "Answers 202 only after Kafka acknowledged the event (acks=all). Errors use one envelope. Send the key as `Authorization: Bearer <key>` or `x-api-key`.",
  });
  return app;
}
