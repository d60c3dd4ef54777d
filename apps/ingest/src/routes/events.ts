import type { IncomingMessage, ServerResponse } from "node:http";
import type { OpenAPIHono } from "@hono/zod-openapi";
import {
  createKeyMatcher,
  type FastLane,
  type NodeListener,
  noteRequestStart,
  presentedNodeApiKey,
  type Readiness,
  rateLimitKey,
  requestDurations,
  requestIdFrom,
  type TokenBucketLimiter,
  toAppError,
  writeErrorResponse,
} from "@sluice/http";
import type { Registry } from "@sluice/metrics";
import type { Logger } from "pino";
import { createAccessLog } from "../access-log";
import type { IngestAppConfig } from "../app";
import { passOnBody, readJsonBody, readPlainBody } from "../body";
import type { IngestService } from "../ingest-service";
import type { IngestMetrics } from "../metrics";
import { acceptedSchema, errorResponses, jsonContent, requestSchemas } from "../openapi";
import type { IngestEnv } from "../types";

export interface EventsRouteDeps {
  service: IngestService;
  maxBodyBytes: number;
  maxFutureSkewMs: number;
}

const ROUTE = "/events";

/** `POST /events`: one event, answered 202 once the broker acknowledged it. */
export function registerEvents(app: OpenAPIHono<IngestEnv>, deps: EventsRouteDeps): void {
  app.openAPIRegistry.registerPath({
    method: "post",
    path: ROUTE,
    summary: "Ingest one event",
    security: [{ bearer: [] }, { apiKey: [] }],
    request: { body: { required: true, ...jsonContent(requestSchemas(deps.maxFutureSkewMs).event, "one event") } },
    responses: { 202: jsonContent(acceptedSchema, "acknowledged by the broker"), ...errorResponses() },
  });
  app.post(ROUTE, async (c) => {
    const body = await readJsonBody(c, deps.maxBodyBytes);
    c.set("counted", true);
    const eventId = await deps.service.ingestOne(body);
    return c.json({ status: "accepted" as const, event_id: eventId }, 202);
  });
}

export interface EventsFastLaneDeps {
  service: IngestService;
  metrics: IngestMetrics;
  readiness: Readiness;
  logger: Logger;
  /** Where the HTTP request durations are (the Hono middleware's series). */
  registry: Registry;
  /** Undefined while rate limiting is off. */
  limiter: TokenBucketLimiter | undefined;
  config: Pick<IngestAppConfig, "INGEST_API_KEYS" | "MAX_BODY_BYTES" | "ACCESS_LOG_SAMPLE_RATE">;
}

/**
 * `POST /events` served without Hono's adapter, router and middleware chain, which took ~35 of the
 * ~100 µs of event-loop CPU a single event cost. It takes only what it serves the way the Hono route
 * would: a request for exactly `/events` with `application/json`, no content encoding, a Content-Length
 * within the limit, a valid key when keys are set, a token when rate limiting is on, while not
 * draining. Everything else goes to Hono untouched, and so does a body the fast path declines
 * (anything not certainly valid): with the bytes already read, it is decided by the route above. So
 * every error answer comes from the one onError, bar three the lane writes with the same envelope: a
 * failed produce (503), a body cut short (400), and a fault of the fast path (500). Durations,
 * in-flight requests, rejections and the access log are recorded as the middleware records them.
 */
export function eventsFastLane(deps: EventsFastLaneDeps): FastLane {
  const { service, metrics, readiness, logger, limiter, config } = deps;
  const recordDuration = requestDurations(deps.registry);
  const log = createAccessLog(logger, config.ACCESS_LOG_SAMPLE_RATE);
  const matchKey = config.INGEST_API_KEYS.length > 0 ? createKeyMatcher(config.INGEST_API_KEYS) : undefined;
  const maxBodyBytes = config.MAX_BODY_BYTES;

  function finish(requestId: string, started: number, status: number, code?: string): void {
    metrics.inFlightRequests.dec();
    recordDuration("POST", ROUTE, status, (performance.now() - started) / 1000);
    log({ requestId, method: "POST", path: ROUTE, status, started, ...(code === undefined ? {} : { code }) });
  }

  function fail(outgoing: ServerResponse, requestId: string, started: number, error: unknown): void {
    const appError = toAppError(error);
    if (appError.code === "INTERNAL") logger.error({ err: error, requestId }, "unhandled error");
    // A client cut off by the request timeout has had its answer from Node (408) and its socket closed.
    if (!outgoing.headersSent && !outgoing.destroyed)
      writeErrorResponse(outgoing, appError, requestId, readiness.isDraining ? { connection: "close" } : {});
    finish(requestId, started, appError.status, appError.code);
  }

  /** Reads the body and answers it, or passes it on; every failure ends in an answer, none escapes. */
  async function serve(incoming: IncomingMessage, outgoing: ServerResponse, toHono: NodeListener): Promise<void> {
    const started = performance.now();
    const requestId = requestIdFrom(incoming.headers["x-request-id"]);
    metrics.inFlightRequests.inc();
    let body: Buffer;
    try {
      body = await readPlainBody(incoming, maxBodyBytes);
    } catch (error) {
      // Counted here: the service never saw this request.
      metrics.rejected.inc({ reason: toAppError(error).code });
      fail(outgoing, requestId, started, error);
      return;
    }
    try {
      const accepted = service.ingestFast(body);
      if (accepted === undefined) {
        metrics.inFlightRequests.dec();
        passOnBody(incoming, body);
        noteRequestStart(incoming, started);
        toHono(incoming, outgoing);
        return;
      }
      const answer = `{"status":"accepted","event_id":"${await accepted}"}`;
      outgoing.writeHead(202, {
        "x-request-id": requestId,
        "content-type": "application/json",
        "content-length": answer.length,
        ...(readiness.isDraining ? { connection: "close" } : {}),
      });
      outgoing.end(answer);
      finish(requestId, started, 202);
    } catch (error) {
      // A failed produce (503), or a fault of the fast path itself (500, logged), as the Hono route answers them.
      fail(outgoing, requestId, started, error);
    }
  }

  return (incoming, outgoing, toHono) => {
    if (incoming.method !== "POST" || incoming.url !== ROUTE || readiness.isDraining) return false;
    const headers = incoming.headers;
    if (headers["content-type"] !== "application/json" || headers["content-encoding"] !== undefined) return false;
    if (!(Number(headers["content-length"]) <= maxBodyBytes)) return false;
    let key: string | undefined;
    if (matchKey !== undefined) {
      key = matchKey(presentedNodeApiKey(headers));
      if (key === undefined) return false;
    }
    // A request without tokens is left to Hono before its body is read; Hono's take fails the same way.
    if (limiter !== undefined && !limiter.take(rateLimitKey(key)).allowed) return false;

    serve(incoming, outgoing, toHono).catch((error: unknown) => {
      // Only a fault while answering a fault gets here: the client gets a closed connection, the log the cause.
      logger.error({ err: error }, "the fast lane failed to answer");
      outgoing.destroy();
    });
    return true;
  };
}
