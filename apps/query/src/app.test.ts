import { describe, expect, it } from "vitest";
import { buildTestApp, fakeClickHouse } from "./testing";

type ErrorBody = { error: { code: string; message: string; details: { path: string }[]; request_id: string } };

describe("query app", () => {
  it("answers /health with 200 and an x-request-id", async () => {
    const res = await buildTestApp().app.request("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "healthy" });
    expect(res.headers.get("x-request-id")).toMatch(/.+/);
  });

  it("answers /ready with 503 once draining", async () => {
    const { app, readiness } = buildTestApp();
    expect((await app.request("/ready")).status).toBe(200);
    readiness.startDraining();
    const res = await app.request("/ready");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: "unavailable", failed: ["shutdown"] });
  });

  it("answers unknown routes with the error envelope", async () => {
    const res = await buildTestApp().app.request("/nope");
    expect(res.status).toBe(404);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe("NOT_FOUND");
    expect(body.error.request_id).toBe(res.headers.get("x-request-id"));
  });

  it("names the parameter in the error envelope for invalid query parameters", async () => {
    const { app } = buildTestApp();
    const cases: [string, string][] = [
      ["/metrics?group_by=week", "group_by"],
      ["/metrics?from=yesterday", "from"],
      ["/metrics?from=1700003600&to=1700000000", "from"],
      ["/metrics?from=2025-01-01T00:00:00Z&to=2026-02-06T00:00:01Z", "to"],
      ["/events?limit=1001", "limit"],
      ["/events?limit=0", "limit"],
      ["/events?where=plan", "where[0]"],
      ["/events?where=amount:gt:abc", "where[0]"],
      ["/events?where=a:eq:1&where=b:nope:2", "where[1]"],
      ["/events?match=some", "match"],
      ["/events?cursor=abc", "cursor"],
      [`/events?event_name=${"x".repeat(129)}`, "event_name"],
    ];
    for (const [path, field] of cases) {
      const res = await app.request(path);
      expect(res.status, path).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code, path).toBe("VALIDATION_FAILED");
      expect(
        body.error.details.map((d) => d.path),
        path,
      ).toContain(field);
    }
  });

  it("accepts exactly 400 days and refuses one second more", async () => {
    const { app } = buildTestApp();
    expect((await app.request("/metrics?from=2025-01-01T00:00:00Z&to=2026-02-05T00:00:00Z")).status).toBe(200);
    expect((await app.request("/metrics?from=2025-01-01T00:00:00Z&to=2026-02-05T00:00:01Z")).status).toBe(400);
  });

  it("zero-fills hour buckets and reports the hour-aligned range it counted", async () => {
    const { app } = buildTestApp({ now: () => Date.UTC(2026, 0, 2, 10, 30) });
    const res = await app.request("/metrics?group_by=hour");
    const body = (await res.json()) as { from: string; to: string; data: { group: string; total_events: number }[] };
    expect(body.from).toBe("2026-01-01T11:00:00Z");
    expect(body.to).toBe("2026-01-02T11:00:00Z");
    expect(body.data).toHaveLength(24);
    expect(body.data.every((row) => row.total_events === 0)).toBe(true);
  });

  it("guards the API with QUERY_API_KEYS but leaves the page, docs and probes open", async () => {
    const { app } = buildTestApp({ apiKeys: ["k1"] });
    for (const path of ["/metrics", "/events", "/events/x", "/campaigns", "/campaigns/x", "/overview"]) {
      expect((await app.request(path)).status, path).toBe(401);
    }
    expect((await app.request("/metrics", { headers: { "x-api-key": "k1" } })).status).toBe(200);
    expect((await app.request("/metrics", { headers: { authorization: "Bearer k1" } })).status).toBe(200);
    expect((await app.request("/metrics", { headers: { "x-api-key": "k2" } })).status).toBe(401);
    for (const path of ["/", "/docs", "/openapi.json", "/health", "/ready"])
      expect((await app.request(path)).status, path).toBe(200);
  });

  it("answers 503 with Retry-After when ClickHouse cannot be reached, 500 for a server-side error", async () => {
    const down = buildTestApp({ db: fakeClickHouse(() => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:8123"))) });
    const res = await down.app.request("/metrics");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    const broken = buildTestApp({ db: fakeClickHouse(() => Promise.reject(new Error("Code: 62, e.displayText() = syntax"))) });
    expect((await broken.app.request("/metrics")).status).toBe(500);
  });

  it("serves the OpenAPI document and Swagger UI with its assets from this server", async () => {
    const { app } = buildTestApp();
    const doc = (await (await app.request("/openapi.json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/metrics",
        "/events",
        "/events/{event_id}",
        "/campaigns",
        "/campaigns/{campaign_id}",
        "/overview",
      ]),
    );
    const page = await (await app.request("/docs")).text();
    expect(page).toContain("/docs/assets/swagger-ui-dist/swagger-ui-bundle.js");
    expect(page).not.toMatch(/https?:\/\//);
    const bundle = await app.request("/docs/assets/swagger-ui-dist/swagger-ui-bundle.js");
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
    expect((await app.request("/docs/assets/swagger-ui-dist/..%2Fpackage.json")).status).toBe(404);
  });

  it("serves a self-contained dashboard page", async () => {
    const res = await buildTestApp().app.request("/");
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('data-testid="chart"');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
  });
});

describe("campaign routes", () => {
  it("creates, replaces, lists and reads campaigns; unknown ones are 404", async () => {
    const { app } = buildTestApp();
    const post = (body: unknown) =>
      app.request("/campaigns", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const created = await post({ campaign_id: "spring", name: "Spring", required_metadata: ["coupon"] });
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ campaign_id: "spring", name: "Spring", required_metadata: ["coupon"], updated_at: 1 });
    expect((await post({ campaign_id: "spring", name: "Spring 2" })).status).toBe(200);
    expect(await (await app.request("/campaigns")).json()).toEqual({
      data: [{ campaign_id: "spring", name: "Spring 2", required_metadata: [], updated_at: 1 }],
    });
    expect(((await (await app.request("/campaigns/spring")).json()) as { name: string }).name).toBe("Spring 2");
    expect((await app.request("/campaigns/autumn")).status).toBe(404);
  });

  it("refuses invalid campaigns naming the field, and answers 503 when the broker does not acknowledge", async () => {
    const { app } = buildTestApp({ publisher: { publish: () => Promise.reject(new Error("broker down")) } });
    const post = (body: unknown) =>
      app.request("/campaigns", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const bad = await post({ campaign_id: "x".repeat(129), name: "n" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorBody).error.details[0]?.path).toBe("campaign_id");
    const extra = await post({ campaign_id: "c", name: "n", surprise: 1 });
    expect(((await extra.json()) as ErrorBody).error.details[0]?.path).toBe("surprise");
    const tooMany = await post({ campaign_id: "c", name: "n", required_metadata: Array.from({ length: 65 }, (_, i) => `k${i}`) });
    expect(((await tooMany.json()) as ErrorBody).error.details[0]?.path).toBe("required_metadata");
    const notJson = await app.request("/campaigns", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(notJson.status).toBe(400);
    const down = await post({ campaign_id: "c", name: "n" });
    expect(down.status).toBe(503);
    expect(await (await app.request("/campaigns")).json()).toEqual({ data: [] });
  });
});
