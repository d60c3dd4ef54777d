import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, respondWithError } from "./errors";
import { requestIdMiddleware } from "./request-id";
import { type HttpServer, startHttpServer } from "./server";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function buildApp() {
  const app = new Hono();
  app.use("*", requestIdMiddleware());
  app.get("/ok", (c) => c.json({ id: c.get("requestId") }));
  app.get("/fail", (c) => respondWithError(c, new AppError("NOT_FOUND", "nothing here")));
  return app;
}

// The same cases in-process (Hono's Request headers) and behind the Node adapter (Node's header objects).
const cases: [string, Record<string, string>, (id: string) => void][] = [
  ["keeps a well-formed client id", { "x-request-id": "abc-DEF_1=" }, (id) => expect(id).toBe("abc-DEF_1=")],
  ["replaces an id with other characters", { "x-request-id": "a b" }, (id) => expect(id).toMatch(UUID)],
  ["replaces an id longer than 128 chars", { "x-request-id": "x".repeat(129) }, (id) => expect(id).toMatch(UUID)],
  ["keeps one of exactly 128 chars", { "x-request-id": "x".repeat(128) }, (id) => expect(id).toBe("x".repeat(128))],
  ["generates one when absent", {}, (id) => expect(id).toMatch(UUID)],
];

describe("requestIdMiddleware in-process", () => {
  it.each(cases)("%s", async (_, headers, check) => {
    const res = await buildApp().request("/ok", { headers });
    const { id } = (await res.json()) as { id: string };
    check(id);
    expect(res.headers.get("x-request-id")).toBe(id);
  });
});

describe("requestIdMiddleware behind the Node adapter", () => {
  let server: HttpServer;
  beforeAll(async () => {
    const app = buildApp();
    server = await startHttpServer((request, env) => app.fetch(request, env), { port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await server.close();
  });

  it.each(cases)("%s", async (_, headers, check) => {
    const res = await fetch(`http://127.0.0.1:${server.port}/ok`, { headers });
    const { id } = (await res.json()) as { id: string };
    check(id);
    expect(res.headers.get("x-request-id")).toBe(id);
  });

  it("echoes the id on error answers, matching the envelope", async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/fail`, { headers: { "x-request-id": "req-7" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBe("req-7");
    expect(((await res.json()) as { error: { request_id: string } }).error.request_id).toBe("req-7");
  });
});
