import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  createTestDatabase,
  createTestTopic,
  eventually,
  freePort,
  services,
  type TestDatabase,
  testKafka,
  uniqueName,
} from "@sluice/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dashboardExpressions, exposedNames, labelSelectors, matches, metricNames, samples } from "./promql";

// The three apps started as the images start them (`node --import tsx src/main.ts` in the app folder)
// against the shared Kafka and ClickHouse, driven with a little traffic, then scraped: every metric a
// Grafana panel queries must be in some app's real exposition, and every literal label selector must
// match a real series.
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DASHBOARDS = `${ROOT}deploy/grafana/dashboards`;
const APPS = ["ingest", "worker", "query"] as const;
type App = (typeof APPS)[number];

interface Running {
  child: ChildProcess;
  port: number;
  metricsPort: number;
  output: string[];
}

let kafka: ReturnType<typeof testKafka>;
let database: TestDatabase;
let topics: string[] = [];
const running = new Map<App, Running>();
const expositions = new Map<App, string>();

async function start(app: App, env: Record<string, string>): Promise<Running> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: `${ROOT}apps/${app}`,
    env: {
      PATH: process.env.PATH ?? "",
      LOG_LEVEL: "warn",
      SERVER_HOST: "127.0.0.1",
      SERVER_PORT: String(port),
      METRICS_PORT: String(metricsPort),
      GRPC_PORT: String(await freePort()),
      KAFKA_BROKERS: services.kafkaBrokers.join(","),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  return { child, port, metricsPort, output };
}

function app(name: App): Running {
  const found = running.get(name);
  if (!found) throw new Error(`${name} is not running`);
  return found;
}

async function ready(name: App): Promise<void> {
  const { port, output } = app(name);
  try {
    await eventually(
      async () => ((await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.ok ? true : undefined),
      25_000,
      200,
    );
  } catch (error) {
    throw new Error(`${name} never became ready: ${String(error)}\n${output.join("").slice(-2000)}`);
  }
}

const scrape = async (name: App) => (await fetch(`http://127.0.0.1:${app(name).metricsPort}/metrics`)).text();

const post = (path: string, body: unknown) =>
  fetch(`http://127.0.0.1:${app("ingest").port}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

/** The value of an unlabelled sample in an exposition (app label aside), or 0. */
function value(exposition: string, name: string): number {
  const line = exposition.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(" ").at(-1) ?? 0);
}

beforeAll(async () => {
  kafka = testKafka("grafana-int");
  const [events, dlq, campaigns] = await Promise.all([
    createTestTopic(kafka, "grafana-events", 2),
    createTestTopic(kafka, "grafana-dlq", 1),
    createTestTopic(kafka, "grafana-campaigns", 1),
  ]);
  topics = [events, dlq, campaigns];
  database = await createTestDatabase({ migrate: true });
  const clickhouse = { CLICKHOUSE_URL: services.clickhouseUrl, CLICKHOUSE_DATABASE: database.name };
  const kafkaTopics = { KAFKA_TOPIC: events, KAFKA_DLQ_TOPIC: dlq, KAFKA_CAMPAIGNS_TOPIC: campaigns };
  running.set("ingest", await start("ingest", kafkaTopics));
  running.set("worker", await start("worker", { ...kafkaTopics, ...clickhouse, KAFKA_GROUP_ID: uniqueName("grafana-worker") }));
  running.set("query", await start("query", { ...kafkaTopics, ...clickhouse }));
  await Promise.all(APPS.map(ready));

  // Traffic that makes every kind of series appear: accepted and rejected events, a batch, a poison
  // message for the dead-letter path, inserts, and query requests.
  const now = Date.now();
  const event = (i: number) => ({ event_name: "grafana_check", user_id: `u${i}`, timestamp: now });
  for (let i = 0; i < 3; i++) expect((await post("/events", event(i))).status).toBe(202);
  expect((await post("/events/batch", { events: [event(3), event(4)] })).status).toBe(202);
  expect((await post("/events", { event_name: "grafana_check" })).status).toBe(400);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: events, messages: [{ key: "poison", value: "not json" }] });
  await producer.disconnect();

  await eventually(async () => {
    const worker = await scrape("worker");
    const done = value(worker, "sluice_worker_rows_inserted_total") >= 5 && worker.includes("sluice_worker_dead_letters_total{");
    return done ? true : undefined;
  }, 25_000);
  const query = app("query").port;
  expect((await fetch(`http://127.0.0.1:${query}/metrics?event_name=grafana_check&group_by=channel`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${query}/events?event_name=grafana_check&limit=5`)).status).toBe(200);

  for (const name of APPS) expositions.set(name, await scrape(name));
}, 90_000);

afterAll(async () => {
  await Promise.all(
    [...running.values()].map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          const timer = setTimeout(() => child.kill("SIGKILL"), 12_000);
          child.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill("SIGTERM");
        }),
    ),
  );
  await database?.drop();
  if (kafka && topics.length > 0) {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}, 30_000);

describe("Grafana dashboards against the apps' real /metrics", () => {
  const files = readdirSync(DASHBOARDS).filter((f) => f.endsWith(".json"));

  it("labels every series with its app (the dashboard tells the apps apart by `app`)", () => {
    for (const name of APPS) {
      const series = samples(expositions.get(name) ?? "");
      expect(series.length, name).toBeGreaterThan(0);
      for (const sample of series) expect(sample.labels.app, `${name}: ${sample.name}`).toBe(name);
    }
  });

  for (const file of files) {
    const dashboard = JSON.parse(readFileSync(`${DASHBOARDS}/${file}`, "utf8"));
    const expressions = dashboardExpressions(dashboard);

    it(`${file}: every metric a panel queries is exported by an app`, () => {
      const exported = new Set(APPS.flatMap((name) => [...exposedNames(expositions.get(name) ?? "")]));
      const missing = expressions.flatMap(({ panel, expr }) =>
        metricNames(expr)
          .filter((metric) => !exported.has(metric))
          .map((metric) => `${panel}: ${metric}`),
      );
      expect(missing).toEqual([]);
    });

    it(`${file}: every label selector matches a real series`, () => {
      const all = APPS.flatMap((name) => samples(expositions.get(name) ?? ""));
      const unmatched = expressions.flatMap(({ panel, expr }) =>
        labelSelectors(expr)
          .filter(({ name, matchers }) => !all.some((s) => s.name === name && matches(s.labels, matchers)))
          .map(({ name, matchers }) => `${panel}: ${name}${JSON.stringify(matchers)}`),
      );
      expect(unmatched).toEqual([]);
    });
  }

  it("the worker reports lag, inserts and the dead letter of the poison message", () => {
    const worker = expositions.get("worker") ?? "";
    expect(value(worker, "sluice_worker_rows_inserted_total")).toBeGreaterThanOrEqual(5);
    expect(samples(worker).some((s) => s.name === "sluice_worker_consumer_lag" && s.labels.topic === topics[0])).toBe(true);
    expect(samples(worker).some((s) => s.name === "sluice_worker_dead_letters_total")).toBe(true);
    expect(value(worker, "sluice_worker_insert_duration_seconds_count")).toBeGreaterThan(0);
  });
});
