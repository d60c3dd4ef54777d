import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, respondWithError } from "./errors";
import { RequestIdResponse, requestIdMiddleware } from "./request-id";
import { type HttpServer, startHttpServer } from "./server";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function buildApp() {
  const app = new Hono();
  app.use("*", requestIdMiddleware());
  app.get("/ok", (c) => c.json({ id: c.get("requestId") }));
  app.get("/fail", (c) => respondWithError(c, new AppError("NOT_FOUND", "nothing here")));
  app.get("/empty", (c) => c.body(null, 204));
  app.get("/headers", (c) => {
    c.header("cache-control", "no-store");
    return c.json({ id: c.get("requestId") });
  });
  app.get("/own", (c) => c.json({ id: "mine" }, 200, { "X-Request-Id": "mine" }));
  app.get("/stream", (c) =>
    c.body(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(JSON.stringify({ id: c.get("requestId") })));
          controller.close();
        },
      }),
    ),
  );
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

describe("the id on every kind of answer behind the Node adapter", () => {
  let server: HttpServer;
  beforeAll(async () => {
    const app = buildApp();
    server = await startHttpServer((request, env) => app.fetch(request, env), { port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await server.close();
  });

  it.each([
    ["/headers", 200],
    ["/stream", 200],
  ])("%s carries the id once, beside the answer's own headers", async (path, status) => {
    const res = await fetch(`http://127.0.0.1:${server.port}${path}`, { headers: { "x-request-id": "req-9" } });
    expect(res.status).toBe(status);
    expect(res.headers.get("x-request-id")).toBe("req-9");
    expect(((await res.json()) as { id: string }).id).toBe("req-9");
    if (path === "/headers") expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("an answer without a header object carries the id", async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/empty`, { headers: { "x-request-id": "req-10" } });
    expect(res.status).toBe(204);
    expect(res.headers.get("x-request-id")).toBe("req-10");
  });

  it("an answer that names its own x-request-id keeps it, sent once", async () => {
    const raw = await rawHeaders(server.port, "/own");
    expect(raw.filter(([name]) => name.toLowerCase() === "x-request-id").map(([, value]) => value)).toEqual(["mine"]);
  });
});

/** The answer's status and header lines as sent (name case kept), without Date. */
function rawHeaders(port: number, path: string): Promise<[string, string][]> {
  return new Promise((resolve, reject) => {
    request({ port, host: "127.0.0.1", path, headers: { "x-request-id": "req-raw" } }, (res) => {
      res.resume();
      const pairs: [string, string][] = [[":status", `${res.statusCode} ${res.statusMessage}`]];
      for (let i = 0; i < res.rawHeaders.length; i += 2)
        pairs.push([res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string]);
      res.on("end", () => resolve(pairs.filter(([name]) => name.toLowerCase() !== "date")));
    })
      .on("error", reject)
      .end();
  });
}

/** Every form of writeHead a Node answer can take, with the headers it may have set before. */
const writeHeadForms: [string, (res: ServerResponse) => void][] = [
  ["an object", (res) => res.writeHead(202, { "Content-Type": "application/json", "Content-Length": 2 }).end("{}")],
  ["a reason and an object", (res) => res.writeHead(202, "Taken", { "content-type": "text/plain" }).end("ok")],
  ["a flat array", (res) => res.writeHead(200, ["content-type", "text/plain", "x-extra", "1"]).end("ok")],
  ["no headers", (res) => res.writeHead(404).end()],
  ["setHeader then an object", (res) => res.setHeader("cache-control", "no-store") && res.writeHead(200, { a: "1" }).end()],
  ["the answer's own id, other case", (res) => res.writeHead(200, { "X-Request-ID": "own" }).end()],
  ["the answer's own id via setHeader", (res) => res.setHeader("x-request-id", "own") && res.writeHead(200, { a: "1" }).end()],
  ["an implicit writeHead", (res) => res.end("implicit")],
];

/** A server whose answers get the id the way requestIdMiddleware hands it over: by setHeader, or to a RequestIdResponse. */
async function writeHeadServer(fast: boolean, form: (res: ServerResponse) => void): Promise<Server> {
  const server = createServer(fast ? { ServerResponse: RequestIdResponse } : {}, (_req: IncomingMessage, res: ServerResponse) => {
    if (res instanceof RequestIdResponse) res.requestId = "req-raw";
    else res.setHeader("x-request-id", "req-raw");
    form(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

describe("RequestIdResponse", () => {
  // Fields of different names may come in any order (RFC 9110 §5.3): after an earlier setHeader, the id now follows it.
  it.each(writeHeadForms)("sends the same status and headers as setHeader did, for %s", async (_, form) => {
    const answers: [string, string][][] = [];
    for (const fast of [false, true]) {
      const server = await writeHeadServer(fast, form);
      try {
        answers.push((await rawHeaders((server.address() as AddressInfo).port, "/")).sort());
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[0]?.some(([name]) => name.toLowerCase() === "x-request-id")).toBe(true);
  });
});
