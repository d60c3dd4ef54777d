import { Writable } from "node:stream";
import { createLogger } from "@sluice/logger";
import { describe, expect, it } from "vitest";
import { buildTestApp, fakeClickHouse } from "./testing";

const READ_KEY = "read-key-5f0c1d9e7a";
const ADMIN_KEY = "admin-key-b83e44a210";
const INGEST_KEY = "ingest-key-77aa19c3d2";

type Envelope = { error: { code: string; request_id: string } };

const campaign = JSON.stringify({ campaign_id: "spring", name: "Spring", required_metadata: ["coupon"] });

/** Every route that needs a key, with a request that would succeed given the right one. */
const ROUTES: { method: "GET" | "POST"; path: string; writes?: true }[] = [
  { method: "GET", path: "/metrics?group_by=channel" },
  { method: "GET", path: "/events?event_name=signup" },
  { method: "GET", path: "/events/0190a0b0-0000-7000-8000-000000000001" },
  { method: "GET", path: "/campaigns" },
  { method: "GET", path: "/campaigns/spring" },
  { method: "GET", path: "/overview" },
  { method: "POST", path: "/campaigns", writes: true },
];

function call(app: ReturnType<typeof buildTestApp>["app"], route: (typeof ROUTES)[number], headers: Record<string, string>) {
  return app.request(route.path, {
    method: route.method,
    headers: route.method === "POST" ? { ...headers, "content-type": "application/json" } : headers,
    ...(route.method === "POST" ? { body: campaign } : {}),
  });
}

async function expectError(res: Response, status: number, code: string, label: string) {
  expect(res.status, label).toBe(status);
  const body = (await res.json()) as Envelope;
  expect(body.error.code, label).toBe(code);
  expect(body.error.request_id, label).toBe(res.headers.get("x-request-id"));
}

describe("query API keys", () => {
  const build = () => buildTestApp({ apiKeys: [READ_KEY], adminApiKeys: [ADMIN_KEY] });

  it("401 on every guarded route without a key, with a wrong one, or with an ingest key", async () => {
    const { app } = build();
    const wrong: Record<string, string>[] = [
      {},
      { authorization: "Bearer " },
      { authorization: `Bearer ${READ_KEY}x` },
      { authorization: `Basic ${READ_KEY}` },
      { "x-api-key": READ_KEY.slice(0, -1) },
      { "x-api-key": INGEST_KEY },
      { authorization: `Bearer ${INGEST_KEY}` },
    ];
    for (const route of ROUTES) {
      for (const headers of wrong) {
        await expectError(
          await call(app, route, headers),
          401,
          "UNAUTHORIZED",
          `${route.method} ${route.path} ${JSON.stringify(headers)}`,
        );
      }
    }
  });

  it("a read-only key reads every route and gets 403 on writes; an admin key does both", async () => {
    const { app } = build();
    for (const headers of <Record<string, string>[]>[{ authorization: `Bearer ${READ_KEY}` }, { "x-api-key": READ_KEY }]) {
      for (const route of ROUTES) {
        const res = await call(app, route, headers);
        const label = `${route.method} ${route.path} with the read key`;
        if (route.writes) await expectError(res, 403, "FORBIDDEN", label);
        else expect([200, 404], label).toContain(res.status);
      }
    }
    for (const headers of <Record<string, string>[]>[{ authorization: `bearer ${ADMIN_KEY}` }, { "x-api-key": ADMIN_KEY }]) {
      for (const route of ROUTES) {
        const res = await call(app, route, headers);
        expect([200, 201, 404], `${route.method} ${route.path} with the admin key`).toContain(res.status);
      }
    }
    // The campaign the admin key wrote is now readable with the read key.
    expect((await app.request("/campaigns/spring", { headers: { "x-api-key": READ_KEY } })).status).toBe(200);
  });

  it("admin keys alone also guard the API", async () => {
    const { app } = buildTestApp({ apiKeys: [], adminApiKeys: [ADMIN_KEY] });
    await expectError(await app.request("/metrics"), 401, "UNAUTHORIZED", "no key");
    expect((await app.request("/metrics", { headers: { "x-api-key": ADMIN_KEY } })).status).toBe(200);
  });

  it("leaves the dashboard page, docs and probes open", async () => {
    const { app } = build();
    for (const path of ["/", "/docs", "/openapi.json", "/health", "/ready"])
      expect((await app.request(path)).status, path).toBe(200);
  });

  it("never writes a key to the logs, whatever the request and its outcome", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ name: "query", level: "trace" }, sink);
    const failing = fakeClickHouse(() => Promise.reject(new Error("Code: 241, e.displayText() = DB::Exception: Memory limit")));
    const { app } = buildTestApp({
      logger,
      db: failing,
      apiKeys: [READ_KEY],
      adminApiKeys: [ADMIN_KEY],
      publisher: { publish: () => Promise.reject(new Error("broker down")) },
    });
    const attempts: Record<string, string>[] = [
      { authorization: `Bearer ${READ_KEY}` },
      { "x-api-key": ADMIN_KEY },
      { authorization: `Bearer ${INGEST_KEY}` },
      { "x-api-key": `${ADMIN_KEY}-wrong` },
    ];
    for (const headers of attempts) {
      for (const route of ROUTES) await call(app, route, headers);
      await app.request(`/metrics?api_key=${READ_KEY}`, { headers });
    }
    // 500s (the failing ClickHouse) and 503s (the failing broker) were logged with their errors.
    expect(lines.length).toBeGreaterThan(0);
    const written = lines.join("");
    for (const key of [READ_KEY, ADMIN_KEY, INGEST_KEY]) expect(written).not.toContain(key);
  });
});
