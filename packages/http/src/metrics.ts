import type { IncomingMessage } from "node:http";
import { LATENCY_BUCKETS, LeanHistogram, type Registry } from "@sluice/metrics";
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { nodeEnv } from "./node-env";

type Observe = (seconds: number) => void;

/** Records one answered request's duration by method, route pattern and status. */
export type RecordDuration = (method: string, route: string, status: number, seconds: number) => void;

const recorders = new WeakMap<Registry, RecordDuration>();

/**
 * The `http_request_duration_seconds` histogram of a registry (one per registry, however many callers
 * ask: the Hono middleware and a Node-level fast lane record into the same series). Each label set's
 * observer is looked up once and kept, in maps keyed by the label values themselves: prom-client's
 * Histogram validated and hashed the labels on every request, a few µs on the ingest hot path.
 */
export function requestDurations(registry: Registry): RecordDuration {
  const known = recorders.get(registry);
  if (known !== undefined) return known;
  const duration = new LeanHistogram(
    "http_request_duration_seconds",
    "HTTP request duration by route and status",
    ["method", "route", "status"] as const,
    LATENCY_BUCKETS,
    [registry],
  );
  const observers = new Map<string, Map<string, Map<number, Observe>>>();
  const record: RecordDuration = (method, route, status, seconds) => {
    let byRoute = observers.get(method);
    if (byRoute === undefined) {
      byRoute = new Map();
      observers.set(method, byRoute);
    }
    let byStatus = byRoute.get(route);
    if (byStatus === undefined) {
      byStatus = new Map();
      byRoute.set(route, byStatus);
    }
    let observe = byStatus.get(status);
    if (observe === undefined) {
      observe = duration.series({ method, route, status: String(status) });
      byStatus.set(status, observe);
    }
    observe(seconds);
  };
  recorders.set(registry, record);
  return record;
}

const starts = new WeakMap<IncomingMessage, number>();

/**
 * Notes when a request that a fast lane read before passing it on to Hono came in, so Hono's timings
 * (the duration histogram, an access log) include its body's upload as they do for other requests.
 */
export function noteRequestStart(incoming: IncomingMessage, started: number): void {
  starts.set(incoming, started);
}

/** When a request came in (performance.now()): as a fast lane noted it, else now. */
export function requestStart(c: Context): number {
  const { incoming } = nodeEnv(c);
  return (incoming === undefined ? undefined : starts.get(incoming)) ?? performance.now();
}

/** Records request duration by method, matched route pattern and status (never the raw path, to bound cardinality). */
export function httpMetrics(registry: Registry): MiddlewareHandler {
  const record = requestDurations(registry);
  return async (c, next) => {
    const started = requestStart(c);
    try {
      await next();
    } finally {
      record(c.req.method, routePath(c) || "unmatched", c.res.status, (performance.now() - started) / 1000);
    }
  };
}
