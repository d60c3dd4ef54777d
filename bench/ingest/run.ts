// `make bench-ingest`: requests/s and latency of (a) a bare node:http server answering 202 (the ceiling),
// (b) POST /events with real broker acknowledgements (default, every request logged, none logged), and
// (c) POST /events/batch with 100-event batches. Results go to bench/results/ingest-<timestamp>.json.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestTopic, freePort, testKafka } from "@sluice/testing";
import autocannon from "autocannon";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const WARMUP_S = 3;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const BATCH_CONNECTIONS = 32;
const BATCH_SIZE = 100;

interface Figures {
  name: string;
  requestsPerSec: number;
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

function sampleEvent(i: number): Record<string, unknown> {
  return {
    event_name: ["page_view", "signup", "purchase", "add_to_cart"][i % 4],
    user_id: `user-${i % 5000}`,
    timestamp: Date.now(),
    channel: "web",
    session_id: `s-${i % 900}`,
    tags: ["bench", "ingest"],
    metadata: { plan: "pro", seats: i % 10, trial: i % 2 === 0, path: `/pricing/${i % 50}` },
    device: { os: "iOS", os_version: "18.1", browser: "Safari" },
  };
}

const singleBodies = Array.from({ length: 1000 }, (_, i) => JSON.stringify(sampleEvent(i)));
const batchBodies = Array.from({ length: 50 }, (_, b) =>
  JSON.stringify({ events: Array.from({ length: BATCH_SIZE }, (_, i) => sampleEvent(b * BATCH_SIZE + i)) }),
);

async function load(
  url: string,
  bodies: string[],
  connections: number,
  durationS: number,
  eventsPerRequest: number,
  name: string,
) {
  let next = 0;
  const result = await autocannon({
    url,
    connections,
    duration: durationS,
    method: "POST",
    headers: { "content-type": "application/json" },
    requests: [
      {
        setupRequest: (request) => {
          next = (next + 1) % bodies.length;
          return { ...request, body: bodies[next] };
        },
      },
    ],
  });
  const figures: Figures = {
    name,
    requestsPerSec: Math.round(result.requests.average),
    eventsPerSec: Math.round(result.requests.average * eventsPerRequest),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
  return figures;
}

async function waitForPort(child: ChildProcess, url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

async function withBare<T>(run: (url: string) => Promise<T>): Promise<T> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench/ingest/bare-server.ts"), String(port)], {
    cwd: ROOT,
    stdio: "ignore",
  });
  try {
    await waitForPort(child, `http://127.0.0.1:${port}/`);
    return await run(`http://127.0.0.1:${port}`);
  } finally {
    await stop(child);
  }
}

async function withIngest<T>(topic: string, env: Record<string, string>, run: (url: string) => Promise<T>): Promise<T> {
  const port = await freePort();
  const metricsPort = await freePort();
  const logFile = join(tmpdir(), `sluice-bench-ingest-${process.pid}-${port}.log`);
  const log = openSync(logFile, "w");
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "apps/ingest/src/main.ts")], {
    cwd: ROOT,
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
  });
  try {
    await waitForPort(child, `http://127.0.0.1:${port}/health`);
    return await run(`http://127.0.0.1:${port}`);
  } finally {
    await stop(child);
    rmSync(logFile, { force: true });
  }
}

async function measure(url: string, bodies: string[], connections: number, eventsPerRequest: number, name: string) {
  await load(url, bodies, connections, WARMUP_S, eventsPerRequest, `${name} (warm-up)`);
  const figures = await load(url, bodies, connections, DURATION_S, eventsPerRequest, name);
  process.stdout.write(`  ${name}: ${figures.requestsPerSec} req/s, p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms\n`);
  return figures;
}

const kafka = testKafka("sluice-bench");
const topic = await createTestTopic(kafka, "bench-ingest", 6);
const results: Figures[] = [];
try {
  process.stdout.write(`bench-ingest: ${DURATION_S}s per run, ${CONNECTIONS} connections, topic ${topic}\n`);
  results.push(await withBare((url) => measure(`${url}/events`, singleBodies, CONNECTIONS, 1, "(a) bare node:http 202")));
  results.push(
    await withIngest(topic, { LOG_LEVEL: "info" }, (url) =>
      measure(`${url}/events`, singleBodies, CONNECTIONS, 1, "(b) POST /events, default logging"),
    ),
  );
  results.push(
    await withIngest(topic, { LOG_LEVEL: "info", ACCESS_LOG_SAMPLE_RATE: "1" }, (url) =>
      measure(`${url}/events`, singleBodies, CONNECTIONS, 1, "(b) POST /events, every request logged"),
    ),
  );
  results.push(
    await withIngest(topic, { LOG_LEVEL: "warn" }, (url) =>
      measure(`${url}/events`, singleBodies, CONNECTIONS, 1, "(b) POST /events, no request logs"),
    ),
  );
  results.push(
    await withIngest(topic, { LOG_LEVEL: "info" }, (url) =>
      measure(`${url}/events/batch`, batchBodies, BATCH_CONNECTIONS, BATCH_SIZE, "(c) POST /events/batch x100"),
    ),
  );
} finally {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
}

const [bare, single, logged, quiet, batch] = results as [Figures, Figures, Figures, Figures, Figures];
const summary = {
  at: new Date().toISOString(),
  durationS: DURATION_S,
  connections: CONNECTIONS,
  results,
  singleVsCeiling: single.requestsPerSec / bare.requestsPerSec,
  /** Throughput lost by logging every request compared with logging none. */
  loggingCost: 1 - logged.requestsPerSec / quiet.requestsPerSec,
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
    "non-2xx": r.non2xx,
    errors: r.errors + r.timeouts,
  })),
);
process.stdout.write(
  `(b)/(a) = ${(summary.singleVsCeiling * 100).toFixed(1)}%  cost of logging every request = ${(summary.loggingCost * 100).toFixed(1)}%  ` +
    `goals: ${JSON.stringify(summary.goals)}\nwritten to ${file}\n`,
);
