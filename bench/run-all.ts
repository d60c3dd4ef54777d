// `make bench`: the ingest, worker and query benchmarks in one go (each as its own process, results read
// from the JSON it writes), then RSS of the running apps under a steady load with request latency
// sampled every second, then time-to-ready of each app started fresh. Writes
// bench/results/<timestamp>.json, .md (every figure next to its ceiling as a ratio) and .png (latency
// over time). BENCH_ONLY=ingest,worker,query,load,ready runs a subset.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase, createTestTopic, freePort, testKafka, uniqueName } from "@sluice/testing";
import autocannon from "autocannon";
import { rssMb, runningPids, sampleProcesses } from "../loadtest/proc";
import { cycleBodies } from "./bodies";
import { COLORS, renderChart } from "./chart";
import { type BenchReport, type Figure, percentile, renderBenchMarkdown } from "./report";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RESULTS = join(ROOT, "bench/results");
const env = process.env;
const ONLY = new Set((env.BENCH_ONLY ?? "ingest,worker,query,load,ready").split(",").map((s) => s.trim()));
const INGEST_URL = env.INGEST_URL ?? "http://127.0.0.1:8080";
const QUERY_URL = env.QUERY_URL ?? "http://127.0.0.1:8081";
const LOAD_RATE = Number(env.BENCH_LOAD_RATE ?? 1000);
const LOAD_SECONDS = Number(env.BENCH_LOAD_S ?? 60);
const READY_RUNS = Number(env.BENCH_READY_RUNS ?? 3);
const STEP_TIMEOUT_MS = Number(env.BENCH_STEP_TIMEOUT_S ?? 600) * 1000;
const LOCAL = env.SLUICE_LOCAL_DIR ?? join(ROOT, ".local");

const log = (message: string) => process.stdout.write(`[bench] ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for a child to exit; SIGTERM after `timeoutMs`, SIGKILL 15 s later. */
function exitOf(child: ChildProcess, timeoutMs: number): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const term = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    const kill = setTimeout(() => child.kill("SIGKILL"), timeoutMs + 15_000);
    child.once("exit", (code) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve(code ?? 1);
    });
  });
}

/** The benches read generic BENCH_* names; each gets only the overrides meant for it. */
function childEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(
    Object.entries(env).filter(([key]) => !/^BENCH_(EVENTS|REQUESTS|DURATION_S|CASE_SECONDS)$/.test(key)),
  );
  return { ...clean, ...overrides };
}

/** Runs one of the existing benches and returns the JSON result file it wrote. */
async function runBench(name: string, overrides: Record<string, string>) {
  const before = new Set(readdirSync(RESULTS));
  const started = Date.now();
  log(`running bench/${name}/run.ts ${JSON.stringify(overrides)}`);
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, `bench/${name}/run.ts`)], {
    cwd: ROOT,
    env: childEnv(overrides),
    stdio: ["ignore", "inherit", "inherit"],
  });
  const code = await exitOf(child, STEP_TIMEOUT_MS);
  const file = readdirSync(RESULTS)
    .filter((f) => f.startsWith(`${name}-`) && f.endsWith(".json") && !before.has(f))
    .sort()
    .at(-1);
  if (code !== 0 || !file) throw new Error(`bench ${name} exited with ${code}${file ? "" : " and wrote no result"}`);
  return {
    file: `bench/results/${file}`,
    seconds: Math.round((Date.now() - started) / 1000),
    result: JSON.parse(readFileSync(join(RESULTS, file), "utf8")),
  };
}

const CHANNELS = ["web", "mobile", "api", "email", "push", "desktop", "tv", "console", "other"];
const NAMES = ["page_view", "click", "search", "add_to_cart", "purchase", "signup", "login", "share", "video_play", "logout"];

/** Steady POST /events at LOAD_RATE plus GET /metrics one at a time, latency per second, RSS of the apps. */
async function underLoad() {
  const pids = runningPids(LOCAL, ["ingest", "worker", "query"]);
  if (Object.keys(pids).length < 3)
    throw new Error(`the apps are not all running (found ${Object.keys(pids).join(", ") || "none"}); run make start`);
  const runId = `bench-${Date.now()}`;
  const bodies = Array.from({ length: 1000 }, (_, i) =>
    JSON.stringify({
      event_name: NAMES[i % NAMES.length],
      user_id: `user-${(i * 7919) % 100_000}`,
      timestamp: Date.now(),
      channel: CHANNELS[i % CHANNELS.length],
      tags: ["bench"],
      metadata: { run_id: runId, path: `/p/${i % 50}`, amount: i % 100, logged_in: i % 2 === 0 },
      device: { os: "ios", browser: "safari" },
    }),
  );
  const seconds = Array.from({ length: LOAD_SECONDS + 5 }, () => ({ ingest: [] as number[], non2xx: 0, query: [] as number[] }));
  const rss: Record<string, (number | null)[]> = Object.fromEntries(Object.keys(pids).map((name) => [name, []]));
  const sampler = sampleProcesses(pids);
  const t0 = Date.now();
  const slot = () => seconds[Math.min(seconds.length - 1, Math.floor((Date.now() - t0) / 1000))];
  const rssTimer = setInterval(() => {
    for (const [name, pid] of Object.entries(pids)) rss[name]?.push(rssMb(pid) ?? null);
  }, 1000);
  let finish: (result: autocannon.Result) => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const instance = autocannon(
    {
      url: `${INGEST_URL}/events`,
      connections: 32,
      overallRate: LOAD_RATE,
      duration: LOAD_SECONDS,
      method: "POST",
      headers: { "content-type": "application/json" },
      requests: cycleBodies(bodies),
    },
    (error, result) => (error ? fail(error) : finish(result)),
  );
  instance.on("response", (_client, statusCode, _bytes, responseTime) => {
    const s = slot();
    s?.ingest.push(responseTime);
    if (s && (statusCode < 200 || statusCode >= 300)) s.non2xx++;
  });
  let loading = true;
  const queries = (async () => {
    while (loading) {
      const started = performance.now();
      const res = await fetch(`${QUERY_URL}/metrics?group_by=hour`).catch(() => undefined);
      await res?.arrayBuffer();
      slot()?.query.push(performance.now() - started);
      await sleep(200);
    }
  })();
  const result = await finished;
  loading = false;
  await queries;
  clearInterval(rssTimer);
  const usage = sampler.stop();
  const used = seconds.slice(0, LOAD_SECONDS);
  const allIngest = used.flatMap((s) => s.ingest).sort((a, b) => a - b);
  const allQuery = used.flatMap((s) => s.query).sort((a, b) => a - b);
  return {
    rate: LOAD_RATE,
    seconds: LOAD_SECONDS,
    ingest: {
      requestsPerSec: Math.round(result.requests.average),
      p50Ms: percentile(allIngest, 50),
      p99Ms: percentile(allIngest, 99),
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    },
    query: { requests: allQuery.length, p50Ms: percentile(allQuery, 50), p99Ms: percentile(allQuery, 99) },
    processes: usage.processes,
    loadAverage: usage.loadAverage,
    series: {
      ingestP50: used.map((s) =>
        s.ingest.length
          ? percentile(
              [...s.ingest].sort((a, b) => a - b),
              50,
            )
          : null,
      ),
      ingestP99: used.map((s) =>
        s.ingest.length
          ? percentile(
              [...s.ingest].sort((a, b) => a - b),
              99,
            )
          : null,
      ),
      ingestRps: used.map((s) => s.ingest.length),
      non2xx: used.map((s) => s.non2xx),
      queryMs: used.map((s) =>
        s.query.length
          ? percentile(
              [...s.query].sort((a, b) => a - b),
              50,
            )
          : null,
      ),
      rss,
    },
  };
}

/** Starts a process and times it until `url` answers 200 (any answer for the bare server's 202); returns the time and the RSS right then. */
async function timeUntilAnswer(args: string[], cwd: string, extraEnv: Record<string, string>, url: string, anyAnswer: boolean) {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd, env: { ...env, ...extraEnv }, stdio: "ignore" });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(" ")} exited with ${child.exitCode} before ${url} answered`);
      if (performance.now() - started > 60_000) throw new Error(`${url} did not answer 200 within 60 s`);
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      if (res && (res.status === 200 || anyAnswer)) {
        await res.arrayBuffer();
        return { ms: Math.round(performance.now() - started), rssMb: Math.round(rssMb(child.pid ?? 0) ?? 0) };
      }
      await res?.arrayBuffer();
      await sleep(20);
    }
  } finally {
    child.kill("SIGTERM");
    await exitOf(child, 15_000);
  }
}

/** Each app started fresh (as scripts/apps.sh starts it) until /ready is 200, against a fresh topic and database. */
async function timeToReady() {
  const kafka = testKafka("bench-ready");
  const topic = await createTestTopic(kafka, "bench-ready", 3);
  const dlq = await createTestTopic(kafka, "bench-ready-dlq", 1);
  const database = await createTestDatabase({ migrate: true });
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  try {
    const out: Record<string, { medianMs: number; runsMs: number[]; rssAtReadyMb: number }> = {};
    const targets: [string, string[], string, (port: number) => Record<string, string>, string][] = [
      ["bare node:http", ["--import", "tsx", join(ROOT, "bench/ingest/bare-server.ts")], ROOT, () => ({}), "/"],
      [
        "ingest",
        ["--enable-source-maps", "--import", "tsx", "src/main.ts"],
        join(ROOT, "apps/ingest"),
        () => ({ KAFKA_TOPIC: topic }),
        "/ready",
      ],
      [
        "worker",
        ["--enable-source-maps", "--import", "tsx", "src/main.ts"],
        join(ROOT, "apps/worker"),
        () => ({
          KAFKA_TOPIC: topic,
          KAFKA_DLQ_TOPIC: dlq,
          KAFKA_GROUP_ID: uniqueName("bench-ready"),
          CLICKHOUSE_DATABASE: database.name,
        }),
        "/ready",
      ],
      [
        "query",
        ["--enable-source-maps", "--import", "tsx", "src/main.ts"],
        join(ROOT, "apps/query"),
        () => ({ CLICKHOUSE_DATABASE: database.name }),
        "/ready",
      ],
    ];
    for (const [name, args, cwd, extra, path] of targets) {
      const runs: { ms: number; rssMb: number }[] = [];
      for (let i = 0; i < READY_RUNS; i++) {
        const port = await freePort();
        const appEnv = {
          SERVER_HOST: "127.0.0.1",
          SERVER_PORT: String(port),
          METRICS_PORT: String(await freePort()),
          GRPC_PORT: String(await freePort()),
          LOG_LEVEL: "warn",
          ...extra(port),
        };
        const argv = name === "bare node:http" ? [...args, String(port)] : args;
        runs.push(await timeUntilAnswer(argv, cwd, appEnv, `http://127.0.0.1:${port}${path}`, name === "bare node:http"));
      }
      out[name] = {
        medianMs: median(runs.map((r) => r.ms)),
        runsMs: runs.map((r) => r.ms),
        rssAtReadyMb: median(runs.map((r) => r.rssMb)),
      };
      log(`time to ready ${name}: ${out[name]?.runsMs.join(", ")} ms`);
    }
    return out;
  } finally {
    await database.drop();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, dlq] }).catch(() => undefined);
    await admin.disconnect();
  }
}

const startedAt = new Date();
const stamp = startedAt.toISOString().replaceAll(":", "-");
mkdirSync(RESULTS, { recursive: true });
const report: BenchReport = {
  at: startedAt.toISOString(),
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
  },
  loadAverageAtStart: loadavg().map((v) => Math.round(v * 100) / 100),
  steps: {},
  figures: [],
};
const steps: [string, () => Promise<unknown>][] = [
  ["ingest", () => runBench("ingest", { BENCH_DURATION_S: env.BENCH_INGEST_DURATION_S ?? "10" })],
  ["worker", () => runBench("worker", { BENCH_EVENTS: env.BENCH_WORKER_EVENTS ?? "1000000" })],
  [
    "query",
    () =>
      runBench("query", {
        BENCH_EVENTS: env.BENCH_QUERY_EVENTS ?? "10000000",
        BENCH_REQUESTS: env.BENCH_QUERY_REQUESTS ?? "100",
        BENCH_CASE_SECONDS: env.BENCH_QUERY_CASE_SECONDS ?? "8",
      }),
  ],
  ["load", underLoad],
  ["ready", timeToReady],
];
for (const [name, step] of steps) {
  if (!ONLY.has(name)) continue;
  const began = Date.now();
  try {
    report.steps[name] = { ok: true, seconds: 0, data: await step() };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`step ${name} FAILED: ${message}`);
    report.steps[name] = { ok: false, seconds: 0, error: message };
  }
  const entry = report.steps[name];
  if (entry) entry.seconds = Math.round((Date.now() - began) / 1000);
}
report.loadAverageAtEnd = loadavg().map((v) => Math.round(v * 100) / 100);
report.finishedAt = new Date().toISOString();

const load = report.steps.load?.ok ? (report.steps.load.data as Awaited<ReturnType<typeof underLoad>>) : undefined;
if (load) {
  const chart = renderChart({
    title: `Sluice under a steady ${LOAD_RATE} req/s, ${report.at.slice(0, 16).replace("T", " ")} UTC`,
    xLabel: "seconds into the run",
    panels: [
      {
        title: "POST /events latency",
        unit: "ms",
        series: [
          { label: "p50", color: COLORS.blue, values: load.series.ingestP50 },
          { label: "p99", color: COLORS.red, values: load.series.ingestP99 },
        ],
      },
      {
        title: "GET /metrics latency, one at a time",
        unit: "ms",
        series: [{ label: "p50", color: COLORS.orange, values: load.series.queryMs }],
      },
      {
        title: "POST /events answered",
        unit: "req/s",
        series: [
          { label: "all", color: COLORS.green, values: load.series.ingestRps },
          { label: "non-2xx", color: COLORS.red, values: load.series.non2xx },
        ],
      },
      {
        title: "resident memory",
        unit: "MB",
        series: Object.entries(load.series.rss).map(([name, values], i) => ({
          label: name,
          color: [COLORS.blue, COLORS.gray, COLORS.orange][i % 3] ?? COLORS.gray,
          values: values.map((v) => (v === null ? null : Math.round(v))),
        })),
      },
    ],
    panelHeight: 250,
  });
  writeFileSync(join(RESULTS, `${stamp}.png`), chart);
  report.chart = `${stamp}.png`;
}
report.figures = collectFigures(report);
writeFileSync(join(RESULTS, `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
const markdown = renderBenchMarkdown(report);
writeFileSync(join(RESULTS, `${stamp}.md`), markdown);
process.stdout.write(`\n${markdown}\n`);
log(`results: bench/results/${stamp}.json, .md${report.chart ? ", .png" : ""}`);
const failed = Object.entries(report.steps).filter(([, s]) => !s.ok);
if (failed.length) {
  log(`FAILED steps: ${failed.map(([name]) => name).join(", ")}`);
  process.exit(1);
}

/** Every figure of the run with its ceiling where one exists. */
function collectFigures(r: BenchReport): Figure[] {
  const figures: Figure[] = [];
  const add = (f: Figure) => figures.push(f);
  const ingest = r.steps.ingest?.ok ? (r.steps.ingest.data as { result: IngestResult }).result : undefined;
  if (ingest) {
    const [bare, single, logged, quiet, batch] = ingest.results;
    const ceiling = {
      name: "bare node:http 202",
      requestsPerSec: bare?.requestsPerSec ?? 0,
      p50Ms: bare?.p50Ms ?? 0,
      p99Ms: bare?.p99Ms ?? 0,
    };
    for (const row of [single, logged, quiet]) {
      if (!row) continue;
      add({
        area: "ingest",
        figure: `${row.name}: throughput`,
        value: row.requestsPerSec,
        unit: "req/s",
        ceiling: ceiling.requestsPerSec,
        ceilingName: ceiling.name,
      });
    }
    if (single) {
      add({
        area: "ingest",
        figure: `${single.name}: p50`,
        value: single.p50Ms,
        unit: "ms",
        ceiling: ceiling.p50Ms,
        ceilingName: ceiling.name,
      });
      add({
        area: "ingest",
        figure: `${single.name}: p99`,
        value: single.p99Ms,
        unit: "ms",
        ceiling: ceiling.p99Ms,
        ceilingName: ceiling.name,
      });
    }
    if (batch) {
      add({
        area: "ingest",
        figure: `${batch.name}: requests`,
        value: batch.requestsPerSec,
        unit: "req/s",
        ceiling: ceiling.requestsPerSec,
        ceilingName: ceiling.name,
      });
      add({
        area: "ingest",
        figure: `${batch.name}: events`,
        value: batch.eventsPerSec,
        unit: "events/s",
        ceiling: null,
        ceilingName: "",
      });
    }
  }
  const worker = r.steps.worker?.ok ? (r.steps.worker.data as { result: WorkerResult }).result : undefined;
  if (worker) {
    const ceilingName = "clickhouse-client insert of the same rows (before and after the worker)";
    add({
      area: "worker",
      figure: "rows/s from process start",
      value: worker.worker.rows_per_s,
      unit: "rows/s",
      ceiling: worker.ceiling.rows_per_s,
      ceilingName,
    });
    add({
      area: "worker",
      figure: "rows/s from the first row",
      value: worker.worker.rows_per_s_from_first_row,
      unit: "rows/s",
      ceiling: worker.ceiling.rows_per_s,
      ceilingName,
    });
    add({
      area: "worker",
      figure: `peak RSS sinking ${worker.events.toLocaleString("en-US")} events`,
      value: worker.worker.peak_rss_mb,
      unit: "MB",
      ceiling: null,
      ceilingName: "",
    });
  }
  const query = r.steps.query?.ok ? (r.steps.query.data as { result: QueryResult }).result : undefined;
  for (const row of query?.results ?? []) {
    const name = `GET /metrics group_by=${row.group_by} ${row.event_name ? `event_name=${row.event_name}` : "(all events)"}`;
    add({
      area: "query",
      figure: `${name}: p50 / p99`,
      value: row.sequential.p50Ms,
      value2: row.sequential.p99Ms,
      unit: "ms",
      ceiling: null,
      ceilingName: "",
    });
    add({
      area: "query",
      figure: `${name}, answer cache: repeated p50 / p99 (first request ${row.cached.firstMs} ms)`,
      value: row.cached.p50Ms,
      value2: row.cached.p99Ms,
      unit: "ms",
      ceiling: null,
      ceilingName: "",
    });
  }
  if (load) {
    add({
      area: "under load",
      figure: `POST /events at ${load.rate} req/s: achieved`,
      value: load.ingest.requestsPerSec,
      unit: "req/s",
      ceiling: load.rate,
      ceilingName: "the offered rate",
    });
    add({
      area: "under load",
      figure: "POST /events p50 / p99",
      value: load.ingest.p50Ms,
      value2: load.ingest.p99Ms,
      unit: "ms",
      ceiling: null,
      ceilingName: "",
    });
    add({
      area: "under load",
      figure: "GET /metrics?group_by=hour p50 / p99",
      value: load.query.p50Ms,
      value2: load.query.p99Ms,
      unit: "ms",
      ceiling: null,
      ceilingName: "",
    });
  }
  const ready = r.steps.ready?.ok ? (r.steps.ready.data as Awaited<ReturnType<typeof timeToReady>>) : undefined;
  const bare = ready?.["bare node:http"];
  for (const p of load?.processes ?? []) {
    add({
      area: "RSS under load",
      figure: `${p.name} peak RSS (${p.cpuCores} cores of CPU)`,
      value: p.peakRssMb,
      unit: "MB",
      ceiling: bare?.rssAtReadyMb ?? null,
      ceilingName: "bare node:http at rest (a floor)",
    });
  }
  for (const name of ["ingest", "worker", "query"]) {
    const app = ready?.[name];
    if (!app || !bare) continue;
    add({
      area: "time to ready",
      figure: `${name}: spawn → /ready 200 (median of ${app.runsMs.length})`,
      value: app.medianMs,
      unit: "ms",
      ceiling: bare.medianMs,
      ceilingName: "bare node:http spawn → first answer",
    });
  }
  return figures;
}

interface IngestRow {
  name: string;
  requestsPerSec: number;
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}
interface IngestResult {
  results: IngestRow[];
}
interface WorkerResult {
  events: number;
  ceiling: { rows_per_s: number };
  worker: { rows_per_s: number; rows_per_s_from_first_row: number; peak_rss_mb: number };
}
interface QueryResult {
  results: {
    group_by: string;
    event_name: string | null;
    sequential: { p50Ms: number; p99Ms: number };
    cached: { firstMs: number; p50Ms: number; p99Ms: number };
  }[];
}
