import { Registry } from "@sluice/metrics";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { httpMetrics, requestDurations } from "./metrics";

function buildApp(registry: Registry) {
  const app = new Hono();
  app.use("*", httpMetrics(registry));
  app.get("/items/:id", (c) => c.json({ id: c.req.param("id") }));
  app.post("/slow", async (c) => {
    await new Promise((resolve) => setTimeout(resolve, 30));
    return c.body(null, 202);
  });
  app.get("/fail", () => {
    throw new Error("boom");
  });
  return app;
}

/** The series' lines as prom-client writes them: `name{labels} value`. */
async function lines(registry: Registry, pattern: RegExp): Promise<string[]> {
  return (await registry.metrics()).split("\n").filter((line) => pattern.test(line));
}

describe("httpMetrics", () => {
  it("counts requests by method, route pattern and status, one series per label set", async () => {
    const registry = new Registry();
    const app = buildApp(registry);
    for (const path of ["/items/1", "/items/2", "/nowhere", "/fail"]) await app.request(path);
    await app.request("/items/3", { method: "POST" });
    expect(await lines(registry, /^http_request_duration_seconds_count/)).toEqual([
      'http_request_duration_seconds_count{method="GET",route="/items/:id",status="200"} 2',
      'http_request_duration_seconds_count{method="GET",route="/*",status="404"} 1',
      'http_request_duration_seconds_count{method="GET",route="/fail",status="500"} 1',
      'http_request_duration_seconds_count{method="POST",route="/*",status="404"} 1',
    ]);
  });

  it("observes each request's duration in seconds into the latency buckets", async () => {
    const registry = new Registry();
    const app = buildApp(registry);
    await app.request("/slow", { method: "POST" });
    const buckets = await lines(registry, /^http_request_duration_seconds_bucket\{le="0\.0(25|5)",method="POST"/);
    expect(buckets).toEqual([
      'http_request_duration_seconds_bucket{le="0.025",method="POST",route="/slow",status="202"} 0',
      'http_request_duration_seconds_bucket{le="0.05",method="POST",route="/slow",status="202"} 1',
    ]);
    const [sum] = await lines(registry, /^http_request_duration_seconds_sum/);
    const seconds = Number(sum?.split(" ")[1]);
    expect(seconds).toBeGreaterThanOrEqual(0.028);
    expect(seconds).toBeLessThan(0.05);
  });

  it("shares one series per registry with a handler that records without Hono", async () => {
    const registry = new Registry();
    const app = buildApp(registry);
    await app.request("/items/1");
    const record = requestDurations(registry);
    expect(requestDurations(registry)).toBe(record);
    record("GET", "/items/:id", 200, 0.001);
    expect(await lines(registry, /^http_request_duration_seconds_count/)).toEqual([
      'http_request_duration_seconds_count{method="GET",route="/items/:id",status="200"} 2',
    ]);
    // Another registry has its own.
    expect(requestDurations(new Registry())).not.toBe(record);
  });
});
