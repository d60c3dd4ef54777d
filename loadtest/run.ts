// `make load-test` / `make load-test-quick`: runs loadtest/script.js with k6 against the running stack,
// then checks the pipeline end to end (every acknowledged event stored once, by run id) and writes
// loadtest/results/<timestamp>/{summary.json,summary.md,k6-report.html,k6-summary.json,k6-console.log}.
// Exit codes: 0 done (threshold results are in the summary), 1 the end-to-end check failed or the run
// broke, 99 thresholds crossed while LOAD_TEST_STRICT=1.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClickHouse } from "@sluice/clickhouse";
import { countRun, judge, waitForDrain } from "./e2e";
import { type K6Export, loadFigures, parseUnacked } from "./k6-summary";
import { runningPids, sampleProcesses } from "./proc";
import { loadProfile } from "./profile";
import { type LoadSummary, renderMarkdown } from "./report";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const env = process.env;

function numberEnv(name: string, fallback: number): number {
  const value = env[name] === undefined || env[name] === "" ? fallback : Number(env[name]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${env[name]}`);
  return value;
}

const settings = {
  loadScale: numberEnv("LOAD_SCALE", 1),
  loadRateScale: numberEnv("LOAD_RATE_SCALE", 1),
  batchShare: env.BATCH_SHARE === undefined ? 0.1 : Number(env.BATCH_SHARE),
  batchSize: numberEnv("BATCH_SIZE", 10),
  maxVus: numberEnv("MAX_VUS", 1000),
};
const INGEST_URL = env.INGEST_URL ?? "http://127.0.0.1:8080";
const QUERY_URL = env.QUERY_URL ?? "http://127.0.0.1:8081";
const WORKER_URL = env.WORKER_URL ?? "http://127.0.0.1:8082";
const WORKER_METRICS_URL = env.WORKER_METRICS_URL ?? "http://127.0.0.1:9102/metrics";
const DRAIN_TIMEOUT_MS = numberEnv("DRAIN_TIMEOUT_S", 180) * 1000;
const FRESHNESS_TIMEOUT_S = numberEnv("FRESHNESS_TIMEOUT_S", 60);
const STRICT = env.LOAD_TEST_STRICT === "1" || env.LOAD_TEST_STRICT === "true";
const LOCAL = env.SLUICE_LOCAL_DIR ?? join(ROOT, ".local");

const log = (message: string) => process.stdout.write(`[load-test] ${message}\n`);

async function waitReady(name: string, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status} ${await res.text()}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${name} at ${url} is not ready (${last}); start the stack with \`make start\``);
}

function runK6(k6: string, args: string[], childEnv: NodeJS.ProcessEnv, outputFile: string, timeoutMs: number) {
  const child = spawn(k6, args, { cwd: join(ROOT, "loadtest"), env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  const output = createWriteStream(outputFile);
  for (const stream of [child.stdout, child.stderr]) {
    stream.on("data", (chunk: Buffer) => {
      process.stdout.write(chunk);
      output.write(chunk);
    });
  }
  // k6 stops gracefully on SIGINT (and still writes its summary); the timer only guards a hung run.
  const timer = setTimeout(() => child.kill("SIGINT"), timeoutMs);
  const exited = new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      output.end();
      resolve(code ?? (signal ? 1 : 0));
    });
  });
  return { pid: child.pid ?? 0, exited };
}

function banner(message: string): void {
  const line = "!".repeat(Math.min(100, message.length + 8));
  process.stderr.write(`\n${line}\n!!! ${message}\n${line}\n\n`);
}

const stages = loadProfile(settings.loadScale, settings.loadRateScale);
const totalSeconds = stages.reduce((sum, stage) => sum + stage.seconds, 0);
const startedAt = new Date();
const runId = `lt-${startedAt.toISOString().replace(/[-:]/g, "").slice(0, 15).toLowerCase()}-${randomBytes(3).toString("hex")}`;
const dir = join(ROOT, "loadtest/results", startedAt.toISOString().replaceAll(":", "-"));
mkdirSync(dir, { recursive: true });

const k6 = execFileSync(join(ROOT, "scripts/ensure-k6.sh"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
const k6Version = execFileSync(k6, ["version"], { encoding: "utf8" }).split("\n")[0]?.trim() ?? "unknown";
await waitReady("ingest", INGEST_URL);
await waitReady("query", QUERY_URL);
await waitReady("worker", WORKER_URL);
log(
  `run ${runId}: ${totalSeconds} s of load (LOAD_SCALE=${settings.loadScale}, LOAD_RATE_SCALE=${settings.loadRateScale}), results in ${dir}`,
);
log(`stages: ${stages.map((s) => `${s.name} ${s.seconds}s→${s.target}/s`).join(", ")}`);

const summaryExport = join(dir, "k6-summary.json");
const consoleLog = join(dir, "k6-console.log");
// The dashboard aggregates per period and skips the report when a run has too few periods.
const period = Math.min(10, Math.max(1, Math.round(totalSeconds / 60)));
const k6Run = runK6(
  k6,
  ["run", "--no-usage-report", "--summary-export", summaryExport, "--console-output", consoleLog, "script.js"],
  {
    ...env,
    RUN_ID: runId,
    INGEST_URL,
    QUERY_URL,
    LOAD_SCALE: String(settings.loadScale),
    LOAD_RATE_SCALE: String(settings.loadRateScale),
    BATCH_SHARE: String(settings.batchShare),
    BATCH_SIZE: String(settings.batchSize),
    MAX_VUS: String(settings.maxVus),
    FRESHNESS_TIMEOUT_S: String(FRESHNESS_TIMEOUT_S),
    K6_WEB_DASHBOARD: "true",
    K6_WEB_DASHBOARD_PORT: "-1",
    K6_WEB_DASHBOARD_PERIOD: `${period}s`,
    K6_WEB_DASHBOARD_EXPORT: join(dir, "k6-report.html"),
  },
  join(dir, "k6-output.txt"),
  (totalSeconds + FRESHNESS_TIMEOUT_S + 180) * 1000,
);
const sampler = sampleProcesses({
  ...runningPids(LOCAL, ["ingest", "worker", "query", "kafka", "clickhouse"]),
  k6: k6Run.pid,
});
const k6ExitCode = await k6Run.exited;
const usage = sampler.stop();
if (k6ExitCode !== 0 && k6ExitCode !== 99) banner(`k6 exited with code ${k6ExitCode}; see ${join(dir, "k6-output.txt")}`);
if (!existsSync(summaryExport)) {
  banner(`k6 wrote no summary (${summaryExport}); the run cannot be judged`);
  process.exit(1);
}

const figures = loadFigures(JSON.parse(readFileSync(summaryExport, "utf8")) as K6Export, stages);
const unackedIds = existsSync(consoleLog) ? parseUnacked(readFileSync(consoleLog, "utf8")) : [];

const db = createClickHouse({
  url: env.CLICKHOUSE_URL ?? `http://${env.CLICKHOUSE_HOST ?? "127.0.0.1"}:${env.CLICKHOUSE_PORT ?? "8123"}`,
  database: env.CLICKHOUSE_DATABASE ?? "sluice",
  username: env.CLICKHOUSE_USERNAME ?? "default",
  password: env.CLICKHOUSE_PASSWORD ?? "",
  requestTimeoutMs: 120_000,
});
const since = startedAt.getTime() - 60_000;
log(`k6 counted ${figures.events.accepted} acknowledged events; waiting for the worker to store them`);
const drain = await waitForDrain({
  workerMetricsUrl: WORKER_METRICS_URL,
  timeoutMs: DRAIN_TIMEOUT_MS,
  count: async () => (await countRun(db, runId, since, [])).rows,
  log,
});
const verdict = judge(figures.events.accepted, figures.events.unacked, await countRun(db, runId, since, unackedIds));
await db.close();
if (!drain.drained) {
  verdict.problems.push(`the worker did not drain within ${DRAIN_TIMEOUT_MS / 1000} s (DRAIN_TIMEOUT_S)`);
  verdict.ok = false;
}
if (unackedIds.length !== figures.events.unacked) {
  verdict.problems.push(
    `k6 counted ${figures.events.unacked} unacknowledged events but logged ${unackedIds.length} ids (k6-console.log), so the check is not exact`,
  );
  verdict.ok = false;
}

const summary: LoadSummary = {
  runId,
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    k6: k6Version,
  },
  settings,
  k6ExitCode,
  thresholdsOk: figures.thresholds.every((t) => t.ok),
  figures,
  endToEnd: { ...verdict, drained: drain.drained, drainWaitMs: drain.waitedMs },
  usage,
};
const markdown = renderMarkdown(summary);
writeFileSync(join(dir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(join(dir, "summary.md"), markdown);
process.stdout.write(`\n${markdown}\n`);
log(`results: ${dir}/summary.md, summary.json, k6-report.html`);

if (!summary.endToEnd.ok) {
  banner(`END-TO-END CHECK FAILED for run ${runId}: ${summary.endToEnd.problems.join("; ")}`);
  process.exit(1);
}
if (k6ExitCode !== 0 && k6ExitCode !== 99) process.exit(1);
if (!summary.thresholdsOk) {
  const crossed = figures.thresholds.filter((t) => !t.ok).map((t) => `${t.metric} ${t.expression}`);
  banner(`THRESHOLDS CROSSED (${crossed.length}): ${crossed.join(", ")}`);
  if (STRICT) process.exit(99);
}
