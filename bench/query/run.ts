// `make bench-query`: p50/p99 of GET /metrics for each group_by over 30 days with >= 10M events.
// The events are generated inside ClickHouse (INSERT … SELECT FROM numbers) in chunks, so the
// materialized views fill the hourly aggregates as the worker's inserts would; a loaded bench database
// is reused on the next run. The query app runs in this process on a loopback port; requests go one
// at a time (latency) and then 4 at a time (throughput), each case bounded in count and time. Each case
// runs on an app without the answer cache (every request merges the states) and, one at a time, on one
// with it (a repeated request checks the counts and reuses the answer). A range's first request is measured
// on the cached app over FIRST_REQUESTS ranges of the same length, each ending one hour earlier than the
// last, so every one of them is a miss.
// Results: bench/results/query-<timestamp>.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { CampaignStore } from "@sluice/campaigns";
import { createClickHouse, ensureDatabase, identifier, loadMigrations, migrate, raw, sql } from "@sluice/clickhouse";
import { Readiness, startHttpServer } from "@sluice/http";
import { createLogger } from "@sluice/logger";
import { createRegistry } from "@sluice/metrics";
import { MIGRATIONS_DIR, services } from "@sluice/testing";
import { createApp } from "../../apps/query/src/app";
import { GROUP_BY } from "../../apps/query/src/queries/metrics";
import { createMetricsCache } from "../../apps/query/src/services/metrics-cache";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DATABASE = process.env.BENCH_DATABASE ?? "sluice_bench_query";
const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000_000);
const CHUNK = 1_000_000;
const DAYS = 30;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const WARMUP = 20;
/** Each case stops after this long even if it has not sent REQUESTS requests (the box is shared). */
const CASE_SECONDS = Number(process.env.BENCH_CASE_SECONDS ?? 20);
const CONCURRENCY = 4;
const FIRST_REQUESTS = Number(process.env.BENCH_FIRST_REQUESTS ?? 40);

const logger = createLogger({ name: "bench-query", level: "info" });
const server = createClickHouse({ url: services.clickhouseUrl, database: "default", username: "default", password: "" });
const db = createClickHouse({
  url: services.clickhouseUrl,
  database: DATABASE,
  username: "default",
  password: "",
  requestTimeoutMs: 600_000,
});

/** Fills `events` with EVENTS rows spread evenly over the DAYS days ending at `endSeconds`. */
async function load(endSeconds: number): Promise<void> {
  const span = DAYS * 86_400;
  const start = endSeconds - span;
  for (let offset = 0; offset < EVENTS; offset += CHUNK) {
    const rows = Math.min(CHUNK, EVENTS - offset);
    const began = performance.now();
    // n is the global row number; hashes of it spread users, channels and names without correlation.
    await db.command(sql`
      INSERT INTO events (event_id, event_name, user_id, timestamp, timestamp_ms, channel, campaign_id, session_id,
        anonymous_id, tags, metadata_string_keys, metadata_string_values, metadata_number_keys, metadata_number_values,
        metadata_bool_keys, metadata_bool_values, user_properties_string_keys, user_properties_string_values,
        user_properties_number_keys, user_properties_number_values, user_properties_bool_keys, user_properties_bool_values,
        device_category, device_brand, device_model, device_os, device_os_version, device_browser, device_browser_version,
        device_language, device_hostname, app_id, app_version, items, sent_at_ms, received_at_ms, kafka_topic,
        kafka_partition, kafka_offset)
      SELECT generateUUIDv4(),
        arrayElement(['page_view','click','search','add_to_cart','purchase','signup','login','share','checkout','logout'], intHash32(n) % 10 + 1),
        concat('user-', toString(intHash64(n) % 200000)),
        toDateTime(ts), toUInt64(ts) * 1000 + n % 1000,
        arrayElement(['web','mobile','api','email','push','desktop','tv','console','other',''], intHash32(n * 7) % 10 + 1),
        if(n % 5 = 0, concat('campaign-', toString(intHash32(n * 13) % 10)), ''),
        '', '', [], ['plan'], [if(n % 3 = 0, 'pro', 'free')], ['amount'], [toFloat64(n % 100)], [], [],
        [], [], [], [], [], [], '', '', '', '', '', '', '', '', '', '', '', '', 0, toUInt64(ts) * 1000, 'bench', 0, n
      FROM (SELECT number + ${offset} AS n, ${start} + intDiv((number + ${offset}) * ${span}, ${EVENTS}) AS ts FROM numbers(${rows}))`);
    logger.info({ rows: offset + rows, chunkMs: Math.round(performance.now() - began) }, "loaded");
  }
  await optimizeRollups();
}

/** Background merges would get there too; merging now measures the steady state, not a fresh load's parts. */
async function optimizeRollups(): Promise<void> {
  for (const table of ["events_hourly", "events_rollup"]) await db.command(sql`OPTIMIZE TABLE ${identifier(table)} FINAL`);
}

async function prepare(): Promise<{ rows: number; endSeconds: number; loadMs?: number }> {
  await ensureDatabase(server, DATABASE);
  const applied = await migrate(db, await loadMigrations(MIGRATIONS_DIR));
  const [existing] = await db.query<{ c: string; end: number }>(
    raw("SELECT count() AS c, toUnixTimestamp(max(timestamp)) AS end FROM events"),
  );
  if (Number(existing?.c) >= EVENTS) {
    logger.info({ rows: Number(existing?.c) }, "reusing the loaded bench database");
    if (applied.length > 0) await optimizeRollups();
    return { rows: Number(existing?.c), endSeconds: Number(existing?.end) + 1 };
  }
  if (Number(existing?.c) > 0) {
    for (const table of ["events", "events_by_id", "events_offsets", "events_hourly", "events_rollup", "events_by_user"]) {
      await db.command(sql`TRUNCATE TABLE ${identifier(table)}`);
    }
  }
  const endSeconds = Math.ceil(Date.now() / 3_600_000) * 3600;
  const began = performance.now();
  await load(endSeconds);
  return { rows: EVENTS, endSeconds, loadMs: Math.round(performance.now() - began) };
}

/** Latencies of requests to `urls` in turn, one at a time, each sent once (every one a cache miss). */
async function measureFirst(urls: string[]) {
  const latencies: number[] = [];
  const deadline = performance.now() + CASE_SECONDS * 1000;
  for (const url of urls) {
    if (performance.now() > deadline) break;
    const start = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
    latencies.push(performance.now() - start);
  }
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round((sorted[Math.max(0, index)] ?? 0) * 100) / 100;
}

async function measure(url: string, concurrency: number) {
  for (let i = 0; i < WARMUP; i++) await (await fetch(url)).arrayBuffer();
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const began = performance.now();
  const deadline = began + CASE_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < REQUESTS && performance.now() < deadline) {
        next++;
        const start = performance.now();
        const res = await fetch(url);
        await res.arrayBuffer();
        latencies.push(performance.now() - start);
        if (res.status !== 200) failures++;
      }
    }),
  );
  const seconds = (performance.now() - began) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    failures,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: percentile(latencies, 100),
    requestsPerSec: Math.round(latencies.length / seconds),
  };
}

const loadAtStart = loadavg();
const data = await prepare();
const store = new CampaignStore();
/** The query app as main builds it, with or without the answer cache. */
function queryApp(cached: boolean) {
  const registry = createRegistry("query");
  return createApp({
    logger: createLogger({ name: "query", level: "warn" }),
    registry,
    readiness: new Readiness(),
    db,
    campaigns: { get: (id) => store.get(id), list: () => store.list(), apply: (c) => store.put(c) },
    publisher: { publish: () => Promise.reject(new Error("campaigns are not benchmarked")) },
    apiKeys: [],
    ...(cached ? { metricsCache: createMetricsCache({ maxGroups: 200_000, registry }) } : {}),
  });
}
const app = queryApp(false);
const cachedApp = queryApp(true);
const http = await startHttpServer((request) => app.fetch(request), { port: 0, host: "127.0.0.1" });
const cachedHttp = await startHttpServer((request) => cachedApp.fetch(request), { port: 0, host: "127.0.0.1" });
const from = data.endSeconds - DAYS * 86_400;
const results = [];
for (const eventName of ["purchase", undefined]) {
  for (const groupBy of GROUP_BY) {
    const name = eventName === undefined ? "" : `&event_name=${eventName}`;
    const path = `/metrics?group_by=${groupBy}&from=${from}&to=${data.endSeconds}${name}`;
    const url = `http://127.0.0.1:${http.port}${path}`;
    const sample = (await (await fetch(url)).json()) as { total_events: number; data: unknown[] };
    const sequential = await measure(url, 1);
    const concurrent = await measure(url, CONCURRENCY);
    const cachedUrl = `http://127.0.0.1:${cachedHttp.port}${path}`;
    const missStarted = performance.now();
    const miss = await (await fetch(cachedUrl)).json();
    const firstMs = Math.round((performance.now() - missStarted) * 100) / 100;
    if (JSON.stringify(miss) !== JSON.stringify(sample)) throw new Error(`${path}: the cached app answered differently`);
    const cached = { firstMs, ...(await measure(cachedUrl, 1)) };
    const shifted = Array.from({ length: FIRST_REQUESTS }, (_, i) => {
      const end = data.endSeconds - (i + 1) * 3600;
      return `http://127.0.0.1:${cachedHttp.port}/metrics?group_by=${groupBy}&from=${end - DAYS * 86_400}&to=${end}${name}`;
    });
    const first = await measureFirst(shifted);
    const row = {
      group_by: groupBy,
      event_name: eventName ?? null,
      total_events: sample.total_events,
      groups: sample.data.length,
      sequential,
      concurrent,
      first,
      cached,
    };
    logger.info(row, "measured");
    results.push(row);
  }
}
// Not part of the goal: a newest-first search page, for scale.
const searches = [];
for (const params of ["limit=100", "limit=100&event_name=purchase&where=plan:eq:pro", "limit=100&user_id=user-42"]) {
  const sequential = await measure(`http://127.0.0.1:${http.port}/events?${params}`, 1);
  logger.info({ search: params, sequential }, "measured");
  searches.push({ params, sequential });
}
await http.close();
await cachedHttp.close();
const [hourly] = await db.query<{ c: string }>(raw("SELECT count() AS c FROM events_hourly"));
const [rollup] = await db.query<{ c: string }>(raw("SELECT count() AS c FROM events_rollup"));
await db.close();
await server.close();

const report = {
  bench: "query /metrics",
  at: new Date().toISOString(),
  database: DATABASE,
  events: data.rows,
  hourlyRows: Number(hourly?.c),
  rollupRows: Number(rollup?.c),
  days: DAYS,
  loadMs: data.loadMs ?? null,
  requestsPerCase: REQUESTS,
  caseSeconds: CASE_SECONDS,
  loadAverageAtStart: loadAtStart,
  loadAverage: loadavg(),
  concurrency: [1, CONCURRENCY],
  results,
  searches,
};
mkdirSync(`${ROOT}/bench/results`, { recursive: true });
const file = `${ROOT}/bench/results/query-${report.at.replaceAll(":", "-")}.json`;
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(
  `\n${data.rows.toLocaleString("en-US")} events over ${DAYS} days, ${report.hourlyRows} hourly rows, ${report.rollupRows} rollup rows, load average ${[loadAtStart[0], report.loadAverage[0]].map((n) => n?.toFixed(2)).join(" → ")}`,
);
console.log(
  "                      uncached, 1 at a time   uncached, 4 at a time         first request of a range   cached, repeated",
);
console.log(
  "group_by   event_name  p50 ms  p99 ms          p50 ms  p99 ms  req/s          p50 ms  p99 ms             p50 ms  p99 ms",
);
const cell = (n: number) => String(n).padStart(7);
for (const r of results) {
  console.log(
    `${r.group_by.padEnd(10)} ${(r.event_name ?? "(all)").padEnd(10)} ${cell(r.sequential.p50Ms)} ${cell(r.sequential.p99Ms)}         ${cell(r.concurrent.p50Ms)} ${cell(r.concurrent.p99Ms)} ${String(r.concurrent.requestsPerSec).padStart(6)}         ${cell(r.first.p50Ms)} ${cell(r.first.p99Ms)}            ${cell(r.cached.p50Ms)} ${cell(r.cached.p99Ms)}`,
  );
}
for (const r of searches) console.log(`search ${r.params.padEnd(50)} p50 ${r.sequential.p50Ms} ms  p99 ${r.sequential.p99Ms} ms`);
console.log(`results: ${file}`);
