// `make bench-ingest`: requests/s and latency of (a) a bare node:http server answering 202 (the ceiling),
// (b) POST /events with real broker acknowledgements (default, every request logged, none logged), and
// (c) POST /events/batch with 100-event batches. Results go to bench/results/ingest-<timestamp>.json.
// APP_ROOT measures the ingest app of another checkout with this harness. The cases run in turn,
// BENCH_ROUNDS times (3), and each figure is the round with the median req/s: one 10 s run on the shared
// 2-core box moves about ±10 % with whatever else runs, so a ratio of two single runs could be off by 20 %.
import { spawn } from "node:child_process";
import { mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestTopic, freePort, testKafka } from "@sluice/testing";
import { appNodeFlags } from "../node-flags";
import { BATCH_SIZE, batchBodies, cpuSeconds, singleBodies, stop, waitForPort, wrkLoad } from "./common";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The checkout whose ingest app is measured: another one (a `git archive` of an older commit) compares before and after. */
const APP_ROOT = process.env.APP_ROOT ?? ROOT;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const WARMUP_S = 3;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const BATCH_CONNECTIONS = 32;
const ROUNDS = Math.max(1, Math.floor(Number(process.env.BENCH_ROUNDS ?? 3)) || 1);

interface Figures {
  name: string;
  requestsPerSec: number;
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** CPU (user + system) the server process used per request during the measured run: steadier than req/s on a shared machine. */
  serverCpuUsPerRequest: number;
  /** CPU the load generator (wrk) used per request, taken from the same 2 cores. */
  loadGeneratorCpuUsPerRequest: number;
}

async function load(
  url: string,
  bodies: string[],
  connections: number,
  durationS: number,
  eventsPerRequest: number,
  name: string,
  serverPid: number,
) {
  const cpuBefore = cpuSeconds(serverPid);
  const result = await wrkLoad(url, bodies, connections, durationS);
  const requests = Math.max(1, result.requests);
  const figures: Figures = {
    name,
    requestsPerSec: Math.round(result.requestsPerSec),
    eventsPerSec: Math.round(result.requestsPerSec * eventsPerRequest),
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    serverCpuUsPerRequest: Math.round(((cpuSeconds(serverPid) - cpuBefore) * 1e6) / requests),
    loadGeneratorCpuUsPerRequest: Math.round((result.loadGeneratorCpuS * 1e6) / requests),
  };
  return figures;
}

type Run<T> = (url: string, pid: number) => Promise<T>;

async function withBare<T>(run: Run<T>): Promise<T> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench/ingest/bare-server.ts"), String(port)], {
    cwd: ROOT,
    stdio: "ignore",
  });
  try {
    await waitForPort(child, `http://127.0.0.1:${port}/`);
    return await run(`http://127.0.0.1:${port}`, child.pid as number);
  } finally {
    await stop(child);
  }
}

async function withIngest<T>(topic: string, env: Record<string, string>, run: Run<T>): Promise<T> {
  const port = await freePort();
  const metricsPort = await freePort();
  const logFile = join(tmpdir(), `sluice-bench-ingest-${process.pid}-${port}.log`);
  const log = openSync(logFile, "w");
  const child = spawn(
    process.execPath,
    [...appNodeFlags(APP_ROOT), "--import", "tsx", join(APP_ROOT, "apps/ingest/src/main.ts")],
    {
      cwd: APP_ROOT,
      stdio: ["ignore", log, log],
      env: {
        ...process.env,
        NODE_ENV: "development",
        SERVER_HOST: "127.0.0.1",
        SERVER_PORT: String(port),
        METRICS_PORT: String(metricsPort),
        GRPC_PORT: String(await freePort()),
        KAFKA_TOPIC: topic,
        ...env,
      },
    },
  );
  try {
    await waitForPort(child, `http://127.0.0.1:${port}/health`);
    return await run(`http://127.0.0.1:${port}`, child.pid as number);
  } finally {
    await stop(child);
    rmSync(logFile, { force: true });
  }
}

async function measure(
  url: string,
  pid: number,
  bodies: string[],
  connections: number,
  eventsPerRequest: number,
  name: string,
): Promise<Figures> {
  await load(url, bodies, connections, WARMUP_S, eventsPerRequest, `${name} (warm-up)`, pid);
  const figures = await load(url, bodies, connections, DURATION_S, eventsPerRequest, name, pid);
  process.stdout.write(
    `  ${name}: ${figures.requestsPerSec} req/s, p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms, ` +
      `server CPU ${figures.serverCpuUsPerRequest} µs/request, wrk ${figures.loadGeneratorCpuUsPerRequest} µs/request (load average ${loadavg()[0]?.toFixed(2)})\n`,
  );
  return figures;
}

/** The run with the median req/s (the upper one of an even count). */
function median(runs: Figures[]): Figures {
  return [...runs].sort((x, y) => x.requestsPerSec - y.requestsPerSec)[Math.floor(runs.length / 2)] as Figures;
}

const kafka = testKafka("sluice-bench");
const topic = await createTestTopic(kafka, "bench-ingest", 6);
const cases: (() => Promise<Figures>)[] = [
  () => withBare((url, pid) => measure(`${url}/events`, pid, singleBodies, CONNECTIONS, 1, "(a) bare node:http 202")),
  () =>
    withIngest(topic, { LOG_LEVEL: "info" }, (url, pid) =>
      measure(`${url}/events`, pid, singleBodies, CONNECTIONS, 1, "(b) POST /events, default logging"),
    ),
  () =>
    withIngest(topic, { LOG_LEVEL: "info", ACCESS_LOG_SAMPLE_RATE: "1" }, (url, pid) =>
      measure(`${url}/events`, pid, singleBodies, CONNECTIONS, 1, "(b) POST /events, every request logged"),
    ),
  () =>
    withIngest(topic, { LOG_LEVEL: "warn" }, (url, pid) =>
      measure(`${url}/events`, pid, singleBodies, CONNECTIONS, 1, "(b) POST /events, no request logs"),
    ),
  () =>
    withIngest(topic, { LOG_LEVEL: "info" }, (url, pid) =>
      measure(`${url}/events/batch`, pid, batchBodies, BATCH_CONNECTIONS, BATCH_SIZE, "(c) POST /events/batch x100"),
    ),
];
const rounds: Figures[][] = [];
const loadAtStart = loadavg();
try {
  process.stdout.write(
    `bench-ingest: ${ROUNDS} rounds of ${DURATION_S}s per case, ${CONNECTIONS} connections, app ${APP_ROOT}, topic ${topic}, load average ${loadAtStart.map((l) => l.toFixed(2)).join(" ")}\n`,
  );
  for (let round = 1; round <= ROUNDS; round += 1) {
    process.stdout.write(`round ${round} of ${ROUNDS}\n`);
    const figures: Figures[] = [];
    for (const run of cases) figures.push(await run());
    rounds.push(figures);
  }
} finally {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
}

const results = cases.map((_, i) => median(rounds.map((figures) => figures[i] as Figures)));

/**
 * What case `logged` loses against the unlogged case, within each round (the two ran back to back)
 * and then the median over rounds: the box's drift between rounds is larger than the cost measured.
 */
function medianCost(logged: number): number {
  const costs = rounds
    .map((figures) => 1 - (figures[logged] as Figures).requestsPerSec / (figures[3] as Figures).requestsPerSec)
    .sort((x, y) => x - y);
  return costs[Math.floor(costs.length / 2)] as number;
}
const [bare, single, , , batch] = results as [Figures, Figures, Figures, Figures, Figures];
const summary = {
  at: new Date().toISOString(),
  durationS: DURATION_S,
  connections: CONNECTIONS,
  /** 1, 5 and 15 minute load averages when the bench started and ended: 2 cores are shared with other work. */
  loadAverage: { start: loadAtStart, end: loadavg() },
  rounds: ROUNDS,
  /** Each case's round with the median req/s, in case order: what the goals are judged on. */
  results,
  /** Every round's figures, in case order. */
  runs: rounds,
  singleVsCeiling: single.requestsPerSec / bare.requestsPerSec,
  /** (b)/(a) within each round, where the two ran one after the other. */
  singleVsCeilingByRound: rounds.map(
    (figures) => (figures[1] as Figures).requestsPerSec / (figures[0] as Figures).requestsPerSec,
  ),
  /** Throughput lost by logging every request compared with logging none: the median of the rounds' own ratios. */
  loggingCost: medianCost(2),
  /** Throughput lost by the default (sampled) access log compared with logging none, likewise. */
  defaultLoggingCost: medianCost(1),
  goals: {
    singleAtLeastHalfOfCeiling: single.requestsPerSec >= bare.requestsPerSec / 2,
    singleP99Below50Ms: single.p99Ms < 50,
    batchAtLeast150kEventsPerSec: batch.eventsPerSec >= 150_000,
  },
};
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
const file = join(ROOT, `bench/results/ingest-${summary.at.replaceAll(":", "-")}.json`);
writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);

console.table(
  results.map((r) => ({
    run: r.name,
    "req/s": r.requestsPerSec,
    "events/s": r.eventsPerSec,
    "p50 ms": r.p50Ms,
    "p99 ms": r.p99Ms,
    "CPU µs/req": r.serverCpuUsPerRequest,
    "non-2xx": r.non2xx,
    errors: r.errors + r.timeouts,
  })),
);
process.stdout.write(
  `(b)/(a) = ${(summary.singleVsCeiling * 100).toFixed(1)}% (by round ${summary.singleVsCeilingByRound.map((r) => `${(r * 100).toFixed(1)}%`).join(", ")})  cost of logging every request = ${(summary.loggingCost * 100).toFixed(1)}%, ` +
    `of the default sampled log = ${(summary.defaultLoggingCost * 100).toFixed(1)}%  load average at the end ${summary.loadAverage.end.map((l) => l.toFixed(2)).join(" ")}\n` +
    `goals: ${JSON.stringify(summary.goals)}\nwritten to ${file}\n`,
);
