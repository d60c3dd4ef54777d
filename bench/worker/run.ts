// `make bench-worker`: how fast the worker sinks a backlog of >= 1M events into ClickHouse, against the
// ceiling of inserting the very same rows with clickhouse-client (JSONEachRow from a file), in one run.
// The ceiling is measured before and after the worker (into two fresh databases) and the ratio uses
// both: this shared box's speed drifts by 10-20 % over minutes, so one ceiling taken a minute before the
// worker could be on a faster or slower machine than the worker ran on.
// Both targets are fresh databases with the repo's migrations (views attached). The backlog is
// produced first onto a fresh topic; then the worker runs as a child process (its real main.ts, default
// batch settings) and we time the rows landing while sampling its RSS. Results are printed and written
// to bench/results/worker-<timestamp>.json.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClickHouse, ensureDatabase, identifier, loadMigrations, migrate, raw, sql, toEventRow } from "@sluice/clickhouse";
import { createTestTopic, freePort, MIGRATIONS_DIR, services, testKafka, uniqueName } from "@sluice/testing";
import { appNodeFlags } from "../node-flags";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PARTITIONS = 6;
const TIMEOUT_MS = 240_000;
const CEILING_BLOCK_ROWS = 250_000;
/** ClickHouse settings for both phases' inserts (`name=value,…`), so a setting is tried on both sides alike. */
const INSERT_SETTINGS = (process.env.BENCH_INSERT_SETTINGS ?? "")
  .split(",")
  .filter(Boolean)
  .map((pair) => pair.split("=") as [string, string]);

type Event = Parameters<typeof toEventRow>[0];
const CHANNELS = ["web", "mobile", "api", "email", "push"] as const;
const NAMES = ["page_view", "signup", "purchase", "add_to_cart", "search", "logout"];
const MARCH = Date.UTC(2026, 2, 1);

/** A typical SDK event (~400 bytes): a few typed metadata keys, device and campaign. */
function makeEvent(i: number): Event {
  return {
    event_id: randomUUID(),
    event_name: NAMES[i % NAMES.length] ?? "page_view",
    user_id: `user-${i % 50_000}`,
    timestamp: MARCH + ((i * 2_591) % (28 * 86_400_000)),
    channel: CHANNELS[i % CHANNELS.length],
    campaign_id: `campaign-${i % 40}`,
    session_id: `session-${Math.floor(i / 20)}`,
    metadata: { path: `/products/${i % 500}`, amount: (i % 1000) / 10, logged_in: i % 3 === 0 },
    user_properties: { plan: i % 2 ? "pro" : "free", age: 20 + (i % 50) },
    device: { category: "phone", os: i % 2 ? "ios" : "android", browser: "safari" },
    received_at: MARCH + 1000,
  };
}

const log = (message: string) => process.stdout.write(`[bench-worker] ${message}\n`);

async function freshDatabase(name: string) {
  const connection = { url: services.clickhouseUrl, username: "default", password: "", requestTimeoutMs: 300_000 };
  const server = createClickHouse({ ...connection, database: "default" });
  await ensureDatabase(server, name);
  const db = createClickHouse({ ...connection, database: name });
  await migrate(db, await loadMigrations(MIGRATIONS_DIR));
  return {
    name,
    db,
    async count() {
      const [row] = await db.query<{ n: string }>(raw("SELECT count() AS n FROM events"));
      return Number(row?.n ?? 0);
    },
    async drop() {
      await db.close();
      await server.command(sql`DROP DATABASE IF EXISTS ${identifier(name)}`);
      await server.close();
    },
  };
}

/** Produces the backlog with big batches, several sends in flight; also writes the ceiling's JSONEachRow file. */
async function produceBacklog(topic: string, file: string): Promise<number> {
  const kafka = testKafka("bench-worker");
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const out = createWriteStream(file);
  const started = Date.now();
  const BATCH = 5_000;
  const IN_FLIGHT = 4;
  const sends: Promise<unknown>[] = [];
  for (let from = 0; from < EVENTS; from += BATCH) {
    const events = Array.from({ length: Math.min(BATCH, EVENTS - from) }, (_, j) => makeEvent(from + j));
    const lines = events.map((event, j) => JSON.stringify(toEventRow(event, { topic, partition: 0, offset: String(from + j) })));
    if (!out.write(`${lines.join("\n")}\n`)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
    sends.push(
      producer.send({
        topic,
        acks: -1,
        messages: events.map((event) => ({ key: event.user_id, value: JSON.stringify(event) })),
      }),
    );
    if (sends.length >= IN_FLIGHT) await sends.shift();
  }
  await Promise.all(sends);
  await producer.disconnect();
  await new Promise<void>((resolve) => out.end(() => resolve()));
  return Date.now() - started;
}

async function ceiling(file: string, database: string): Promise<number> {
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      "clickhouse-client",
      [
        "--port",
        process.env.CLICKHOUSE_TCP_PORT ?? "9000",
        "--database",
        database,
        // Blocks of 250k rows: blocks of 1M rows (the client's and the server's squashing default) take
        // more than the server's per-query memory limit in the rollup view (0002): code 241.
        `--max_insert_block_size=${CEILING_BLOCK_ROWS}`,
        `--min_insert_block_size_rows=${CEILING_BLOCK_ROWS}`,
        "--log_queries=1",
        ...INSERT_SETTINGS.map(([name, value]) => `--${name}=${value}`),
        "--query",
        "INSERT INTO events FORMAT JSONEachRow",
      ],
      { stdio: ["pipe", "inherit", "inherit"] },
    );
    createReadStream(file).pipe(child.stdin);
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`clickhouse-client exited with ${code}`))));
  });
  return Date.now() - started;
}

// CPU seconds from /proc (clock ticks of 1/100 s on Linux): the box is shared, so wall-clock rates move
// with everyone's load while CPU per row stays comparable. `cutime`/`cstime` of this process count the
// children it has reaped (clickhouse-client, the worker) in full.
const LOCAL = process.env.SLUICE_LOCAL_DIR ?? join(ROOT, ".local");
function cpuSeconds(pid: number | "self", field: "own" | "children" = "own"): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const [user, system] = field === "own" ? [fields[11], fields[12]] : [fields[13], fields[14]];
    return (Number(user) + Number(system)) / 100;
  } catch {
    return Number.NaN;
  }
}
function servicePid(name: string): number {
  try {
    return Number(readFileSync(join(LOCAL, "run", `${name}.pid`), "utf8").trim());
  } catch {
    return 0;
  }
}
/** ClickHouse's running totals of merge work (server-wide; the box runs nothing else during a bench). */
async function mergeTotals() {
  const db = createClickHouse({ url: services.clickhouseUrl, username: "default", password: "", database: "default" });
  try {
    const rows = await db.query<{ event: string; value: string }>(
      sql`SELECT event, value FROM system.events WHERE event IN ('MergedRows', 'MergesTimeMilliseconds')`,
    );
    const value = (event: string) => Number(rows.find((row) => row.event === event)?.value ?? 0);
    return { rows: value("MergedRows"), ms: value("MergesTimeMilliseconds") };
  } finally {
    await db.close();
  }
}

/**
 * CPU seconds the phase's own child processes and the shared ClickHouse and Kafka used while `run` ran,
 * and the rows ClickHouse merged meanwhile with the time its merges took (thread time, not CPU).
 */
async function measureCpu<T>(run: () => Promise<T>) {
  const [clickhouse, kafka] = [servicePid("clickhouse"), servicePid("kafka")];
  const merges = await mergeTotals();
  const before = { child: cpuSeconds("self", "children"), clickhouse: cpuSeconds(clickhouse), kafka: cpuSeconds(kafka) };
  const result = await run();
  const cpu = {
    child_s: Number((cpuSeconds("self", "children") - before.child).toFixed(2)),
    clickhouse_s: Number((cpuSeconds(clickhouse) - before.clickhouse).toFixed(2)),
    kafka_s: Number((cpuSeconds(kafka) - before.kafka).toFixed(2)),
  };
  const mergesAfter = await mergeTotals();
  return { result, cpu: { ...cpu, merged_rows: mergesAfter.rows - merges.rows, merges_s: (mergesAfter.ms - merges.ms) / 1000 } };
}

/**
 * ClickHouse's own account of the INSERTs in `format` that finished between `since` and `until` (unix
 * seconds): count, CPU (user + system, the views included) and wall time. Only this run's clients turn
 * query logging on (18.16 logs no database, so the phase's time window and format tell them apart); the
 * process CPU above also counts background merges and whatever else the shared server runs meanwhile.
 */
async function insertAccount(format: string, since: number, until: number) {
  const db = createClickHouse({ url: services.clickhouseUrl, username: "default", password: "", database: "default" });
  try {
    await db.command(raw("SYSTEM FLUSH LOGS"));
    const cpu = (event: string) => sql`sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, ${event})]) / 1e6`;
    const [row] = await db.query<{ n: string; cpu_s: number; wall_s: number }>(
      sql`SELECT count() AS n, round(${cpu("UserTimeMicroseconds")} + ${cpu("SystemTimeMicroseconds")}, 2) AS cpu_s,
            round(sum(query_duration_ms) / 1e3, 2) AS wall_s
          FROM system.query_log
          WHERE type = 2 AND event_time >= toDateTime(${since}) AND event_time <= toDateTime(${until})
            AND query LIKE 'INSERT INTO %' AND query LIKE ${`%FORMAT ${format}%`} AND has(Settings.Names, 'log_queries')`,
    );
    return { inserts: Number(row?.n ?? 0), cpu_s: Number(row?.cpu_s ?? 0), wall_s: Number(row?.wall_s ?? 0) };
  } finally {
    await db.close();
  }
}

/**
 * Waits (at most 120 s) until ClickHouse runs no merge in `database` for a second: the ceiling's parts
 * are merged in the background after its INSERT returns, and that work belongs to the ceiling, not to
 * the worker phase that would otherwise pay for it. Returns the seconds waited.
 */
async function mergesSettled(database: string): Promise<number> {
  const db = createClickHouse({ url: services.clickhouseUrl, username: "default", password: "", database: "default" });
  const started = Date.now();
  try {
    for (let quiet = 0; quiet < 4 && Date.now() - started < 120_000; ) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const [row] = await db.query<{ n: string }>(sql`SELECT count() AS n FROM system.merges WHERE database = ${database}`);
      quiet = Number(row?.n ?? 0) === 0 ? quiet + 1 : 0;
    }
    return (Date.now() - started) / 1000;
  } finally {
    await db.close();
  }
}

function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match?.[1] ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function workerRun(topic: string, database: string, count: () => Promise<number>) {
  const urlSettings: [string, string][] = [["log_queries", "1"], ...INSERT_SETTINGS];
  const workerUrlSettings = urlSettings
    .map(([name, value]) => `clickhouse_setting_${name}=${encodeURIComponent(value)}`)
    .join("&");
  const env = {
    ...process.env,
    KAFKA_BROKERS: services.kafkaBrokers.join(","),
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: uniqueName("bench-worker"),
    // Logged queries let the run tell ClickHouse's CPU inside the worker's INSERTs from merges and other users.
    CLICKHOUSE_URL: `${services.clickhouseUrl}/?${workerUrlSettings}`,
    CLICKHOUSE_DATABASE: database,
    SERVER_PORT: String(await freePort()),
    METRICS_PORT: String(await freePort()),
    LOG_LEVEL: "warn",
    // Defaults are the worker's (config.ts) unless the bench is told otherwise.
    ...(process.env.BENCH_BATCH_MAX_ROWS ? { BATCH_MAX_ROWS: process.env.BENCH_BATCH_MAX_ROWS } : {}),
    ...(process.env.BENCH_BUFFER_MAX_ROWS ? { BUFFER_MAX_ROWS: process.env.BENCH_BUFFER_MAX_ROWS } : {}),
  };
  const started = Date.now();
  // BENCH_WORKER_NODE_ARGS (e.g. "--cpu-prof") goes to the worker's node, for profiling, after the
  // deployed flags (apps/worker/node-options, as in the image and scripts/apps.sh).
  const extra = (process.env.BENCH_WORKER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...appNodeFlags(ROOT, "worker"), ...extra, "--import", "tsx", "src/main.ts"], {
    cwd: join(ROOT, "apps/worker"),
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const pid = child.pid ?? 0;
  let peakRss = 0;
  let firstRowAt = 0;
  let rows = 0;
  try {
    while (rows < EVENTS) {
      if (Date.now() - started > TIMEOUT_MS) throw new Error(`worker stored ${rows} of ${EVENTS} rows in ${TIMEOUT_MS} ms`);
      if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
      peakRss = Math.max(peakRss, rssMb(pid));
      rows = await count();
      if (rows > 0 && firstRowAt === 0) firstRowAt = Date.now();
    }
    const done = { totalMs: Date.now() - started, sinkMs: Date.now() - firstRowAt, peakRssMb: peakRss, rows };
    const exposition = await fetch(`http://127.0.0.1:${env.METRICS_PORT}/metrics`).then((res) => res.text());
    const memory = Object.fromEntries(
      [
        ...exposition.matchAll(
          /^(nodejs_heap_size_total_bytes|nodejs_heap_size_used_bytes|nodejs_external_memory_bytes)\{[^}]*\} (\S+)/gm,
        ),
      ].map((match) => [match[1], Math.round(Number(match[2]) / 1048576)]),
    );
    const insertSeconds = Number(/^sluice_worker_insert_duration_seconds_sum\{[^}]*\} (\S+)/m.exec(exposition)?.[1] ?? 0);
    const inserts = Number(/^sluice_worker_insert_duration_seconds_count\{[^}]*\} (\S+)/m.exec(exposition)?.[1] ?? 0);
    log(`worker memory at the end (MB): ${JSON.stringify(memory)}; ${inserts} inserts took ${insertSeconds.toFixed(2)} s in all`);
    return done;
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
}

const topic = await createTestTopic(testKafka("bench-worker"), "bench-worker", PARTITIONS);
const workerDb = await freshDatabase(uniqueName("bench_worker"));
const [beforeDb, afterDb] = [await freshDatabase(uniqueName("bench_ceiling")), await freshDatabase(uniqueName("bench_ceiling"))];
const file = join(tmpdir(), `${uniqueName("bench-worker")}.jsonl`);
try {
  const load = () =>
    loadavg()
      .map((value) => value.toFixed(2))
      .join(" ");
  log(`producing ${EVENTS} events to ${topic} (${PARTITIONS} partitions) and writing ${file}; load average ${load()}`);
  const produceMs = await produceBacklog(topic, file);
  log(`backlog ready in ${(produceMs / 1000).toFixed(1)} s`);

  const seconds = () => Math.floor(Date.now() / 1000);
  /** One clickhouse-client run into `db`, then the wait for its background merges. */
  const ceilingRun = async (db: Awaited<ReturnType<typeof freshDatabase>>, when: string) => {
    const from = seconds();
    const { result: ms, cpu } = await measureCpu(() => ceiling(file, db.name));
    const inserts = await insertAccount("JSONEachRow", from, seconds());
    const rows = await db.count();
    const rowsPerS = Math.round(rows / (ms / 1000));
    log(
      `clickhouse-client (${when} the worker): ${rows} rows in ${(ms / 1000).toFixed(2)} s = ${rowsPerS} rows/s; ` +
        `CPU s: client ${cpu.child_s}, ClickHouse ${cpu.clickhouse_s} (${inserts.cpu_s} in its ${inserts.inserts} INSERTs)`,
    );
    const { result: settleS, cpu: settleCpu } = await measureCpu(() => mergesSettled(db.name));
    log(`its background merges settled in ${settleS.toFixed(1)} s (ClickHouse CPU ${settleCpu.clickhouse_s} s)`);
    return {
      ms,
      rows,
      rows_per_s: rowsPerS,
      cpu,
      inserts,
      merges_settled_s: Number(settleS.toFixed(1)),
      merges_cpu: settleCpu,
    };
  };
  const before = await ceilingRun(beforeDb, "before");

  log(`load average before the worker: ${load()}`);
  const workerFrom = seconds();
  const { result: worker, cpu: workerCpu } = await measureCpu(() => workerRun(topic, workerDb.name, workerDb.count));
  const workerInserts = await insertAccount("TabSeparated", workerFrom, seconds());
  const workerRate = worker.rows / (worker.totalMs / 1000);
  const sinkRate = worker.rows / (Math.max(1, worker.sinkMs) / 1000);
  log(
    `worker: ${worker.rows} rows in ${(worker.totalMs / 1000).toFixed(2)} s from process start = ${Math.round(workerRate)} rows/s ` +
      `(${Math.round(sinkRate)} rows/s from the first row), peak RSS ${worker.peakRssMb.toFixed(0)} MB; ` +
      `CPU s: worker ${workerCpu.child_s}, ClickHouse ${workerCpu.clickhouse_s}, Kafka ${workerCpu.kafka_s}`,
  );
  // The worker's parts are merged in the background after it ends: that work is the worker's, and would
  // slow the second ceiling.
  log(`the worker's background merges settled in ${(await mergesSettled(workerDb.name)).toFixed(1)} s`);
  const after = await ceilingRun(afterDb, "after");
  // Rows/s over both runs: total rows over total time.
  const ceilingRate = (before.rows + after.rows) / ((before.ms + after.ms) / 1000);
  // An INSERT's wall time beyond its CPU is time ClickHouse waited: for the body, or for a core.
  log(
    `ClickHouse inside the worker's ${workerInserts.inserts} INSERTs: CPU ${workerInserts.cpu_s} s over ${workerInserts.wall_s} s of wall time ` +
      `(the first ceiling's: ${before.inserts.cpu_s} s over ${before.inserts.wall_s} s); ` +
      `outside them (merges, other users): ${(workerCpu.clickhouse_s - workerInserts.cpu_s).toFixed(2)} s; ` +
      `merges: ${workerCpu.merged_rows} rows in ${workerCpu.merges_s} s (the first ceiling's: ${before.cpu.merged_rows + before.merges_cpu.merged_rows} rows); load average ${load()}`,
  );
  const result = {
    at: new Date().toISOString(),
    events: EVENTS,
    partitions: PARTITIONS,
    produce_ms: produceMs,
    load_average: loadavg().map((load) => Number(load.toFixed(2))),
    ceiling: {
      tool: `clickhouse-client JSONEachRow, blocks of ${CEILING_BLOCK_ROWS} rows`,
      insert_settings: Object.fromEntries(INSERT_SETTINGS),
      /** Over both runs. */
      rows_per_s: Math.round(ceilingRate),
      before,
      after,
    },
    worker: {
      ms_from_start: worker.totalMs,
      ms_from_first_row: worker.sinkMs,
      rows: worker.rows,
      rows_per_s: Math.round(workerRate),
      rows_per_s_from_first_row: Math.round(sinkRate),
      peak_rss_mb: Math.round(worker.peakRssMb),
      cpu: workerCpu,
      inserts: workerInserts,
    },
    ratio: Number((workerRate / ceilingRate).toFixed(3)),
    ratio_from_first_row: Number((sinkRate / ceilingRate).toFixed(3)),
    ratio_to_each_ceiling: [before, after].map((run) => Number((workerRate / run.rows_per_s).toFixed(3))),
  };
  log(
    `ratio worker / ceiling = ${result.ratio} (${result.ratio_from_first_row} from the first row; ` +
      `${result.ratio_to_each_ceiling.join(" and ")} to the ceilings before and after); goal >= 0.7, RSS < 300 MB`,
  );
  const dir = join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `worker-${result.at.replaceAll(":", "-")}.json`);
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${out}`);
} finally {
  rmSync(file, { force: true });
  await workerDb.drop();
  await beforeDb.drop();
  await afterDb.drop();
  const admin = testKafka("bench-worker").admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
}
