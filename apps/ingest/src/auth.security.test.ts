import { Writable } from "node:stream";
import { createLogger } from "@sluice/logger";
import { describe, expect, it } from "vitest";
import { brokerDown, buildTestApp, FakePublisher, serveTestApp } from "./testing/fakes";

const KEY = "ingest-key-3c9d01f2e8";
const OTHER_KEY = "ingest-key-second-41b7";
const QUERY_KEY = "read-key-5f0c1d9e7a";
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const event = { event_name: "signup", user_id: "u1", timestamp: NOW - 1000 };

/** Every route of the ingest API needs a key once INGEST_API_KEYS is set. */
const ROUTES = [
  { path: "/events", body: event },
  { path: "/events/batch", body: { events: [event] } },
  { path: "/events/bulk", body: { events: [event] } },
];

type Built = ReturnType<typeof buildTestApp>;
type Post = (path: string, body: unknown, headers: Record<string, string>) => Response | Promise<Response>;

const init = (body: unknown, headers: Record<string, string>): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

/** Each test runs in-process through Hono, and over a connection as main serves (the fast lane first). */
const transports: [string, (built: Built) => Promise<{ post: Post; close(): Promise<void> }>][] = [
  [
    "in-process",
    async (built) => ({
      post: (path, body, headers) => built.app.request(`http://ingest${path}`, init(body, headers)),
      close: async () => undefined,
    }),
  ],
  [
    "over a connection",
    async (built) => {
      const server = await serveTestApp(built);
      return {
        post: (path, body, headers) => fetch(`http://127.0.0.1:${server.port}${path}`, init(body, headers)),
        close: () => server.close(),
      };
    },
  ],
];

describe.each(transports)("ingest API keys, %s", (_, open) => {
  it("401 on every route without a key, with a wrong one, or with a query key; 202 with either header", async () => {
    const built = buildTestApp({ now: () => NOW, config: { INGEST_API_KEYS: [KEY, OTHER_KEY] } });
    const { post, close } = await open(built);
    try {
      for (const { path, body } of ROUTES) {
        for (const headers of <Record<string, string>[]>[
          {},
          { authorization: "Bearer" },
          { "x-api-key": `${KEY}x` },
          { authorization: `Bearer ${QUERY_KEY}` },
        ]) {
          const res = await post(path, body, headers);
          expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
          const envelope = (await res.json()) as { error: { code: string; request_id: string } };
          expect(envelope.error).toMatchObject({ code: "UNAUTHORIZED", request_id: res.headers.get("x-request-id") });
        }
        expect((await post(path, body, { authorization: `Bearer ${KEY}` })).status).toBe(202);
        expect((await post(path, body, { "x-api-key": OTHER_KEY })).status).toBe(202);
      }
    } finally {
      await close();
    }
    // Nothing reached the broker from the refused requests.
    expect(built.publisher.published).toHaveLength(6);
  });

  it("never writes a key to the logs, whatever the request and its outcome", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const publisher = new FakePublisher();
    const built = buildTestApp({
      now: () => NOW,
      publisher,
      logger: createLogger({ name: "ingest", level: "trace" }, sink),
      // Every request is access-logged, and the small bucket makes some of them 429.
      config: {
        INGEST_API_KEYS: [KEY],
        ACCESS_LOG_SAMPLE_RATE: 1,
        RATE_LIMIT_PER_SEC: 1,
        RATE_LIMIT_BURST: 5,
        MAX_BODY_BYTES: 200,
      },
    });
    const { post, close } = await open(built);
    let requests = 0;
    const attempts: Record<string, string>[] = [
      { authorization: `Bearer ${KEY}` },
      { "x-api-key": KEY },
      { authorization: `Bearer ${KEY}-wrong` },
      { "x-api-key": QUERY_KEY },
    ];
    for (const headers of attempts) {
      for (const body of [{ ...event, metadata: { pad: "x".repeat(300) } }, event, "{", { ...event, extra: KEY }]) {
        await post("/events", body, headers);
        requests += 1;
      }
      publisher.failWith = brokerDown();
      await post(`/events/batch?api_key=${KEY}`, { events: [event] }, headers);
      publisher.failWith = undefined;
      requests += 1;
    }
    await close();
    // One access-log line per request at least: 202, 400, 401, 413, 429 and 503 were all logged.
    expect(lines.length).toBeGreaterThanOrEqual(requests);
    const written = lines.join("");
    for (const status of [202, 400, 401, 413, 429, 503]) expect(written).toContain(`"status":${status}`);
    for (const key of [KEY, QUERY_KEY]) expect(written).not.toContain(key);
  });
});
