import { ERROR_STATUS } from "@sluice/http";
import { failOnUnhandledRejections } from "@sluice/testing";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { buildTestApp, fakeClickHouse } from "./testing";

// Seeded so a failure reproduces: fast-check prints the seed and the shrunk counterexample.
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_122);
const RUNS = Number(process.env.FUZZ_RUNS ?? 5000);
const READ_KEY = "fuzz-read-key";
const ADMIN_KEY = "fuzz-admin-key";

failOnUnhandledRejections(afterAll, (reasons) => expect(reasons).toEqual([]));

/** Values a hostile or careless client puts in a parameter. */
const value = fc.oneof(
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.constantFrom(
    "",
    "'",
    "\\",
    "' OR 1=1 --",
    "1e999",
    "-1",
    "0",
    "9".repeat(40),
    "NaN",
    "Infinity",
    "2026-01-01T00:00:00Z",
    "2026-13-45T99:99:99Z",
    "1700000000",
    "-62135596800",
    "\ud800",
    "%",
    "a".repeat(129),
    "a".repeat(257),
    "x".repeat(5000),
  ),
  fc.integer().map(String),
  fc.double().map(String),
);

/** Every byte of the UTF-8 form percent-encoded (lone surrogates become U+FFFD, as a browser would send them). */
const percentEncode = (text: string) => [...Buffer.from(text, "utf8")].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
/** Escapes that do not decode to UTF-8, or do not decode at all. */
const invalidEscapes = fc.constantFrom("%ff%fe", "%c3%28", "%", "%zz", "%e2%82", "a%00b", "..%2f..%2fetc%2fpasswd");

const OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "like", "between", "in", "nope", ""];
const where = fc.oneof(
  fc.tuple(fc.string({ maxLength: 20 }), fc.constantFrom(...OPS), value).map(([k, op, v]) => `${k}:${op}:${v}`),
  fc
    .tuple(
      fc.constantFrom("plan", "amount"),
      fc.constantFrom("between", "in"),
      fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.double().map(String)), { maxLength: 120 }),
    )
    .map(([k, op, vs]) => `${k}:${op}:${vs.join(op === "in" ? "|" : ",")}`),
  value,
);

const PARAMS = ["event_name", "user_id", "campaign_id", "from", "to", "group_by", "match", "limit", "cursor", "refresh"];
const query = fc
  .record({
    params: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PARAMS), fc.string({ maxLength: 8 })), value), { maxLength: 6 }),
    wheres: fc.array(where, { maxLength: 24 }),
    groupBy: fc.option(fc.constantFrom("hour", "day", "channel", "campaign", "week"), { nil: undefined }),
  })
  .map(({ params, wheres, groupBy }) => {
    const search = new URLSearchParams();
    for (const [k, v] of params) search.append(k, v);
    for (const w of wheres) search.append("where", w);
    if (groupBy !== undefined) search.set("group_by", groupBy);
    return search.toString();
  });

const campaignBody = fc.oneof(
  fc
    .record({
      campaign_id: value,
      name: value,
      required_metadata: fc.oneof(fc.array(value, { maxLength: 70 }), value),
    })
    .map((b) => JSON.stringify(b)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.string({ unit: "binary", maxLength: 100 }),
);

const headerValue = fc.string({ maxLength: 200 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s));
const credentials = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ authorization: `Bearer ${READ_KEY}` }) },
  { weight: 2, arbitrary: fc.constant({ "x-api-key": ADMIN_KEY }) },
  { weight: 1, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: headerValue.map((v) => ({ authorization: v })) },
  { weight: 1, arbitrary: headerValue.map((v) => ({ "x-api-key": v })) },
);

const request = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      method: fc.constant("GET"),
      path: fc.constantFrom("/metrics", "/events", "/overview", "/campaigns"),
      query,
      credentials,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      method: fc.constant("GET"),
      path: fc
        .tuple(fc.constantFrom("events", "campaigns"), fc.oneof(value.map(percentEncode), fc.webSegment(), invalidEscapes))
        .map(([route, id]) => `/${route}/${id}`),
      query: fc.constant(""),
      credentials,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      method: fc.constantFrom("POST", "PUT", "DELETE"),
      path: fc.constantFrom("/campaigns", "/metrics", "/events"),
      query: fc.constant(""),
      credentials,
      body: campaignBody,
      contentType: fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded"),
    }),
  },
);

type Envelope = { error: { code: keyof typeof ERROR_STATUS; message: string; details: unknown[]; request_id: string } };

// The fake records every SQL text it is sent; an empty answer is valid for every query the app makes.
const db = fakeClickHouse();

describe("query fuzzing", () => {
  const { app } = buildTestApp({ db, apiKeys: [READ_KEY], adminApiKeys: [ADMIN_KEY], now: () => Date.UTC(2026, 10, 22, 12) });

  it(`never answers 5xx or throws, always with the error envelope (${RUNS} inputs, seed ${SEED})`, {
    timeout: 120_000,
  }, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const headers = new Headers(input.credentials);
        const init: RequestInit = { method: input.method, headers };
        if ("body" in input) {
          headers.set("content-type", input.contentType);
          init.body = input.body;
        }
        const res = await app.request(`http://query${input.path}${input.query ? `?${input.query}` : ""}`, init);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, `${input.method} ${input.path}?${input.query}`).toBeLessThan(500);
        expect(res.headers.get("content-type")).toMatch(/^application\/json/);
        const requestId = res.headers.get("x-request-id");
        expect(requestId).toMatch(/.+/);
        const json = (await res.json()) as Envelope;
        if (res.status >= 400) {
          expect(Object.keys(json)).toEqual(["error"]);
          expect(ERROR_STATUS[json.error.code]).toBe(res.status);
          expect(typeof json.error.message).toBe("string");
          expect(Array.isArray(json.error.details)).toBe(true);
          expect(json.error.request_id).toBe(requestId);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    for (const status of [200, 400, 401, 403, 404]) expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
  });
});
