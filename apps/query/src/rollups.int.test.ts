import { EVENT_COLUMNS, loadMigrations, migrate, raw, type SqlFragment, sql, toEventRow } from "@sluice/clickhouse";
import { CHANNELS, type EventMessage } from "@sluice/events";
import { createRegistry } from "@sluice/metrics";
import { createTestDatabase, MIGRATIONS_DIR, type TestDatabase } from "@sluice/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXACT_UNIQUES_MAX_EVENTS, GROUP_BY, type GroupBy } from "./queries/metrics";
import { createMetricsCache } from "./services/metrics-cache";
import { buildTestApp } from "./testing";

const H = 3_600_000;
const D = 24 * H;
/** 36 days across the January/February month (and partition) boundary. */
const START = Date.UTC(2026, 0, 20);
const SPAN = 36 * D;
const EVENTS = 3000;
const NAMES = ["view", "buy", "signup"];

const uuid = (n: number) => `0190a0b0-0000-7000-8000-${n.toString(16).padStart(12, "0")}`;

// Every hour of the span holds events, users recur across hours, days and names, so a routing that drops
// an edge, reads a day twice or sums per-group uniques disagrees with the raw rows.
function seed(): EventMessage[] {
  return Array.from({ length: EVENTS }, (_, i) => {
    const channel = [...CHANNELS, undefined][(i * 7) % (CHANNELS.length + 1)];
    const campaign = [undefined, "spring", "fall", "winter"][(i >> 2) % 4];
    return {
      event_id: uuid(i + 1),
      event_name: NAMES[(i * 5) % NAMES.length] ?? "view",
      user_id: `u${(i * 31) % 173}`,
      timestamp: START + Math.floor((i * SPAN) / EVENTS) + ((i * 7919) % 600_000),
      ...(channel ? { channel } : {}),
      ...(campaign ? { campaign_id: campaign } : {}),
      received_at: START,
    };
  });
}

const messages = seed();
const rows = messages.map((m, i) => toEventRow(m, { topic: "events", partition: 0, offset: String(i) }));
let database: TestDatabase;
let app: ReturnType<typeof buildTestApp>["app"];

beforeAll(async () => {
  database = await createTestDatabase({ migrate: true });
  // Three inserts, so the views hold several states per key that the queries must merge.
  for (let i = 0; i < rows.length; i += 1000) await database.db.insert("events", rows.slice(i, i + 1000));
  app = buildTestApp({ db: database.db }).app;
});
afterAll(() => database?.drop());

interface MetricsBody {
  from: string;
  to: string;
  total_events: number;
  unique_users: number;
  data: { group: string | null; total_events: number; unique_users: number }[];
}

async function metrics(params: string): Promise<MetricsBody> {
  const res = await app.request(`/metrics?${params}`);
  const body = await res.json();
  expect(res.status, `${params}: ${JSON.stringify(body).slice(0, 300)}`).toBe(200);
  return body as MetricsBody;
}

const RAW_GROUP: Record<GroupBy, string> = {
  channel: "if(channel = '', NULL, toString(channel))",
  campaign: "if(campaign_id = '', NULL, campaign_id)",
  hour: "toUnixTimestamp(toStartOfHour(timestamp))",
  day: "intDiv(toUnixTimestamp(timestamp), 86400) * 86400",
};

const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

/** count() and uniqExact(user_id) over the raw rows of the exact range, in total and per group. */
function truth(fromMs: number, toMs: number, groupBy: GroupBy, eventName: string | undefined) {
  return truthIn(database, fromMs, toMs, groupBy, eventName);
}

/** `truth` over another database's raw rows. */
async function truthIn(database: TestDatabase, fromMs: number, toMs: number, groupBy: GroupBy, eventName: string | undefined) {
  const filter = sql`timestamp >= toDateTime(${fromMs / 1000}) AND timestamp < toDateTime(${toMs / 1000})
    ${eventName === undefined ? sql`` : sql`AND event_name = ${eventName}`}`;
  const [total] = await database.db.query<{ c: string; u: string; h: string }>(
    sql`SELECT count() AS c, uniqExact(user_id) AS u, uniqHLL12(user_id) AS h FROM events WHERE ${filter}`,
  );
  const groups = await database.db.query<{ g: string | number | null; c: string; u: string; h: string }>(
    sql`SELECT ${raw(RAW_GROUP[groupBy])} AS g, count() AS c, uniqExact(user_id) AS u, uniqHLL12(user_id) AS h
        FROM events WHERE ${filter} GROUP BY g`,
  );
  const key = (g: string | number | null) => (groupBy === "hour" || groupBy === "day" ? iso(Number(g) * 1000) : g);
  const counts = (row: { c: string; u: string; h: string } | undefined) => ({
    events: Number(row?.c),
    users: Number(row?.u),
    sketch: Number(row?.h),
  });
  return { total: counts(total), groups: new Map(groups.map((row) => [key(row.g), counts(row)])) };
}

describe("GET /metrics over the rollups", () => {
  const day = (d: number) => START + d * D;
  const ranges: [string, number, number][] = [
    ["partial days at both ends, across the month boundary", day(9) + 5 * H, day(14) + 19 * H],
    ["inside one day", day(12) + 3 * H, day(12) + 17 * H],
    ["whole days only", day(10), day(13)],
    ["partial first day, whole last day", day(10) + 13 * H, day(13)],
    ["whole first day, partial last day", day(10), day(13) + 2 * H],
    ["one hour before midnight", day(11) + 23 * H, day(12)],
    ["the whole span and beyond", START - 7 * H, START + SPAN + 11 * H],
  ];

  it("every group_by, with and without event_name, equals count() and uniqExact over the raw rows of the range", async () => {
    for (const [label, fromMs, toMs] of ranges) {
      for (const eventName of [undefined, "buy"]) {
        for (const groupBy of GROUP_BY) {
          const name = eventName === undefined ? "" : `&event_name=${eventName}`;
          const context = `${label}, group_by=${groupBy}${name}`;
          const body = await metrics(`group_by=${groupBy}&from=${fromMs / 1000}&to=${toMs / 1000}${name}`);
          const expected = await truth(fromMs, toMs, groupBy, eventName);
          expect(expected.total.events, context).toBeGreaterThan(0);
          expect([body.from, body.to], context).toEqual([iso(fromMs), iso(toMs)]);
          expect({ events: body.total_events, users: body.unique_users }, context).toEqual({
            events: expected.total.events,
            users: expected.total.users,
          });
          const listed = body.data.filter((row) => row.total_events > 0);
          expect(listed.length, context).toBe(expected.groups.size);
          for (const row of body.data) {
            const want = expected.groups.get(row.group) ?? { events: 0, users: 0 };
            expect({ events: row.total_events, users: row.unique_users }, `${context}: ${row.group}`).toEqual({
              events: want.events,
              users: want.users,
            });
          }
        }
      }
    }
  });

  it("lists the hours and days of a range with partial days, first and last bucket included", async () => {
    const fromMs = day(9) + 22 * H;
    const toMs = day(11) + 2 * H;
    const hours = await metrics(`group_by=hour&from=${fromMs / 1000}&to=${toMs / 1000}`);
    expect(hours.data.map((row) => row.group)).toEqual(Array.from({ length: 28 }, (_, i) => iso(fromMs + i * H)));
    const days = await metrics(`group_by=day&from=${fromMs / 1000}&to=${toMs / 1000}`);
    expect(days.data.map((row) => row.group)).toEqual([iso(day(9)), iso(day(10)), iso(day(11))]);
    expect(days.data.map((row) => row.total_events)).toEqual(
      [
        [fromMs, day(10)],
        [day(10), day(11)],
        [day(11), toMs],
      ].map(([a = 0, b = 0]) => messages.filter((m) => m.timestamp >= a && m.timestamp < b).length),
    );
  });

  it("answers an empty range with zeros and no groups", async () => {
    const at = day(12) / 1000;
    for (const groupBy of GROUP_BY) {
      const body = await metrics(`group_by=${groupBy}&from=${at}&to=${at}`);
      expect([body.total_events, body.unique_users, body.data], groupBy).toEqual([0, 0, []]);
    }
  });
});

describe("GET /metrics with the answer cache", () => {
  it("serves a repeated request from the cache, and counts an event that lands in the range at once", async () => {
    const own = await createTestDatabase({ migrate: true });
    try {
      const some = rows.slice(0, 600);
      await own.db.insert("events", some);
      const registry = createRegistry("test");
      const cached = buildTestApp({
        db: own.db,
        registry,
        metricsCache: createMetricsCache({ maxGroups: 10_000, registry }),
      }).app;
      const uncached = buildTestApp({ db: own.db }).app;
      const lookups = async () => {
        const metric = await registry.getSingleMetric("query_metrics_cache_lookups_total")?.get();
        return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.result), v.value]));
      };
      const from = START / 1000;
      const to = (START + 6 * D) / 1000;
      const ask = async (target: typeof cached, groupBy: GroupBy) => {
        const res = await target.request(`/metrics?group_by=${groupBy}&from=${from}&to=${to}`);
        expect(res.status).toBe(200);
        return (await res.json()) as MetricsBody;
      };

      for (const groupBy of GROUP_BY) {
        const first = await ask(cached, groupBy);
        expect(await ask(cached, groupBy), groupBy).toEqual(first);
        expect(await ask(uncached, groupBy), groupBy).toEqual(first);
      }
      expect(await lookups()).toEqual({ miss: 4, hit: 4 });

      // A new user's event inside the range, and a known user's event: both show up in the next answer.
      const known = messages[0] as EventMessage;
      const late = [
        { ...known, event_id: uuid(90_001), user_id: "someone-new", timestamp: START + 2 * D + 5 * H },
        { ...known, event_id: uuid(90_002), timestamp: START + 3 * D + 1 * H },
      ].map((m, i) => toEventRow(m, { topic: "events", partition: 0, offset: String(90_000 + i) }));
      const before = await ask(cached, "day");
      await own.db.insert("events", late);
      for (const groupBy of GROUP_BY) {
        const after = await ask(cached, groupBy);
        expect(after, groupBy).toEqual(await ask(uncached, groupBy));
        expect(after.total_events, groupBy).toBe(before.total_events + 2);
        expect(after.unique_users, groupBy).toBe(before.unique_users + 1);
      }
      expect(await lookups()).toEqual({ miss: 8, hit: 5 });
    } finally {
      await own.drop();
    }
  });
});

describe("GET /metrics above the exact limit, from the HyperLogLog sketches", () => {
  it("counts events exactly and gives the raw rows' own uniqHLL12 as unique users, for rows stored before and after 0004", async () => {
    const own = await createTestDatabase();
    try {
      const migrations = await loadMigrations(MIGRATIONS_DIR);
      await migrate(
        own.db,
        migrations.filter((m) => m.version < 4),
      );
      // Until the "merged parts" round, every insert's rows stay rows of their own, as they are between
      // ClickHouse's background merges: the answers must merge them, hours included.
      await own.db.command(sql`SYSTEM STOP MERGES events_rollup`);
      const events = 2 * EXACT_UNIQUES_MAX_EVENTS;
      const SKETCH_DAYS = 16;
      // n is the row number; hashes of it spread 40,000 users, names and channels over sixteen days, which hold
      // a whole week (Monday 26 January to Monday 2 February), so channel and campaign groups read weekly rows.
      const insert = (first: number, count: number) =>
        own.db.command(sql`
          INSERT INTO events (event_id, event_name, user_id, timestamp, timestamp_ms, channel, campaign_id, kafka_topic, kafka_offset)
          SELECT generateUUIDv4(), arrayElement(['view', 'buy', 'buy', 'buy'], intHash32(n) % 4 + 1), concat('s', toString(intHash64(n) % 40000)),
            toDateTime(ts), toUInt64(ts) * 1000, arrayElement(['web', 'api', ''], intHash32(n * 7) % 3 + 1),
            if(n % 4 = 0, concat('c', toString(n % 3)), ''), 'events', n
          FROM (SELECT number + ${first} AS n, ${START / 1000} + intDiv(n * ${SKETCH_DAYS * (D / 1000)}, ${events}) AS ts FROM numbers(${count}))`);
      await insert(0, events / 2);
      await migrate(own.db, migrations);
      await insert(events / 2, events / 2);
      const target = buildTestApp({ db: own.db }).app;
      const [fromMs, toMs] = [START + 2 * H, START + SKETCH_DAYS * D - 3 * H];
      // Sketches merge without loss, so the answer is exactly the sketch of the raw rows; that sketch is within
      // 7 % of the true count here (4 standard errors of a 4,096-register HyperLogLog).
      const close = (estimate: number, want: { users: number; sketch: number }, context: string) => {
        expect(estimate, context).toBe(want.sketch);
        expect(Math.abs(estimate - want.users), `${context}: ${estimate} users for ${want.users}`).toBeLessThanOrEqual(
          want.users * 0.07,
        );
      };
      // First with several rows per key (two inserts and the backfill: merged sketches), then with the parts
      // merged into one row per key (finalized as they are).
      for (const parts of ["several rows per key", "merged parts"]) {
        if (parts === "merged parts") {
          await own.db.command(sql`SYSTEM START MERGES events_rollup`);
          for (const table of ["events_rollup", "events_hourly"]) await own.db.command(sql`OPTIMIZE TABLE ${raw(table)} FINAL`);
        }
        const [several] = await own.db.query<{ hours: string }>(
          sql`SELECT count() AS hours FROM (SELECT bucket FROM events_rollup WHERE kind = 'hour' AND name = ''
              AND bucket >= toDateTime(${fromMs / 1000}) AND bucket < toDateTime(${toMs / 1000}) GROUP BY bucket HAVING count() > 1)`,
        );
        expect(Number(several?.hours) > 0, `${parts}: hours with several rows`).toBe(parts === "several rows per key");
        // One event name is enough once the parts are merged: the read is the same for both.
        for (const eventName of parts === "merged parts" ? [undefined] : [undefined, "buy"]) {
          for (const groupBy of GROUP_BY) {
            const name = eventName === undefined ? "" : `&event_name=${eventName}`;
            const context = `${parts}, group_by=${groupBy}${name}`;
            const res = await target.request(`/metrics?group_by=${groupBy}&from=${fromMs / 1000}&to=${toMs / 1000}${name}`);
            const body = (await res.json()) as MetricsBody;
            const expected = await truthIn(own, fromMs, toMs, groupBy, eventName);
            expect(expected.total.events, context).toBeGreaterThan(EXACT_UNIQUES_MAX_EVENTS);
            expect(body.total_events, context).toBe(expected.total.events);
            close(body.unique_users, expected.total, context);
            expect(body.data.filter((row) => row.total_events > 0).length, context).toBe(expected.groups.size);
            for (const row of body.data) {
              const want = expected.groups.get(row.group) ?? { events: 0, users: 0, sketch: 0 };
              expect(row.total_events, `${context}: ${row.group}`).toBe(want.events);
              close(row.unique_users, want, `${context}: ${row.group}`);
            }
          }
        }
      }
      // The dashboard's overview of the same range: the totals GET /metrics gives, and the top names' sketches.
      const res = await target.request(`/overview?from=${fromMs / 1000}&to=${toMs / 1000}`);
      expect(res.status).toBe(200);
      const overview = (await res.json()) as {
        total_events: number;
        unique_users: number;
        channels: { total_events: number }[];
        top_events: { event_name: string; total_events: number; unique_users: number }[];
      };
      const all = await truthIn(own, fromMs, toMs, "day", undefined);
      expect(overview.total_events).toBe(all.total.events);
      close(overview.unique_users, all.total, "overview");
      expect(overview.channels.reduce((sum, channel) => sum + channel.total_events, 0)).toBe(all.total.events);
      expect(overview.top_events.map((row) => row.event_name)).toEqual(["buy", "view"]);
      for (const row of overview.top_events) {
        const named = await truthIn(own, fromMs, toMs, "day", row.event_name);
        expect(row.total_events, row.event_name).toBe(named.total.events);
        close(row.unique_users, named.total, `overview ${row.event_name}`);
      }
    } finally {
      await own.drop();
    }
  });
});

describe("GET /events?user_id= through events_by_user", () => {
  it("pages through exactly one user's events, newest first, with and without a range and other filters", async () => {
    for (const userId of ["u0", "u42", "u172"]) {
      const own = messages.filter((m) => m.user_id === userId);
      const fromMs = START + 9 * D + 5 * H;
      const toMs = START + 30 * D;
      const cases: [string, EventMessage[]][] = [
        ["", own],
        [`&from=${fromMs / 1000}&to=${toMs / 1000}`, own.filter((m) => m.timestamp >= fromMs && m.timestamp < toMs)],
        ["&event_name=buy&campaign_id=fall", own.filter((m) => m.event_name === "buy" && m.campaign_id === "fall")],
      ];
      for (const [params, expected] of cases) {
        expect(expected.length, `${userId}${params}`).toBeGreaterThan(0);
        const found: { event_id: string; user_id: string; timestamp: number }[] = [];
        let cursor: string | null = null;
        for (let page = 0; page < 50; page++) {
          const res = await app.request(`/events?user_id=${userId}&limit=4${params}${cursor ? `&cursor=${cursor}` : ""}`);
          expect(res.status).toBe(200);
          const body = (await res.json()) as { data: typeof found; next_cursor: string | null };
          found.push(...body.data);
          cursor = body.next_cursor;
          if (cursor === null) break;
        }
        const order = [...expected].sort((a, b) => b.timestamp - a.timestamp || (b.event_id < a.event_id ? -1 : 1));
        expect(
          found.map((e) => e.event_id),
          `${userId}${params}`,
        ).toEqual(order.map((m) => m.event_id));
      }
    }
  });
});

describe("migrations 0002 to 0006 on a database that already holds events", () => {
  const snapshots: Record<string, SqlFragment> = {
    events_rollup: sql`SELECT kind, name, toUnixTimestamp(bucket) AS b, value, countMerge(events) AS e, uniqMerge(users) AS u,
                              uniqHLL12Merge(users_hll) AS h
                       FROM events_rollup GROUP BY kind, name, bucket, value ORDER BY kind, name, b, value`,
    events_by_user: sql`SELECT ${raw(EVENT_COLUMNS.join(", "))} FROM events_by_user ORDER BY user_id, timestamp, event_id`,
  };

  it("backfill the same rows the views build when the events arrive after them", async () => {
    const backfilled = await createTestDatabase();
    try {
      const migrations = await loadMigrations(MIGRATIONS_DIR);
      await migrate(backfilled.db, migrations.slice(0, 1));
      for (let i = 0; i < rows.length; i += 1000) await backfilled.db.insert("events", rows.slice(i, i + 1000));
      await migrate(backfilled.db, migrations);
      for (const [table, query] of Object.entries(snapshots)) {
        const fed = await database.db.query(query);
        expect(fed.length, table).toBeGreaterThan(0);
        expect(await backfilled.db.query(query), table).toEqual(fed);
      }
    } finally {
      await backfilled.drop();
    }
  });
});
