import { gzipSync } from "node:zlib";
import { LIMITS } from "@sluice/events";
import { ERROR_STATUS } from "@sluice/http";
import { failOnUnhandledRejections } from "@sluice/testing";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { buildTestApp } from "./testing/fakes";

// Seeded so a failure reproduces: fast-check prints the seed and the shrunk counterexample.
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_122);
const RUNS = Number(process.env.FUZZ_RUNS ?? 6000);
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const KEY = "fuzz-key-0123456789";

failOnUnhandledRejections(afterAll, (reasons) => expect(reasons).toEqual([]));

const text = (maxLength: number) => fc.string({ unit: "binary", maxLength });

/** Values of every JSON type, including the edges: huge and tiny numbers, lone surrogates, long strings. */
const edgyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    Number.MAX_SAFE_INTEGER + 2,
    -Number.MAX_VALUE,
    Number.MAX_VALUE,
    5e-324,
    -0,
    1e21,
    "\ud800",
    "\udfff\ud800",
    "",
    null,
    [],
    {},
    "2026-11-22T12:00:00Z",
    "1e999",
  ),
  text(40),
  fc
    .integer({ min: 0, max: 3 })
    .chain((d) =>
      fc.constantFrom(LIMITS.eventName, LIMITS.userId, LIMITS.propertyStringLength).map((n) => "x".repeat(n + d - 1)),
    ),
);

const FIELDS = [
  "event_id",
  "event_name",
  "user_id",
  "timestamp",
  "channel",
  "campaign_id",
  "session_id",
  "anonymous_id",
  "tags",
  "metadata",
  "user_properties",
  "device",
  "app",
  "items",
  "sent_at",
];

/** An event that is valid, then has fields dropped, replaced by anything, or added. */
const mutatedEvent = fc
  .record({
    drop: fc.subarray(FIELDS, { maxLength: 3 }),
    replace: fc.dictionary(fc.constantFrom(...FIELDS), edgyValue, { maxKeys: 3 }),
    extra: fc.dictionary(text(12), edgyValue, { maxKeys: 2 }),
    metadata: fc.dictionary(text(20), edgyValue, { maxKeys: 6 }),
  })
  .map(({ drop, replace, extra, metadata }) => {
    const event: Record<string, unknown> = {
      event_id: "0190a0b0-0000-7000-8000-000000000001",
      event_name: "signup",
      user_id: "u1",
      timestamp: NOW - 1000,
      channel: "web",
      metadata,
    };
    for (const field of drop) delete event[field];
    return { ...event, ...replace, ...extra };
  });

const deepNesting = fc
  .record({ depth: fc.integer({ min: 10, max: 20_000 }), open: fc.constantFrom("[", '{"a":') })
  .map(({ depth, open }) => {
    const close = open === "[" ? "]" : "}";
    return `{"event_name":"e","user_id":"u","timestamp":${NOW},"metadata":{"k":${open.repeat(depth)}1${close.repeat(depth)}}}`;
  });

const jsonBody = fc.oneof(
  { weight: 4, arbitrary: mutatedEvent.map((e) => JSON.stringify(e)) },
  { weight: 2, arbitrary: fc.array(mutatedEvent, { maxLength: 5 }).map((events) => JSON.stringify({ events })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: deepNesting },
  {
    weight: 1,
    arbitrary: fc.constantFrom(1000, 1001).map((n) => JSON.stringify({ events: Array.from({ length: n }, () => ({})) })),
  },
);

/** Bodies as sent: JSON (valid or not), truncated JSON, random text, random bytes, invalid UTF-8, gzip. */
const body = fc.oneof(
  { weight: 6, arbitrary: jsonBody.map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.tuple(jsonBody, fc.nat()).map(([s, cut]) => Buffer.from(s.slice(0, cut % (s.length + 1)))) },
  { weight: 1, arbitrary: text(200).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.nat(100))
      .map(([bad, at]) =>
        Buffer.concat([
          Buffer.from(`{"event_name":"e${"x".repeat(at)}`),
          bad.map((b) => b | 0x80),
          Buffer.from(`","user_id":"u","timestamp":${NOW}}`),
        ]),
      ),
  },
);

const headerValue = fc.oneof(
  fc.string({ maxLength: 300 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s)),
  fc.constantFrom("", " ", "Bearer", "Bearer ", `Bearer ${KEY}`, `bearer   ${KEY}`, `Basic ${KEY}`, "x".repeat(8192)),
);

const request = fc.record({
  method: fc.constantFrom("POST", "POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH"),
  path: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom("/events", "/events/batch", "/events/bulk") },
    { weight: 1, arbitrary: fc.webPath().map((p) => `/events/${p.replace(/^\/+/, "")}`) },
  ),
  body,
  gzip: fc.boolean(),
  contentType: fc.option(
    fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/vnd.sluice+json",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/json;;; q=x",
      ";",
    ),
    { nil: undefined, freq: 8 },
  ),
  contentEncoding: fc.option(fc.constantFrom("gzip", "x-gzip", "identity", "br", "deflate", "gzip, gzip", ""), {
    nil: undefined,
    freq: 3,
  }),
  authorization: fc.option(headerValue, { nil: undefined, freq: 3 }),
  apiKey: fc.option(fc.oneof({ weight: 4, arbitrary: fc.constant(KEY) }, { weight: 1, arbitrary: headerValue }), {
    nil: undefined,
    freq: 4,
  }),
  requestId: fc.option(headerValue, { nil: undefined, freq: 3 }),
});

type Envelope = { error: { code: keyof typeof ERROR_STATUS; message: string; details: unknown[]; request_id: string } };

/** The contract every answer must keep, whatever came in. */
async function expectContract(res: Response): Promise<void> {
  expect(res.status).toBeLessThan(500);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const requestId = res.headers.get("x-request-id");
  expect(requestId).toMatch(/.+/);
  const json = (await res.json()) as Envelope & { status?: string };
  if (res.status >= 400) {
    expect(Object.keys(json)).toEqual(["error"]);
    expect(ERROR_STATUS[json.error.code]).toBe(res.status);
    expect(typeof json.error.message).toBe("string");
    expect(Array.isArray(json.error.details)).toBe(true);
    expect(json.error.request_id).toBe(requestId);
  } else {
    expect(["accepted", "partial"]).toContain(json.status);
  }
}

describe("ingest fuzzing", () => {
  // Keys and a generous rate limit are on, so auth and the limiter are inside the fuzzed surface.
  const { app } = buildTestApp({
    now: () => NOW,
    config: { INGEST_API_KEYS: [KEY], RATE_LIMIT_PER_SEC: 1e9, MAX_BODY_BYTES: 64 * 1024, MAX_BATCH_BODY_BYTES: 256 * 1024 },
  });

  it(`never answers 5xx or throws, always with the error envelope (${RUNS} inputs, seed ${SEED})`, {
    timeout: 120_000,
  }, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const headers = new Headers();
        if (input.contentType !== undefined) headers.set("content-type", input.contentType);
        if (input.contentEncoding !== undefined) headers.set("content-encoding", input.contentEncoding);
        if (input.authorization !== undefined) headers.set("authorization", input.authorization);
        if (input.apiKey !== undefined) headers.set("x-api-key", input.apiKey);
        if (input.requestId !== undefined) headers.set("x-request-id", input.requestId);
        const payload = input.gzip ? gzipSync(input.body) : input.body;
        const hasBody = input.method !== "GET";
        const res = await app.request(`http://ingest${input.path}`, {
          method: input.method,
          headers,
          ...(hasBody ? { body: new Uint8Array(payload) } : {}),
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        await expectContract(res);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // The generators reach past the outer checks: accepted events, validation, auth, media type and size errors.
    for (const status of [202, 400, 401, 404, 413, 415]) expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
  });
});
