import { Histogram, LATENCY_BUCKETS, type Registry } from "@sluice/metrics";
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";

type Observe = (seconds: number) => void;

/**
 * Records request duration by method, matched route pattern and status (never the raw path, to bound
 * cardinality). Each label set's series is looked up once and kept: startTimer's closures and label
 * merging cost about a microsecond per request on the ingest hot path.
 */
export function httpMetrics(registry: Registry): MiddlewareHandler {
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const series = new Map<string, Observe>();
  function seriesOf(method: string, route: string, status: number): Observe {
    const key = `${method} ${status} ${route}`;
    let observe = series.get(key);
    if (observe === undefined) {
      observe = duration.labels({ method, route, status: String(status) }).observe;
      series.set(key, observe);
    }
    return observe;
  }
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      seriesOf(c.req.method, routePath(c) || "unmatched", c.res.status)((performance.now() - started) / 1000);
    }
  };
}
