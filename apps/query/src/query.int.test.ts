import { type EventRow, fromEventRow, raw, sql, toEventRow } from "@sluice/clickhouse";
import type { EventMessage } from "@sluice/events";
import { createTestDatabase, type TestDatabase } from "@sluice/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP_BY } from "./queries/metrics";
import { buildTestApp } from "./testing";

const H = 3_600_000;
const T = Date.UTC(2026, 0, 10, 0, 0, 0);
const F = T + 5 * H;
const G = T + 10 * H;
const HOSTILE = "it's \\ -- /* */ ' UNION SELECT 1; DROP TABLE events";
const UNICODE = "ünïcødé 🚀";

const uuid = (n: number) => `0190a0b0-0000-7000-8000-${n.toString(16).padStart(12, "0")}`;

function seedMessages(): EventMessage[] {
  const messages: EventMessage[] = [];
  for (let i = 0; i < 240; i++) {
    const channel = (["web", "mobile", "api", undefined, "email"] as const)[i % 5];
    const campaign = [undefined, "spring", "fall", undefined][i % 4];
    const metadata: Record<string, string | number | boolean> = {
      plan: ["free", "pro", "team"][(i >> 1) % 3] ?? "free",
      amount: (i % 50) * 1.5,
      seats: i % 7,
      trial: i % 2 === 0,
      ref: `ref-${i}`,
      code: i % 6 === 0 ? 42 : i % 6 === 3 ? "42" : "x",
    };
    if (i % 11 === 0) delete metadata.amount;
    if (i === 5) metadata.plan = HOSTILE;
    if (i === 6) metadata.plan = UNICODE;
    messages.push({
      event_id: uuid(1000 + ((i * 7919) % 240)),
      event_name: ["page_view", "purchase", "signup"][i % 3] ?? "page_view",
      user_id: `u${i % 37}`,
      // Triples share a timestamp, so pagination must break ties by event_id.
      timestamp: T + Math.floor(i / 3) * 1_800_000 + (i >= 120 ? 7 : 0),
      ...(channel ? { channel } : {}),
      ...(campaign ? { campaign_id: campaign } : {}),
      metadata,
      received_at: T,
    });
  }
  [F - 1, F, G - 1, G].forEach((timestamp, i) => {
    messages.push({ event_id: uuid(9000 + i), event_name: "edge", user_id: `e${i}`, timestamp, received_at: T });
  });
  // Recent events relative to the real clock, one per search window (and one slightly in the future).
  const now = Date.now();
  [-60_000, 600_000, 2 * H, 3 * 24 * H, 20 * 24 * H, 100 * 24 * H, 400 * 24 * H].forEach((age, i) => {
    messages.push({ event_id: uuid(8000 + i), event_name: "recent", user_id: `r${i}`, timestamp: now - age, received_at: now });
  });
  return messages;
}

const messages = seedMessages();
let database: TestDatabase;
let app: ReturnType<typeof buildTestApp>["app"];

beforeAll(async () => {
  database = await createTestDatabase({ migrate: true });
  await database.db.insert(
    "events",
    messages.map((m, i) => toEventRow(m, { topic: "events", partition: 0, offset: String(i) })),
  );
  app = buildTestApp({ db: database.db }).app;
});
afterAll(() => database?.drop());

async function getJson<T>(path: string, expected = 200): Promise<T> {
  const res = await app.request(path);
  const body = await res.json();
  expect(res.status, `${path}: ${JSON.stringify(body).slice(0, 300)}`).toBe(expected);
  return body as T;
}

interface MetricsBody {
  from: string;
  to: string;
  total_events: number;
  unique_users: number;
  data: { group: string | null; total_events: number; unique_users: number }[];
}

const secs = (ms: number) => String(ms / 1000);

describe("GET /metrics against the views", () => {
  const RAW_GROUP: Record<(typeof GROUP_BY)[number], string> = {
    channel: "if(channel = '', NULL, toString(channel))",
    campaign: "if(campaign_id = '', NULL, campaign_id)",
    hour: "toUnixTimestamp(toStartOfHour(timestamp))",
    day: "intDiv(toUnixTimestamp(timestamp), 86400) * 86400",
  };

  async function rawTruth(fromMs: number, toMs: number, groupBy: (typeof GROUP_BY)[number], eventName?: string) {
    const filter = sql`timestamp >= toDateTime(${fromMs / 1000}) AND timestamp < toDateTime(${toMs / 1000})
      ${eventName === undefined ? sql`` : sql`AND event_name = ${eventName}`}`;
    const [total] = await database.db.query<{ c: string; u: string }>(
      sql`SELECT count() AS c, uniqExact(user_id) AS u FROM events WHERE ${filter}`,
    );
    const groups = await database.db.query<{ g: string | number | null; c: string; u: string }>(
      sql`SELECT ${raw(RAW_GROUP[groupBy])} AS g, count() AS c, uniqExact(user_id) AS u
          FROM events WHERE ${filter} GROUP BY g`,
    );
    return {
      total: { events: Number(total?.c), users: Number(total?.u) },
      groups: new Map(
        groups.map((row) => [
          groupBy === "hour" || groupBy === "day" ? new Date(Number(row.g) * 1000).toISOString().replace(".000Z", "Z") : row.g,
          { events: Number(row.c), users: Number(row.u) },
        ]),
      ),
    };
  }

  it("every group_by matches count() and uniqExact(user_id) over the raw rows, in total and per group", async () => {
    const ranges: [number, number, string | undefined][] = [
      [T - 2 * H, T + 50 * H, undefined],
      [F, G, undefined],
      [T, T + 30 * H, "purchase"],
    ];
    for (const [fromMs, toMs, eventName] of ranges) {
      for (const groupBy of GROUP_BY) {
        const name = eventName === undefined ? "" : `&event_name=${eventName}`;
        const body = await getJson<MetricsBody>(`/metrics?group_by=${groupBy}&from=${secs(fromMs)}&to=${secs(toMs)}${name}`);
        const truth = await rawTruth(fromMs, toMs, groupBy, eventName);
        expect(truth.total.events).toBeGreaterThan(0);
        expect({ events: body.total_events, users: body.unique_users }).toEqual(truth.total);
        for (const row of body.data) {
          const expected = truth.groups.get(row.group) ?? { events: 0, users: 0 };
          expect({ events: row.total_events, users: row.unique_users }, `${groupBy} ${row.group}`).toEqual(expected);
        }
        expect(body.data.reduce((sum, row) => sum + row.total_events, 0)).toBe(truth.total.events);
        const nonEmpty = body.data.filter((row) => row.total_events > 0).length;
        expect(nonEmpty).toBe(truth.groups.size);
      }
    }
  });

  it("lists every hour and UTC day of the range, empty ones with zeros", async () => {
    const hours = await getJson<MetricsBody>(`/metrics?group_by=hour&from=${secs(T - 3 * H)}&to=${secs(T + 2 * H)}`);
    expect(hours.data.map((row) => row.group)).toEqual([
      "2026-01-09T21:00:00Z",
      "2026-01-09T22:00:00Z",
      "2026-01-09T23:00:00Z",
      "2026-01-10T00:00:00Z",
      "2026-01-10T01:00:00Z",
    ]);
    expect(hours.data.map((row) => row.total_events)).toEqual([0, 0, 0, 6, 6]);
    const days = await getJson<MetricsBody>("/metrics?group_by=day&from=2026-01-08T00:00:00Z&to=2026-01-13T00:00:00Z");
    expect(days.data.map((row) => row.group)).toEqual([
      "2026-01-08T00:00:00Z",
      "2026-01-09T00:00:00Z",
      "2026-01-10T00:00:00Z",
      "2026-01-11T00:00:00Z",
      "2026-01-12T00:00:00Z",
    ]);
    expect(days.data.map((row) => row.total_events)).toEqual([0, 0, 144 + 4, 96, 0]);
  });

  it("counts from inclusively and to exclusively, widening unaligned edges to whole hours", async () => {
    const exact = await getJson<MetricsBody>(`/metrics?event_name=edge&group_by=channel&from=${secs(F)}&to=${secs(G)}`);
    expect(exact.total_events).toBe(2);
    expect(exact.data).toEqual([{ group: null, total_events: 2, unique_users: 2 }]);
    const iso = await getJson<MetricsBody>("/metrics?event_name=edge&from=2026-01-10T05:00:00Z&to=2026-01-10T10:00:00Z");
    expect(iso.total_events).toBe(2);
    const unaligned = await getJson<MetricsBody>(
      `/metrics?event_name=edge&from=${secs(F + 1_200_000)}&to=${secs(G - 3_599_000)}`,
    );
    expect([unaligned.from, unaligned.to, unaligned.total_events]).toEqual(["2026-01-10T05:00:00Z", "2026-01-10T10:00:00Z", 2]);
    const wider = await getJson<MetricsBody>(`/metrics?event_name=edge&from=${secs(F - 1)}&to=${secs(G + 1)}`);
    expect([wider.from, wider.to, wider.total_events]).toEqual(["2026-01-10T04:00:00Z", "2026-01-10T11:00:00Z", 4]);
  });
});

interface SearchBody {
  data: (ReturnType<typeof fromEventRow> & { status?: string })[];
  next_cursor: string | null;
}

async function searchAll(params: string, limit = 1000): Promise<SearchBody["data"]> {
  const all: SearchBody["data"] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 200; page++) {
    const path: string = `/events?limit=${limit}${params}${cursor ? `&cursor=${cursor}` : ""}`;
    const body: SearchBody = await getJson<SearchBody>(path);
    all.push(...body.data);
    if (body.next_cursor === null) return all;
    cursor = body.next_cursor;
  }
  throw new Error("too many pages");
}

const ids = (events: { event_id: string }[]) => events.map((e) => e.event_id).sort();
const q = encodeURIComponent;

describe("GET /events search", () => {
  type Meta = Record<string, string | number | boolean>;
  const meta = (m: EventMessage): Meta => m.metadata ?? {};
  const eq = (m: EventMessage, k: string, v: string) => {
    const value = meta(m)[k];
    if (value === undefined) return false;
    if (typeof value === "string") return value === v;
    if (typeof value === "number") return String(value) === v || Number(v) === value;
    return String(value) === v;
  };
  const num = (m: EventMessage, k: string) => {
    const value = meta(m)[k];
    return typeof value === "number" ? value : undefined;
  };
  const str = (m: EventMessage, k: string) => {
    const value = meta(m)[k];
    return typeof value === "string" ? value : undefined;
  };

  const cases: [string, (m: EventMessage) => boolean][] = [
    ["plan:eq:pro", (m) => eq(m, "plan", "pro")],
    ["code:eq:42", (m) => eq(m, "code", "42")],
    ["trial:eq:true", (m) => eq(m, "trial", "true")],
    ["seats:eq:3", (m) => eq(m, "seats", "3")],
    ["plan:ne:pro", (m) => !eq(m, "plan", "pro")],
    ["amount:gt:30", (m) => (num(m, "amount") ?? -1) > 30],
    ["amount:gte:30", (m) => (num(m, "amount") ?? -1) >= 30],
    ["amount:lt:3", (m) => num(m, "amount") !== undefined && (num(m, "amount") ?? 0) < 3],
    ["amount:lte:3", (m) => num(m, "amount") !== undefined && (num(m, "amount") ?? 0) <= 3],
    ["amount:between:10,20", (m) => (num(m, "amount") ?? -1) >= 10 && (num(m, "amount") ?? -1) <= 20],
    ["ref:like:ref-1%", (m) => (str(m, "ref") ?? "").startsWith("ref-1")],
    ["ref:like:ref-_5", (m) => /^ref-\d5$/.test(str(m, "ref") ?? "")],
    ["plan:in:free|team", (m) => eq(m, "plan", "free") || eq(m, "plan", "team")],
    ["code:in:42|nope", (m) => eq(m, "code", "42")],
    [`plan:eq:${HOSTILE}`, (m) => eq(m, "plan", HOSTILE)],
    [`plan:eq:${UNICODE}`, (m) => eq(m, "plan", UNICODE)],
    ["missing:eq:x", () => false],
  ];

  it("each operator returns exactly the matching events, newest first", async () => {
    for (const [where, predicate] of cases) {
      const expected = messages.filter(predicate);
      const found = await searchAll(`&where=${q(where)}`);
      expect(ids(found), where).toEqual(ids(expected));
      const stamps = found.map((e) => e.timestamp);
      expect(stamps, where).toEqual([...stamps].sort((a, b) => b - a));
    }
    expect(messages.filter((m) => eq(m, "plan", HOSTILE))).toHaveLength(1);
  });

  it("combines where filters with match=all and match=any, and with the other filters", async () => {
    const pro = (m: EventMessage) => eq(m, "plan", "pro");
    const manySeats = (m: EventMessage) => (num(m, "seats") ?? 0) > 5;
    const both = `&where=${q("plan:eq:pro")}&where=${q("seats:gt:5")}`;
    expect(ids(await searchAll(both))).toEqual(ids(messages.filter((m) => pro(m) && manySeats(m))));
    expect(ids(await searchAll(`${both}&match=all`))).toEqual(ids(messages.filter((m) => pro(m) && manySeats(m))));
    expect(ids(await searchAll(`${both}&match=any`))).toEqual(ids(messages.filter((m) => pro(m) || manySeats(m))));
    const filtered = await searchAll(`${both}&match=any&event_name=purchase&user_id=u3&campaign_id=spring`);
    const expected = messages.filter(
      (m) => (pro(m) || manySeats(m)) && m.event_name === "purchase" && m.user_id === "u3" && m.campaign_id === "spring",
    );
    expect(ids(filtered)).toEqual(ids(expected));
  });

  it("searches time ranges with inclusive from and exclusive to, to the millisecond", async () => {
    const edge = await searchAll(`&event_name=edge&from=${secs(F)}&to=${secs(G)}`);
    expect(edge.map((e) => e.timestamp)).toEqual([G - 1, F]);
    const iso = await searchAll(
      `&event_name=edge&from=${q(new Date(F - 1).toISOString())}&to=${q(new Date(G + 1).toISOString())}`,
    );
    expect(iso).toHaveLength(4);
  });

  it("finds recent and old events across the search windows, newest first, page by page", async () => {
    const recent = messages.filter((m) => m.event_name === "recent").sort((a, b) => b.timestamp - a.timestamp);
    for (const limit of [1, 2, 3, 100]) {
      const found = await searchAll("&event_name=recent", limit);
      expect(
        found.map((e) => e.event_id),
        `limit ${limit}`,
      ).toEqual(recent.map((m) => m.event_id));
    }
  });

  it("pages through every row exactly once, including rows that share a timestamp", async () => {
    const pages: string[][] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 100; i++) {
      const body: SearchBody = await getJson<SearchBody>(`/events?limit=7${cursor ? `&cursor=${cursor}` : ""}`);
      pages.push(body.data.map((e) => e.event_id));
      if (body.next_cursor === null) break;
      cursor = body.next_cursor;
    }
    const seen = pages.flat();
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual(ids(messages));
    expect(pages.slice(0, -1).every((page) => page.length === 7)).toBe(true);
  });

  it("returns the stored event with all its fields", async () => {
    const [first] = await searchAll(`&where=${q(`plan:eq:${HOSTILE}`)}`);
    const source = messages.find((m) => eq(m, "plan", HOSTILE));
    expect(first).toEqual(
      fromEventRow(toEventRow(source as EventMessage, { topic: "events", partition: 0, offset: "0" }) as EventRow),
    );
  });
});

describe("GET /events/{event_id}", () => {
  beforeAll(async () => {
    await database.db.insert("events_dead_letter", [
      {
        event_id: "not-a-uuid",
        kafka_topic: "events",
        kafka_partition: 1,
        kafka_offset: 77,
        reason: "schema",
        details: "timestamp: required",
        payload: '{"event_id":"not-a-uuid"}',
        status: "failed",
        failed_at: T / 1000,
      },
      {
        event_id: uuid(5555),
        kafka_topic: "events",
        kafka_partition: 2,
        kafka_offset: 3,
        reason: "not_json",
        details: "Unexpected token",
        payload: "{oops",
        status: "failed",
        failed_at: T / 1000,
      },
    ]);
  });

  it("returns a stored event with every field and status stored", async () => {
    const message = messages[7] as EventMessage;
    const body = await getJson<Record<string, unknown>>(`/events/${message.event_id.toUpperCase()}`);
    const expected = fromEventRow(toEventRow(message, { topic: "events", partition: 0, offset: "7" }) as EventRow);
    expect(body).toEqual({ ...expected, status: "stored" });
  });

  it("returns the dead-letter record with its reason, or 404", async () => {
    expect(await getJson(`/events/not-a-uuid`)).toMatchObject({
      status: "failed",
      event_id: "not-a-uuid",
      reason: "schema",
      details: "timestamp: required",
      failed_at: "2026-01-10T00:00:00Z",
      kafka: { topic: "events", partition: 1, offset: "77" },
    });
    expect(await getJson(`/events/${uuid(5555)}`)).toMatchObject({ status: "failed", reason: "not_json", payload: "{oops" });
    await getJson(`/events/${uuid(4242)}`, 404);
    await getJson(`/events/nothing-here`, 404);
  });
});

describe("injection corpus", () => {
  const corpus = [
    "'",
    "\\",
    "\\'",
    "''",
    "' OR 1=1 --",
    "'; DROP TABLE events; --",
    "/* comment */",
    "-- comment",
    "') UNION ALL SELECT name FROM system.tables --",
    "UNION SELECT 1",
    "%",
    "_",
    "\\%",
    "a\u0000b",
    "\n\r\t",
    UNICODE,
    "\u2028\u2029",
    "`backtick`",
    "$" + "{x}",
    "1e999",
    "-1",
    "9".repeat(40),
  ];

  it("never turns a hostile value in any parameter into a ClickHouse error", async () => {
    const templates = [
      (v: string) => `/metrics?group_by=channel&from=${secs(T - 2 * H)}&to=${secs(T + 50 * H)}&event_name=${q(v)}`,
      (v: string) => `/metrics?group_by=${q(v)}`,
      (v: string) => `/metrics?from=${q(v)}`,
      (v: string) => `/metrics?to=${q(v)}`,
      (v: string) => `/events?event_name=${q(v)}`,
      (v: string) => `/events?user_id=${q(v)}`,
      (v: string) => `/events?campaign_id=${q(v)}`,
      (v: string) => `/events?from=${q(v)}`,
      (v: string) => `/events?to=${q(v)}`,
      (v: string) => `/events?match=${q(v)}`,
      (v: string) => `/events?limit=${q(v)}`,
      (v: string) => `/events?cursor=${q(v)}`,
      (v: string) => `/events?where=${q(v)}`,
      (v: string) => `/events?where=${q(`${v}:eq:x`)}`,
      ...["eq", "ne", "gt", "gte", "lt", "lte", "like", "between", "in"].map(
        (op) => (v: string) => `/events?where=${q(`plan:${op}:${v}`)}`,
      ),
      (v: string) => `/events?where=${q(`amount:between:${v},${v}`)}`,
      (v: string) => `/events/${q(v)}`,
      (v: string) => `/campaigns/${q(v)}`,
      (v: string) => `/overview?from=${q(v)}`,
    ];
    const statuses = new Map<number, number>();
    for (const template of templates) {
      for (const value of corpus) {
        const path = template(value);
        const res = await app.request(path);
        const body = (await res.json()) as { data?: unknown[]; total_events?: number; error?: { code: string } };
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect([200, 400, 404], `${path} → ${res.status} ${JSON.stringify(body).slice(0, 200)}`).toContain(res.status);
        if (res.status === 200 && /event_name|user_id|campaign_id/.test(path)) {
          if (body.total_events === undefined) expect(body.data, path).toEqual([]);
          else expect([body.total_events, body.data], path).toEqual([0, []]);
        }
      }
    }
    expect(statuses.get(200)).toBeGreaterThan(50);
    expect(statuses.get(400)).toBeGreaterThan(50);
    const [count] = await database.db.query<{ c: string }>(sql`SELECT count() AS c FROM events`);
    expect(Number(count?.c)).toBe(messages.length);
  });
});
