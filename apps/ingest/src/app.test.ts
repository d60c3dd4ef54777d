import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { brokerDown, buildTestApp, FakePublisher } from "./testing/fakes";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const now = () => NOW;
const event = { event_name: "signup", user_id: "u1", timestamp: NOW - 1000 };
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

type Envelope = { error: { code: string; message: string; details: { path: string; message: string }[]; request_id: string } };

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const payload = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
  return new Request(`http://ingest${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: payload as string,
  });
}

async function expectError(res: Response, status: number, code: string): Promise<Envelope["error"]> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as Envelope;
  expect(body.error.code).toBe(code);
  expect(body.error.request_id).toBe(res.headers.get("x-request-id"));
  expect(body.error.request_id).toMatch(/.+/);
  return body.error;
}

describe("health and readiness", () => {
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

  it("keeps answering events while draining, asking clients to close their connections", async () => {
    const { app, readiness } = buildTestApp({ now });
    readiness.startDraining();
    const res = await app.request(post("/events", event));
    expect(res.status).toBe(202);
    expect(res.headers.get("connection")).toBe("close");
  });

  it("answers /ready with 503 naming kafka when the broker check fails", async () => {
    const { app, readiness } = buildTestApp();
    readiness.register("kafka", () => ({ ok: false, detail: "connection refused" }));
    const res = await app.request("/ready");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ failed: ["kafka"] });
  });

  it("answers unknown routes with the error envelope", async () => {
    await expectError(await buildTestApp().app.request("/nope"), 404, "NOT_FOUND");
  });
});

describe("POST /events", () => {
  it("202: produces the validated event keyed by user_id with received_at", async () => {
    const { app, publisher } = buildTestApp({ now });
    const eventId = "0190a0b0-0000-7000-8000-000000000001";
    const res = await app.request(post("/events", { ...event, event_id: eventId, metadata: { plan: "pro", seats: 3 } }));
    expect(res.status).toBe(202);
    expect(res.headers.get("x-request-id")).toMatch(/.+/);
    expect(await res.json()).toEqual({ status: "accepted", event_id: eventId });
    expect(publisher.published).toHaveLength(1);
    expect(publisher.published[0]?.key).toBe("u1");
    expect(publisher.values[0]).toEqual({ ...event, event_id: eventId, metadata: { plan: "pro", seats: 3 }, received_at: NOW });
  });

  it("202: assigns a UUIDv7 when event_id is missing and accepts ISO-8601 timestamps", async () => {
    const { app, publisher } = buildTestApp({ now });
    const res = await app.request(post("/events", { ...event, timestamp: "2026-11-22T11:59:00Z" }));
    expect(res.status).toBe(202);
    const { event_id } = (await res.json()) as { event_id: string };
    expect(event_id).toMatch(UUID_V7);
    expect(publisher.values[0]).toMatchObject({ event_id, timestamp: NOW - 60_000 });
  });

  it("202: accepts a gzip-encoded body", async () => {
    const { app, publisher } = buildTestApp({ now });
    const res = await app.request(post("/events", gzipSync(JSON.stringify(event)), { "content-encoding": "gzip" }));
    expect(res.status).toBe(202);
    expect(publisher.published).toHaveLength(1);
  });

  it("400 INVALID_JSON for malformed or empty bodies", async () => {
    const { app, publisher } = buildTestApp();
    await expectError(await app.request(post("/events", '{"event_name":')), 400, "INVALID_JSON");
    await expectError(await app.request(post("/events", "")), 400, "INVALID_JSON");
    expect(publisher.published).toHaveLength(0);
  });

  it("400 for a body that claims gzip but is not", async () => {
    const res = await buildTestApp().app.request(post("/events", JSON.stringify(event), { "content-encoding": "gzip" }));
    const error = await expectError(res, 400, "BAD_REQUEST");
    expect(error.message).toContain("gzip");
  });

  it("400 VALIDATION_FAILED naming unknown and invalid fields", async () => {
    const { app, publisher } = buildTestApp({ now });
    const unknown = await expectError(await app.request(post("/events", { ...event, colour: "red" })), 400, "VALIDATION_FAILED");
    expect(unknown.details).toEqual([{ path: "colour", message: "unknown field" }]);
    const missing = await expectError(
      await app.request(post("/events", { user_id: "u1", timestamp: NOW })),
      400,
      "VALIDATION_FAILED",
    );
    expect(missing.details.map((d) => d.path)).toEqual(["event_name"]);
    const notObject = await expectError(await app.request(post("/events", [event])), 400, "VALIDATION_FAILED");
    expect(notObject.details[0]?.path).toBe("(body)");
    expect(publisher.published).toHaveLength(0);
  });

  it("400 when the timestamp is too far in the future", async () => {
    const { app } = buildTestApp({ now, config: { MAX_FUTURE_SKEW_MS: 60_000 } });
    expect((await app.request(post("/events", { ...event, timestamp: NOW + 60_000 }))).status).toBe(202);
    const error = await expectError(
      await app.request(post("/events", { ...event, timestamp: NOW + 60_001 })),
      400,
      "VALIDATION_FAILED",
    );
    expect(error.details[0]?.path).toBe("timestamp");
  });

  it("413 for a body over the limit, by content-length or while reading", async () => {
    const { app, publisher } = buildTestApp({ config: { MAX_BODY_BYTES: 200 } });
    const big = { ...event, metadata: { blob: "x".repeat(500) } };
    await expectError(await app.request(post("/events", big)), 413, "PAYLOAD_TOO_LARGE");
    // Without a content-length the limit is enforced on the streamed bytes.
    const streamed = new Request("http://ingest/events", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 10; i += 1) controller.enqueue(new TextEncoder().encode(" ".repeat(100)));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    const cut = await app.request(streamed);
    await expectError(cut, 413, "PAYLOAD_TOO_LARGE");
    expect(cut.headers.get("connection")).toBe("close");
    expect(publisher.published).toHaveLength(0);
  });

  it("413 for a gzip bomb: the limit applies to the decompressed bytes", async () => {
    const { app } = buildTestApp({ config: { MAX_BODY_BYTES: 64 * 1024 } });
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, " "));
    expect(bomb.length).toBeLessThan(64 * 1024);
    await expectError(await app.request(post("/events", bomb, { "content-encoding": "gzip" })), 413, "PAYLOAD_TOO_LARGE");
  });

  it("413 when one event serializes beyond the Kafka message limit", async () => {
    const { app } = buildTestApp({ config: { MAX_MESSAGE_BYTES: 300 } });
    const error = await expectError(
      await app.request(post("/events", { ...event, metadata: { note: "y".repeat(400) } })),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    expect(error.message).toContain("300");
  });

  it("415 for non-JSON content types and unknown encodings", async () => {
    const { app } = buildTestApp({ now });
    await expectError(await app.request(post("/events", event, { "content-type": "text/plain" })), 415, "UNSUPPORTED_MEDIA_TYPE");
    const noType = new Request("http://ingest/events", { method: "POST", body: JSON.stringify(event) });
    noType.headers.delete("content-type");
    await expectError(await app.request(noType), 415, "UNSUPPORTED_MEDIA_TYPE");
    await expectError(await app.request(post("/events", event, { "content-encoding": "br" })), 415, "UNSUPPORTED_MEDIA_TYPE");
    expect((await app.request(post("/events", event, { "content-type": "application/json; charset=utf-8" }))).status).toBe(202);
  });

  it("422 naming the metadata keys a known campaign requires", async () => {
    const campaigns = { requiredMetadata: (id: string) => (id === "spring" ? ["coupon", "source"] : undefined) };
    const { app, publisher } = buildTestApp({ now, campaigns });
    const error = await expectError(
      await app.request(post("/events", { ...event, campaign_id: "spring", metadata: { source: "mail" } })),
      422,
      "CAMPAIGN_REQUIREMENTS_UNMET",
    );
    expect(error.details).toEqual([{ path: "metadata.coupon", message: "required by campaign spring" }]);
    expect(error.message).toContain("coupon");
    const ok = await app.request(post("/events", { ...event, campaign_id: "spring", metadata: { source: "mail", coupon: "X" } }));
    expect(ok.status).toBe(202);
    expect((await app.request(post("/events", { ...event, campaign_id: "unknown" }))).status).toBe(202);
    expect(publisher.published).toHaveLength(2);
  });

  it("503 with Retry-After when the broker does not acknowledge; never 202", async () => {
    const publisher = new FakePublisher();
    publisher.failWith = brokerDown();
    const { app } = buildTestApp({ now, publisher });
    const res = await app.request(post("/events", event));
    await expectError(res, 503, "UNAVAILABLE");
    expect(res.headers.get("retry-after")).toBe("5");
  });
});

describe("authentication and rate limiting", () => {
  const config = { INGEST_API_KEYS: ["k-one", "k-two"] };

  it("401 without a key or with an unknown key; 202 with Bearer or x-api-key", async () => {
    const { app, publisher } = buildTestApp({ now, config });
    await expectError(await app.request(post("/events", event)), 401, "UNAUTHORIZED");
    await expectError(await app.request(post("/events", event, { authorization: "Bearer nope" })), 401, "UNAUTHORIZED");
    await expectError(
      await app.request(post("/events/batch", { events: [event] }, { "x-api-key": "k-on" })),
      401,
      "UNAUTHORIZED",
    );
    expect((await app.request(post("/events", event, { authorization: "Bearer k-one" }))).status).toBe(202);
    expect((await app.request(post("/events", event, { "x-api-key": "k-two" }))).status).toBe(202);
    expect(publisher.published).toHaveLength(2);
  });

  it("leaves health, readiness and docs open", async () => {
    const { app } = buildTestApp({ config });
    expect((await app.request("/health")).status).toBe(200);
    expect((await app.request("/openapi.json")).status).toBe(200);
  });

  it("is open when no keys are configured", async () => {
    expect((await buildTestApp({ now }).app.request(post("/events", event))).status).toBe(202);
  });

  it("429 with Retry-After per key once its bucket is empty", async () => {
    const { app } = buildTestApp({ now, config: { ...config, RATE_LIMIT_PER_SEC: 0.5, RATE_LIMIT_BURST: 2 } });
    const one = { authorization: "Bearer k-one" };
    expect((await app.request(post("/events", event, one))).status).toBe(202);
    expect((await app.request(post("/events", event, one))).status).toBe(202);
    const limited = await app.request(post("/events", event, one));
    await expectError(limited, 429, "RATE_LIMITED");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await app.request(post("/events", event, { authorization: "Bearer k-two" }))).status).toBe(202);
  });
});

describe("POST /events/batch", () => {
  it("202 when every event is accepted, with their ids in order and sent_at carried", async () => {
    const { app, publisher } = buildTestApp({ now });
    const events = [event, { ...event, user_id: "u2", event_id: "0190a0b0-0000-7000-8000-000000000002" }];
    const res = await app.request(post("/events/batch", { events, sent_at: NOW - 5 }));
    expect(res.status).toBe(202);
    const body = (await res.json()) as { status: string; accepted: number; event_ids: string[] };
    expect(body).toMatchObject({ status: "accepted", accepted: 2 });
    expect(body.event_ids[1]).toBe("0190a0b0-0000-7000-8000-000000000002");
    expect(publisher.published.map((m) => m.key)).toEqual(["u1", "u2"]);
    expect(publisher.values.map((v) => v.event_id)).toEqual(body.event_ids);
    expect(publisher.values[0]).toMatchObject({ received_at: NOW, sent_at: NOW - 5 });
  });

  it("207 with per-index errors when some fail; only the valid ones are produced", async () => {
    const { app, publisher } = buildTestApp({ now });
    const events = [event, { ...event, user_id: "" }, { ...event, user_id: "u3" }, { ...event, extra: 1 }];
    const res = await app.request(post("/events/batch", { events }));
    expect(res.status).toBe(207);
    const body = (await res.json()) as {
      status: string;
      accepted: number;
      event_ids: (string | null)[];
      rejected: { index: number; error: { code: string; details: { path: string }[] } }[];
    };
    expect(body.status).toBe("partial");
    expect(body.accepted).toBe(2);
    expect(body.rejected.map((r) => [r.index, r.error.code, r.error.details[0]?.path])).toEqual([
      [1, "VALIDATION_FAILED", "user_id"],
      [3, "VALIDATION_FAILED", "extra"],
    ]);
    expect(body.event_ids.map((id) => id === null)).toEqual([false, true, false, true]);
    expect(publisher.published.map((m) => m.key)).toEqual(["u1", "u3"]);
  });

  it("400 when every event is invalid, naming each by index", async () => {
    const { app, publisher } = buildTestApp({ now });
    const res = await app.request(
      post("/events/batch", {
        events: [
          { ...event, user_id: 7 },
          { ...event, channel: "fax" },
        ],
      }),
    );
    const error = await expectError(res, 400, "VALIDATION_FAILED");
    expect(error.details.map((d) => d.path)).toEqual(["events.0.user_id", "events.1.channel"]);
    expect(publisher.published).toHaveLength(0);
  });

  it("400 for an invalid envelope, including more than 1000 events", async () => {
    const { app } = buildTestApp({ now });
    const tooMany = await expectError(
      await app.request(post("/events/batch", { events: Array.from({ length: 1001 }, () => event) })),
      400,
      "VALIDATION_FAILED",
    );
    expect(tooMany.details[0]?.path).toBe("events");
    const empty = await expectError(await app.request(post("/events/batch", { events: [] })), 400, "VALIDATION_FAILED");
    expect(empty.details[0]?.path).toBe("events");
    const extra = await expectError(
      await app.request(post("/events/batch", { events: [event], batch: 1 })),
      400,
      "VALIDATION_FAILED",
    );
    expect(extra.details).toEqual([{ path: "batch", message: "unknown field" }]);
    await expectError(await app.request(post("/events/batch", [event])), 400, "VALIDATION_FAILED");
  });

  it("accepts exactly 1000 events and answers on the /events/bulk alias", async () => {
    const { app, publisher } = buildTestApp({ now });
    const res = await app.request(post("/events/bulk", { events: Array.from({ length: 1000 }, () => event) }));
    expect(res.status).toBe(202);
    expect(publisher.published).toHaveLength(1000);
  });

  it("413 past the batch body limit, 415 for non-JSON, 503 when the broker does not acknowledge", async () => {
    const publisher = new FakePublisher();
    const { app } = buildTestApp({ now, publisher, config: { MAX_BATCH_BODY_BYTES: 1000 } });
    await expectError(
      await app.request(post("/events/batch", { events: Array.from({ length: 20 }, () => event) })),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    await expectError(
      await app.request(post("/events/batch", "x", { "content-type": "text/csv" })),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
    publisher.failWith = brokerDown();
    const res = await app.request(post("/events/batch", { events: [event] }));
    await expectError(res, 503, "UNAVAILABLE");
    expect(res.headers.get("retry-after")).toBe("5");
  });

  it("counts accepted and rejected events by reason", async () => {
    const { app, registry } = buildTestApp({ now });
    await app.request(post("/events/batch", { events: [event, { ...event, user_id: "" }] }));
    await app.request(post("/events", "{", {}));
    const text = await registry.metrics();
    expect(text).toMatch(/ingest_events_accepted_total\{[^}]*\} 1/);
    expect(text).toMatch(/ingest_events_rejected_total\{reason="VALIDATION_FAILED"[^}]*\} 1/);
    expect(text).toMatch(/ingest_events_rejected_total\{reason="INVALID_JSON"[^}]*\} 1/);
    expect(text).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/events\/batch",status="207"/);
  });
});

describe("the byte-level fast path", () => {
  it("publishes exactly what the parsed path publishes for the same events", async () => {
    const rich = {
      event_id: "0190A0B0-0000-7000-8000-0000000000AB",
      event_name: "purchase",
      user_id: "u9",
      timestamp: "2026-11-22T11:59:00.000Z",
      channel: "web",
      campaign_id: "c1",
      tags: ["a", "b"],
      metadata: { plan: "pro", amount: 12.5, trial: false },
      device: { os: "iOS" },
    };
    const bodies = [
      { path: "/events", body: rich },
      {
        path: "/events/batch",
        body: { sent_at: NOW - 9, events: [rich, { ...event, event_id: "0190a0b0-0000-7000-8000-000000000001" }] },
      },
    ];
    for (const { path, body } of bodies) {
      const compact = buildTestApp({ now });
      const spaced = buildTestApp({ now });
      // Whitespace sends a body down the parsed path (JSON.parse, the validator, JSON.stringify).
      const a = await compact.app.request(post(path, JSON.stringify(body)));
      const b = await spaced.app.request(post(path, JSON.stringify(body, null, 2)));
      expect(a.status).toBe(202);
      expect(await a.json()).toEqual(await b.json());
      expect(compact.publisher.published).toEqual(spaced.publisher.published);
    }
  });
});

describe("requests in flight", () => {
  it("are reported when the registry is scraped, and drop back once answered", async () => {
    const publisher = new FakePublisher();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let waiting = 0;
    publisher.publish = async (messages) => {
      waiting += 1;
      await gate;
      await FakePublisher.prototype.publish.call(publisher, messages);
    };
    const { app, registry } = buildTestApp({ now, publisher });
    const answers = [app.request(post("/events", event)), app.request(post("/events/batch", { events: [event] }))];
    for (let i = 0; i < 100 && waiting < 2; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await registry.metrics()).toMatch(/^ingest_in_flight_requests\{[^}]*\} 2$/m);
    release();
    expect((await Promise.all(answers)).map((res) => res.status)).toEqual([202, 202]);
    expect(await registry.metrics()).toMatch(/^ingest_in_flight_requests\{[^}]*\} 0$/m);
  });
});

describe("OpenAPI", () => {
  it("serves a document generated from the event schema, and Swagger UI", async () => {
    const { app } = buildTestApp();
    const doc = (await (await app.request("/openapi.json")).json()) as {
      paths: Record<string, { post: { requestBody: { content: Record<string, { schema: { properties: object } }> } } }>;
    };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/events", "/events/batch", "/events/bulk"]));
    const schema = doc.paths["/events"]?.post.requestBody.content["application/json"]?.schema;
    expect(Object.keys(schema?.properties ?? {})).toEqual(
      expect.arrayContaining(["event_name", "user_id", "timestamp", "items"]),
    );
    const ui = await app.request("/docs");
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain("/openapi.json");
  });
});
