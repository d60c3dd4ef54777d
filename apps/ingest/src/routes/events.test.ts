import type { IncomingMessage, ServerResponse } from "node:http";
import { connect } from "node:net";
import { Writable } from "node:stream";
import { gzipSync } from "node:zlib";
import { LIMITS } from "@sluice/events";
import { bounded, eventId, mostly, optionalFields, shuffledObject } from "@sluice/events/testing";
import type { FastLane, HttpServer } from "@sluice/http";
import { createLogger } from "@sluice/logger";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { brokerDown, buildTestApp, FakePublisher, serveTestApp } from "../testing/fakes";

// The Node-level POST /events lane against the Hono route it stands in for: same answers, same records.

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const now = () => NOW;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const event = { event_name: "signup", user_id: "u1", timestamp: NOW - 1000, channel: "web" };

/** How the lane handled the requests it was offered. */
interface LaneLog {
  /** Requests it answered itself. */
  answered: number;
  /** Requests it took, read, and passed on to Hono. */
  passedOn: number;
  /** Requests it left to Hono without reading them. */
  left: number;
}

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(options: Parameters<typeof buildTestApp>[0] = {}) {
  const built = buildTestApp({ now, ...options });
  const lane: LaneLog = { answered: 0, passedOn: 0, left: 0 };
  const watched: FastLane = (incoming, outgoing, toHono) => {
    let passed = false;
    const taken = built.fastLane(incoming, outgoing, (i: IncomingMessage, o: ServerResponse) => {
      passed = true;
      lane.passedOn += 1;
      toHono(i, o);
    });
    if (!taken) lane.left += 1;
    else
      outgoing.once("finish", () => {
        if (!passed) lane.answered += 1;
      });
    return taken;
  };
  server = await serveTestApp({ app: built.app, fastLane: watched });
  const url = `http://127.0.0.1:${server.port}`;
  return { ...built, lane, url };
}

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/events`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" || body instanceof Uint8Array ? (body as string) : JSON.stringify(body),
  });
}

/** A series' value from the registry's text: the line of `name` whose labels include `labels` (NaN when there is none). */
async function metric(
  registry: { metrics(): Promise<string> },
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const found = (await registry.metrics())
    .split("\n")
    .find(
      (line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && wanted.every((label) => line.includes(label)),
    );
  return found === undefined ? Number.NaN : Number(found.slice(found.lastIndexOf(" ") + 1));
}

const LANE_202 = { method: "POST", route: "/events", status: "202" };

describe("POST /events fast lane", () => {
  it("answers a valid event itself, as the Hono route does: same status, body shape, headers and message", async () => {
    const { lane, url, publisher, app } = await serve();
    const withId = { ...event, event_id: "0190a5c4-7b2e-7c3d-8e4f-a1b2c3d4e5f6" };
    const res = await post(url, withId);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: "accepted", event_id: withId.event_id });
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-request-id")).toMatch(UUID_V7);
    expect(lane).toEqual({ answered: 1, passedOn: 0, left: 0 });

    const viaHono = await app.request("/events", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(withId),
    });
    expect(viaHono.status).toBe(202);
    expect(publisher.published).toHaveLength(2);
    expect(publisher.published[0]).toEqual(publisher.published[1]);
  });

  it("gives an event without an id a UUIDv7 and echoes a well-formed client request id", async () => {
    const { url, publisher } = await serve();
    const res = await post(url, event, { "x-request-id": "trace-42" });
    const body = (await res.json()) as { event_id: string };
    expect(body.event_id).toMatch(UUID_V7);
    expect(res.headers.get("x-request-id")).toBe("trace-42");
    expect(publisher.values[0]).toMatchObject({ ...event, event_id: body.event_id, received_at: NOW });
  });

  it("records the request as the middleware does: duration by route and status, the event accepted, none in flight", async () => {
    const { url, registry } = await serve();
    await post(url, event);
    await post(url, event);
    expect(await metric(registry, "http_request_duration_seconds_count", LANE_202)).toBe(2);
    expect(await metric(registry, "ingest_events_accepted_total")).toBe(2);
    expect(await metric(registry, "ingest_in_flight_requests")).toBe(0);
  });

  it("passes a body the fast path declines on to Hono with its bytes, which names the errors", async () => {
    const { url, lane, publisher, registry } = await serve();
    const res = await post(url, { ...event, channel: "fax", extra: 1 });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { code: string; details: { path: string }[]; request_id: string } };
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.details.map((d) => d.path).sort()).toEqual(["channel", "extra"]);
    expect(error.request_id).toBe(res.headers.get("x-request-id"));
    expect(lane).toEqual({ answered: 0, passedOn: 1, left: 0 });
    expect(publisher.published).toHaveLength(0);
    expect(await metric(registry, "ingest_events_rejected_total", { reason: "VALIDATION_FAILED" })).toBe(1);
    expect(await metric(registry, "ingest_in_flight_requests")).toBe(0);
  });

  it("passes on malformed JSON and an event the parsed path accepts (with spaces), for the route to decide", async () => {
    const { url, lane, publisher } = await serve();
    expect((await post(url, "{not json")).status).toBe(400);
    const spaced = await post(url, JSON.stringify(event, null, 2));
    expect(spaced.status).toBe(202);
    expect(lane.passedOn).toBe(2);
    expect(publisher.published).toHaveLength(1);
  });

  it.each<[string, Record<string, string>, number]>([
    ["a media type with parameters", { "content-type": "application/json; charset=utf-8" }, 202],
    ["a gzipped body", { "content-encoding": "gzip" }, 202],
    ["another media type", { "content-type": "text/plain" }, 415],
  ])("leaves %s to Hono unread", async (_, headers, status) => {
    const { url, lane } = await serve();
    const body = headers["content-encoding"] === "gzip" ? gzipSync(JSON.stringify(event)) : JSON.stringify(event);
    expect((await post(url, body, headers)).status).toBe(status);
    expect(lane).toEqual({ answered: 0, passedOn: 0, left: 1 });
  });

  it("leaves a body over the limit, a query string and other methods to Hono", async () => {
    const { url, lane } = await serve({ config: { MAX_BODY_BYTES: 100 } });
    const big = await post(url, { ...event, metadata: { pad: "x".repeat(200) } });
    expect(big.status).toBe(413);
    expect(big.headers.get("connection")).toBe("close");
    expect(
      (await fetch(`${url}/events?debug=1`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }))
        .status,
    ).toBe(400);
    expect((await fetch(`${url}/events`)).status).toBe(404);
    expect(lane).toEqual({ answered: 0, passedOn: 0, left: 3 });
  });

  it("answers a failed produce with the 503 envelope and Retry-After, never 202", async () => {
    const { url, publisher, registry } = await serve();
    publisher.failWith = brokerDown();
    const res = await post(url, event);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    const { error } = (await res.json()) as { error: { code: string; request_id: string } };
    expect(error).toMatchObject({ code: "UNAVAILABLE", request_id: res.headers.get("x-request-id") });
    expect(await metric(registry, "ingest_events_rejected_total", { reason: "UNAVAILABLE" })).toBe(1);
    expect(await metric(registry, "http_request_duration_seconds_count", { ...LANE_202, status: "503" })).toBe(1);
  });

  it("answers a fault of the fast path itself with a 500 envelope and keeps serving", async () => {
    const { url, core, registry } = await serve();
    const ingestFast = core.service.ingestFast;
    core.service.ingestFast = () => {
      throw new Error("a bug");
    };
    const res = await post(url, event);
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: { code: "INTERNAL", message: "internal error" } });
    expect(await metric(registry, "ingest_in_flight_requests")).toBe(0);
    core.service.ingestFast = ingestFast;
    expect((await post(url, event)).status).toBe(202);
  });

  it("leaves requests to Hono while draining, which asks clients to close their connections", async () => {
    const { url, lane, readiness } = await serve();
    readiness.startDraining();
    const res = await post(url, event);
    expect(res.status).toBe(202);
    expect(res.headers.get("connection")).toBe("close");
    expect(lane.left).toBe(1);
  });

  it("survives a client that goes away mid-body, and counts nothing in flight after it", async () => {
    const { url, registry, lane } = await serve();
    const { port } = new URL(url);
    await new Promise<void>((resolve) => {
      const socket = connect(Number(port), "127.0.0.1", () => {
        socket.write(
          'POST /events HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"event',
        );
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on("close", () => resolve());
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lane.left).toBe(0);
    expect(await metric(registry, "ingest_in_flight_requests")).toBe(0);
    expect(await metric(registry, "ingest_events_rejected_total", { reason: "BAD_REQUEST" })).toBe(1);
    expect(await metric(registry, "http_request_duration_seconds_count", { ...LANE_202, status: "400" })).toBe(1);
    expect((await post(url, event)).status).toBe(202);
  });

  it("writes the access log line the middleware writes", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    });
    const { url } = await serve({
      logger: createLogger({ name: "ingest", level: "info" }, sink),
      config: { ACCESS_LOG_SAMPLE_RATE: 1 },
    });
    await post(url, event, { "x-request-id": "logged-1" });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: "request", requestId: "logged-1", method: "POST", path: "/events", status: 202 });
    expect(lines[0]?.ms).toBeTypeOf("number");
  });

  it("asks the client to close its connection when draining began while its event was being produced", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const publisher = new FakePublisher();
    const publish = publisher.publish.bind(publisher);
    publisher.publish = async (messages) => {
      await gate;
      return publish(messages);
    };
    const { url, readiness, lane } = await serve({ publisher });
    const answer = post(url, event);
    await new Promise((resolve) => setTimeout(resolve, 50));
    readiness.startDraining();
    release();
    const res = await answer;
    expect(res.status).toBe(202);
    expect(res.headers.get("connection")).toBe("close");
    expect(lane.answered).toBe(1);
  });

  it("reads the first of two Authorization headers, as Hono's middleware does behind the Node adapter", async () => {
    const { url, lane } = await serve({ config: { INGEST_API_KEYS: ["key-a"] } });
    const { port } = new URL(url);
    const send = (body: string) =>
      new Promise<string>((resolve) => {
        let answer = "";
        const socket = connect(Number(port), "127.0.0.1", () =>
          socket.write(
            `POST /events HTTP/1.1\r\nHost: ingest\r\nConnection: close\r\nAuthorization: Bearer key-a\r\nAuthorization: Bearer other\r\n` +
              `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
          ),
        );
        socket.on("data", (chunk) => {
          answer += String(chunk);
        });
        socket.on("close", () => resolve(answer));
      });
    expect((await send(JSON.stringify(event))).startsWith("HTTP/1.1 202")).toBe(true);
    // A body the lane passes on meets the same key in Hono: the event's own error, not a 401.
    expect((await send(JSON.stringify({ ...event, channel: "fax" }))).startsWith("HTTP/1.1 400")).toBe(true);
    expect(lane).toEqual({ answered: 1, passedOn: 1, left: 0 });
  });
});

describe("POST /events fast lane with keys and a rate limit", () => {
  const keys = { INGEST_API_KEYS: ["key-a", "key-b"] };

  it("answers a request with a valid key itself, by either header, and leaves the others to Hono's 401", async () => {
    const { url, lane } = await serve({ config: keys });
    expect((await post(url, event, { authorization: "Bearer key-b" })).status).toBe(202);
    expect((await post(url, event, { "x-api-key": "key-a" })).status).toBe(202);
    expect((await post(url, event, { authorization: "Bearer nope" })).status).toBe(401);
    expect((await post(url, event)).status).toBe(401);
    expect(lane).toEqual({ answered: 2, passedOn: 0, left: 2 });
  });

  it("charges a key's bucket once per request, also for a body it passes on", async () => {
    const { url, lane } = await serve({ config: { ...keys, RATE_LIMIT_PER_SEC: 0.001, RATE_LIMIT_BURST: 2 } });
    const auth = { "x-api-key": "key-a" };
    expect((await post(url, { ...event, channel: "fax" }, auth)).status).toBe(400);
    expect((await post(url, event, auth)).status).toBe(202);
    const limited = await post(url, event, auth);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another key has its own bucket.
    expect((await post(url, event, { "x-api-key": "key-b" })).status).toBe(202);
    expect(lane).toEqual({ answered: 2, passedOn: 1, left: 1 });
  });
});

describe("POST /events fast lane against the Hono route, property-based", () => {
  const timestamp = mostly(
    fc.integer({ min: NOW - 86_400_000, max: NOW + 60_000 }),
    fc.oneof(fc.integer({ min: NOW, max: NOW + 86_400_000 }), fc.constant(new Date(NOW).toISOString()), fc.constant("yesterday")),
  );
  const required = fc.record({ event_name: bounded(0, LIMITS.eventName), user_id: bounded(0, LIMITS.userId), timestamp });
  const optional = fc.record({ event_id: eventId, ...optionalFields }, { requiredKeys: [] });
  const event = shuffledObject([required, optional], ["event_name", "user_id", "timestamp"]);

  /** What a client and the broker see of an answer, but for the ids generated on each side. */
  async function seen(res: Response, published: { key: string; value: string }[]) {
    const body = (await res.json()) as { event_id?: string; error?: { code: string; details: unknown[]; request_id: string } };
    expect(res.headers.get("x-request-id")).toBe(body.error?.request_id ?? res.headers.get("x-request-id"));
    const message = published.at(-1);
    return {
      status: res.status,
      error: body.error && { code: body.error.code, details: body.error.details },
      given: body.event_id === undefined ? undefined : body.event_id.length,
      message: message && { key: message.key, value: { ...JSON.parse(message.value), event_id: undefined } },
      published: published.length,
    };
  }

  it("answers every event, valid or not, exactly as the route: status, errors, message", async () => {
    const viaLane = await serve();
    const viaHono = buildTestApp({ now });
    await fc.assert(
      fc.asyncProperty(event, async (body) => {
        const text = JSON.stringify(body);
        const lane = await seen(await post(viaLane.url, text), viaLane.publisher.published);
        const hono = await seen(
          await viaHono.app.request("/events", { method: "POST", headers: { "content-type": "application/json" }, body: text }),
          viaHono.publisher.published,
        );
        expect(lane).toEqual(hono);
      }),
      { seed: 20_261_124, numRuns: 150 },
    );
    expect(viaLane.lane.answered + viaLane.lane.passedOn).toBe(150);
    expect(viaLane.lane.answered).toBeGreaterThan(10);
    expect(viaLane.lane.passedOn).toBeGreaterThan(10);
  });
});
