/**
 * `make chaos`: a steady load of acknowledged events through the real ingest app and worker (child
 * processes) on a private broker and ClickHouse, while in turn the worker is killed with SIGKILL three
 * times, the ingest app gets SIGTERM once, the broker is restarted once and ClickHouse is stopped for
 * 15 s. Afterwards the client's ledger must match ClickHouse exactly (see reconcile.ts), and the run
 * prints its figures. Exits 1 on any lost, doubled or unknown event or any broken promise.
 *
 * CHAOS_SEED (default 7) fixes when the worker is killed; CHAOS_RATE scales the load (default 1 ≈ 300 events/s);
 * CHAOS_STEPS picks disruptions to reproduce one alone (worker-kill,ingest-term,broker-restart,clickhouse-stop).
 */
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { type ClickHouse, createClickHouse, ensureDatabase, loadMigrations, migrate, raw, sql } from "@sluice/clickhouse";
import { freePort, MIGRATIONS_DIR, type PrivateService, startPrivateClickHouse, startPrivateKafka } from "@sluice/testing";
import { Load } from "./load";
import { type AppProcess, gone, isReady, launch, readiness, spawnApp, stopApp, waitFor } from "./processes";
import { reconcile } from "./reconcile";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const SEED = Number(process.env.CHAOS_SEED ?? 7);
const RATE = Number(process.env.CHAOS_RATE ?? 1);
const CLICKHOUSE_DOWN_MS = 15_000;
const BROKER_DOWN_MS = 5_000;
const RECOVERY_TIMEOUT_MS = 120_000;
const SHUTDOWN_TIMEOUT_MS = 8_000;
const API_KEY = `chaos-${randomUUID()}`;
const STEPS = (process.env.CHAOS_STEPS ?? "worker-kill,ingest-term,broker-restart,clickhouse-stop").split(",").filter(Boolean);

/** A small seeded PRNG (mulberry32) so the moments of the kills are reproducible. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = seeded(SEED);
const started = Date.now();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (message: string) =>
  process.stdout.write(`[chaos ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${message}\n`);

interface Recovery {
  disruption: string;
  /** How long the disruption itself lasted (service down, or process gone). */
  downMs: number;
  /** From the end of the disruption until ingest and worker both answer /ready 200. */
  readyMs: number;
  /** From the end of the disruption until an event acknowledged after it is stored in ClickHouse. */
  endToEndMs: number;
}

const runDir = `${REPO}/.local/chaos/${new Date().toISOString().replaceAll(":", "-").slice(0, 19)}`;
await mkdir(runDir, { recursive: true });
say(`seed ${SEED}, logs in ${runDir}`);

const [kafka, clickhouse] = await Promise.all([startPrivateKafka(), startPrivateClickHouse()]);
say(`private broker ${kafka.address}, private ClickHouse ${clickhouse.address}`);
const apps: AppProcess[] = [];
/** Kills the apps and removes the private services; they run detached, so an interrupted run must do it too. */
const cleanUp = async () => {
  for (const app of apps) await stopApp(app, "SIGKILL");
  await Promise.all([kafka.destroy(), clickhouse.destroy()]);
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}
let exitCode = 1;
try {
  exitCode = await run(kafka, clickhouse, apps);
} catch (error) {
  say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await cleanUp();
}
say(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(exitCode);

async function run(kafka: PrivateService, clickhouse: PrivateService, apps: AppProcess[]): Promise<number> {
  const connection = { url: clickhouse.address, username: "default", password: "", requestTimeoutMs: 10_000 };
  const server = createClickHouse({ ...connection, database: "default" });
  await ensureDatabase(server, "sluice");
  await server.close();
  const db = createClickHouse({ ...connection, database: "sluice" });
  await migrate(db, await loadMigrations(MIGRATIONS_DIR));

  const ingestEnv = {
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    KAFKA_BROKERS: kafka.address,
    INGEST_API_KEYS: API_KEY,
    METRICS_PORT: String(await freePort()),
    GRPC_PORT: String(await freePort()),
    PRODUCE_TIMEOUT_MS: "2000",
    BROKER_PROBE_INTERVAL_MS: "500",
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    ACCESS_LOG_SAMPLE_RATE: "0.01",
  };
  const workerEnv = {
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    KAFKA_BROKERS: kafka.address,
    KAFKA_GROUP_ID: "chaos-worker",
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    KAFKA_HEARTBEAT_INTERVAL_MS: "1000",
    CLICKHOUSE_URL: clickhouse.address,
    CLICKHOUSE_DATABASE: "sluice",
    CLICKHOUSE_TIMEOUT_MS: "5000",
    METRICS_PORT: String(await freePort()),
    BATCH_MAX_ROWS: "2000",
    BATCH_MAX_WAIT_MS: "500",
    BUFFER_MAX_ROWS: "6000",
    RETRY_INITIAL_MS: "100",
    RETRY_MAX_MS: "2000",
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  };
  let spawned = 0;
  const start = (app: "ingest" | "worker") =>
    launch((port) => {
      spawned += 1;
      const child = spawnApp(app, port, app === "ingest" ? ingestEnv : workerEnv, `${runDir}/${app}-${spawned}.log`);
      apps.push(child);
      return child;
    }, freePort);
  let ingest = await start("ingest");
  let worker = await start("worker");

  const load = new Load({
    url: () => ingest.url,
    apiKey: API_KEY,
    singlesPerTick: Math.max(1, Math.round(5 * RATE)),
    batchSize: Math.max(1, Math.round(25 * RATE)),
    tickMs: 100,
    requestTimeoutMs: 15_000,
    retryDelayMs: 500,
  });
  const storedMarker = async (id: string) => {
    const [row] = await db.query<{ n: string }>(
      sql`SELECT toString(count()) AS n FROM events WHERE event_name = 'chaos_marker' AND event_id = ${id}`,
    );
    return Number(row?.n) > 0;
  };
  const bothReady = async () => {
    for (const app of [ingest, worker]) if (gone(app)) throw new Error(`${app.name} exited with ${app.child.exitCode}`);
    return (await isReady(ingest)) && (await isReady(worker));
  };
  const recoveries: Recovery[] = [];
  const recover = async (disruption: string, endedAt: number, downMs: number) => {
    const readyAt = await waitFor(`${disruption}: ingest and worker ready`, bothReady, RECOVERY_TIMEOUT_MS, 100, true).catch(
      async (error: Error) => {
        const reports = await Promise.all([ingest, worker].map(async (app) => `${app.name}: ${(await readiness(app)).report}`));
        throw new Error(`${error.message} (${reports.join("; ")})`);
      },
    );
    const marker = await load.marker(RECOVERY_TIMEOUT_MS);
    const storedAt = await waitFor(`${disruption}: marker stored`, () => storedMarker(marker.id), RECOVERY_TIMEOUT_MS, 200);
    const recovery = { disruption, downMs, readyMs: readyAt - endedAt, endToEndMs: storedAt - endedAt };
    recoveries.push(recovery);
    say(`${disruption}: down ${downMs} ms, ready after ${recovery.readyMs} ms, end to end after ${recovery.endToEndMs} ms`);
  };

  const setupAt = Date.now();
  await recover("start-up", setupAt, 0);
  load.start();
  const loadStartedAt = Date.now();
  say("load running");
  await pause(5000);

  const problems: string[] = [];
  let brokerDown: { from: number; to: number; back: number } | undefined;
  const steps: Record<string, () => Promise<void>> = {
    "worker-kill": async () => {
      for (let kill = 1; kill <= 3; kill++) {
        // Kill the worker at a random moment of its work: mid-batch, mid-insert or mid-commit.
        await pause(1500 + random() * 3000);
        await stopApp(worker, "SIGKILL");
        const respawnAt = Date.now();
        worker = await start("worker");
        await recover(`worker SIGKILL ${kill}`, respawnAt, 0);
      }
    },
    "ingest-term": async () => {
      await pause(2000 + random() * 2000);
      const termAt = Date.now();
      const exit = await stopApp(ingest, "SIGTERM");
      const termMs = exit.at - termAt;
      say(`ingest SIGTERM: exit code ${exit.code} after ${termMs} ms`);
      if (exit.code !== 0 || termMs > SHUTDOWN_TIMEOUT_MS) problems.push(`ingest SIGTERM: exit ${exit.code} after ${termMs} ms`);
      const respawnAt = Date.now();
      ingest = await start("ingest");
      await recover("ingest SIGTERM + restart", respawnAt, termMs);
    },
    "broker-restart": async () => {
      await pause(3000);
      await kafka.stop();
      const from = Date.now();
      await pause(BROKER_DOWN_MS);
      const to = Date.now();
      await kafka.start();
      const back = Date.now();
      brokerDown = { from, to, back };
      await recover("broker restart", back, back - from);
    },
    "clickhouse-stop": async () => {
      await pause(3000);
      await clickhouse.stop();
      const from = Date.now();
      let workerUnready = false;
      while (Date.now() - from < CLICKHOUSE_DOWN_MS) {
        if (!(await isReady(worker))) workerUnready = true;
        await pause(500);
      }
      await clickhouse.start();
      const back = Date.now();
      if (!workerUnready) problems.push("the worker stayed ready while ClickHouse was down");
      await recover("ClickHouse stopped 15 s", back, back - from);
    },
  };
  for (const name of STEPS) {
    const step = steps[name];
    if (step === undefined) throw new Error(`CHAOS_STEPS: unknown step ${name}; known: ${Object.keys(steps).join(", ")}`);
    await step();
  }

  await pause(5000);
  load.stopGenerating();
  const loadStoppedAt = Date.now();
  say(`load stopped; settling ${load.pendingRetries} pending retries`);
  await load.drain(60_000);

  say("waiting for the worker to store every acknowledged event");
  const drainStartedAt = Date.now();
  await waitForStable(db, load.acknowledged.size);
  const drainMs = Date.now() - drainStartedAt;

  const ids = (await db.query<{ id: string }>(raw("SELECT event_id AS id FROM events"))).map((row) => row.id);
  const [totals] = await db.query<{ rows: string }>(raw("SELECT toString(count()) AS rows FROM events"));
  const [view] = await db.query<{ total: string }>(raw("SELECT toString(countMerge(events)) AS total FROM events_hourly"));
  const [dead] = await db.query<{ n: string }>(raw("SELECT toString(count()) AS n FROM events_dead_letter"));
  const verdict = reconcile(
    { sent: load.sent, acknowledged: load.acknowledged },
    { rows: Number(totals?.rows), ids, viewTotal: Number(view?.total), deadLetters: Number(dead?.n) },
  );
  await db.close();

  problems.push(...verdict.problems);
  const down = brokerDown;
  const ackedWhileBrokerDown = down
    ? load.answers.filter((a) => a.status === 202 && a.sentAt >= down.from && a.answeredAt <= down.to).length
    : 0;
  const brokerWindow = down ? load.answers.filter((a) => a.answeredAt >= down.from && a.answeredAt <= down.back) : [];
  const c = load.counts;
  if (ackedWhileBrokerDown > 0) problems.push(`${ackedWhileBrokerDown} requests were answered 202 while the broker was down`);
  if (down && !brokerWindow.some((a) => a.status === 503)) problems.push("no 503 while the broker was down");
  if (c.hung > 0) problems.push(`${c.hung} requests hung for 15 s`);
  if (c.other > 0) problems.push(`${c.other} requests got an unexpected status: ${load.otherSamples.join(" | ")}`);
  if (c.missingRetryAfter > 0) problems.push(`${c.missingRetryAfter} 503 answers lacked Retry-After`);

  // Graceful stops must still work after all that.
  for (const app of [worker, ingest]) {
    const at = Date.now();
    const exit = await stopApp(app, "SIGTERM");
    if (exit.code !== 0) problems.push(`${app.name} SIGTERM at the end: exit ${exit.code} after ${exit.at - at} ms`);
  }
  const leaked = await logsContaining(API_KEY);
  if (leaked.length > 0) problems.push(`the API key appears in ${leaked.join(", ")}`);

  const figures = {
    seed: SEED,
    load_seconds: Math.round((loadStoppedAt - loadStartedAt) / 1000),
    events_sent: load.sent.size,
    requests: c.requests,
    requests_202: c.accepted202,
    requests_503: c.unavailable503,
    requests_503_during_broker_restart: brokerWindow.filter((a) => a.status === 503).length,
    requests_refused: c.refused,
    requests_hung: c.hung,
    requests_other: c.other,
    batch_retries: c.retries,
    events_acknowledged: load.acknowledged.size,
    events_abandoned_after_503: load.abandoned.size,
    rows: Number(totals?.rows),
    distinct_event_ids: verdict.distinctStored,
    view_total: Number(view?.total),
    stored_unacknowledged: verdict.storedUnacknowledged,
    lost: verdict.lost.length,
    doubled: verdict.doubled.length,
    unknown: verdict.unknown.length,
    acknowledged_while_broker_down: ackedWhileBrokerDown,
    max_recovery_ms: Math.max(0, ...recoveries.filter((r) => r.disruption !== "start-up").map((r) => r.endToEndMs)),
    final_drain_ms: drainMs,
    wall_clock_seconds: Math.round((Date.now() - started) / 1000),
    recoveries,
  };
  await writeFile(`${runDir}/figures.json`, `${JSON.stringify(figures, null, 2)}\n`);
  printFigures(figures, recoveries);
  if (problems.length > 0) {
    for (const problem of problems) say(`FAIL: ${problem}`);
    return 1;
  }
  say("PASS: acknowledged ⊆ stored ⊆ sent, every event once, view total = rows");
  return 0;
}

/** Waits until every acknowledged event can be stored (distinct ids ≥ acknowledged) and the row count holds still. */
async function waitForStable(db: ClickHouse, acknowledged: number): Promise<void> {
  let previous = -1;
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const [row] = await db
      .query<{ rows: string; ids: string }>(
        raw("SELECT toString(count()) AS rows, toString(uniqExact(event_id)) AS ids FROM events"),
      )
      .catch(() => [undefined]);
    const rows = Number(row?.rows ?? -1);
    if (Number(row?.ids ?? 0) >= acknowledged && rows === previous) return;
    previous = rows;
    await pause(2000);
  }
  say("the row count did not settle within 180 s; reconciling what is there");
}

/** Names the app log files of this run that contain `needle`. */
async function logsContaining(needle: string): Promise<string[]> {
  const files = (await readdir(runDir)).filter((name) => name.endsWith(".log"));
  const hits: string[] = [];
  for (const file of files) if ((await readFile(`${runDir}/${file}`, "utf8")).includes(needle)) hits.push(file);
  return hits;
}

function printFigures(figures: Record<string, unknown>, recoveries: Recovery[]): void {
  const lines = ["", "| figure | value |", "| --- | --- |"];
  for (const [key, value] of Object.entries(figures)) if (key !== "recoveries") lines.push(`| ${key} | ${String(value)} |`);
  lines.push("", "| disruption | down (ms) | ready after (ms) | end to end after (ms) |", "| --- | --- | --- | --- |");
  for (const r of recoveries) lines.push(`| ${r.disruption} | ${r.downMs} | ${r.readyMs} | ${r.endToEndMs} |`);
  process.stdout.write(`${lines.join("\n")}\n\n`);
}
