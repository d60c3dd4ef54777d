import { Histogram, LATENCY_BUCKETS, type Registry } from "@sluice/metrics";
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";

/** Records request duration by method, matched route pattern and status (never the raw path, to bound cardinality). */
export function httpMetrics(registry: Registry): MiddlewareHandler {
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  return async (c, next) => {
    const end = duration.startTimer();
    try {
      await next();
    } finally {
      end({ method: c.req.method, route: routePath(c) || "unmatched", status: String(c.res.status) });
    }
  };
}
