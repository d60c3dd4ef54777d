import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { callFailure } from "@sluice/grpc/testing";
import { BadRequestSchema, EventSchema, IngestService, QueryService, type StoredEvent } from "@sluice/proto";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@sluice/proto/health";
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
// against the shared Kafka and ClickHouse, with API keys and gRPC listeners, once for two end-to-end
// checks: the Grafana dashboards against the apps' real /metrics output, and gRPC round trips from the
// ingest app to the query app. One stack for both halves the cost of starting the apps.
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DASHBOARDS = `${ROOT}deploy/grafana/dashboards`;
const APPS = ["ingest", "worker", "query"] as const;
type App = (typeof APPS)[number];
const INGEST_KEY = "ingest-secret";
const QUERY_KEY = "query-secret";

type EventInit = Exclude<MessageInitShape<typeof EventSchema>, { $typeName: string }>;
const event = (fields: EventInit) => create(EventSchema, fields);

interface Running {
  child: ChildProcess;
  port: number;
  metricsPort: number;
  grpcPort: number;
  output: string[];
}

let kafka: ReturnType<typeof testKafka>;
let database: TestDatabase;
let topics: string[] = [];
const running = new Map<App, Running>();
const expositions = new Map<App, string>();

async function start(app: App, env: Record<string, string>): Promise<Running> {
  const [port, metricsPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: `${ROOT}apps/${app}`,
    env: {
      PATH: process.env.PATH ?? "",
      LOG_LEVEL: "warn",
      SERVER_HOST: "127.0.0.1",
      SERVER_PORT: String(port),
      METRICS_PORT: String(metricsPort),
      GRPC_PORT: String(grpcPort),
      KAFKA_BROKERS: services.kafkaBrokers.join(","),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  return { child, port, metricsPort, grpcPort, output };
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
    headers: { "content-type": "application/json", authorization: `Bearer ${INGEST_KEY}` },
    body: JSON.stringify(body),
  });
const get = (path: string) => fetch(`http://127.0.0.1:${app("query").port}${path}`, { headers: { "x-api-key": QUERY_KEY } });
const grpcUrl = (name: App) => `http://127.0.0.1:${app(name).grpcPort}`;

/** The value of an unlabelled sample in an exposition (app label aside), or 0. */
function value(exposition: string, name: string): number {
  const line = exposition.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(" ").at(-1) ?? 0);
}

beforeAll(async () => {
  kafka = testKafka("stack-int");
  const [events, dlq, campaigns] = await Promise.all([
    createTestTopic(kafka, "stack-events", 3),
    createTestTopic(kafka, "stack-dlq", 1),
    createTestTopic(kafka, "stack-campaigns", 1),
  ]);
  topics = [events, dlq, campaigns];
  database = await createTestDatabase({ migrate: true });
  const clickhouse = { CLICKHOUSE_URL: services.clickhouseUrl, CLICKHOUSE_DATABASE: database.name };
  const kafkaTopics = { KAFKA_TOPIC: events, KAFKA_DLQ_TOPIC: dlq, KAFKA_CAMPAIGNS_TOPIC: campaigns };
  running.set("ingest", await start("ingest", { ...kafkaTopics, INGEST_API_KEYS: INGEST_KEY }));
  running.set(
    "worker",
    await start("worker", {
      ...kafkaTopics,
      ...clickhouse,
      KAFKA_GROUP_ID: uniqueName("stack-worker"),
      BATCH_MAX_WAIT_MS: "200",
    }),
  );
  running.set("query", await start("query", { ...kafkaTopics, ...clickhouse, QUERY_API_KEYS: QUERY_KEY }));
  await Promise.all(APPS.map(ready));
  // grpc.health.v1 answers SERVING once each app's readiness checks pass (broker, campaigns, ClickHouse).
  for (const name of ["ingest", "query"] as const) {
    const health = createClient(Health, createGrpcTransport({ baseUrl: grpcUrl(name) }));
    expect((await health.check({})).status, name).toBe(Status.SERVING);
  }

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
  expect((await get("/metrics?event_name=grafana_check&group_by=channel")).status).toBe(200);
  expect((await get("/events?event_name=grafana_check&limit=5")).status).toBe(200);

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

describe("gRPC from the ingest app to the query app", () => {
  it("publishes one event and a batch, then reads them back through GetEvent and ListEvents", async () => {
    const ingest = createClient(IngestService, createGrpcTransport({ baseUrl: grpcUrl("ingest") }));
    const query = createClient(QueryService, createGrpcTransport({ baseUrl: grpcUrl("query") }));
    const ingestAuth = { headers: { authorization: `Bearer ${INGEST_KEY}` } };
    const queryAuth = { headers: { "x-api-key": QUERY_KEY } };
    const eventName = uniqueName("grpc_order");
    const now = Date.now();

    const single = await ingest.publishEvent(
      {
        event: event({
          eventName,
          userId: "u-single",
          timestamp: { case: "timestampMs", value: BigInt(now - 10_000) },
          channel: "api",
          metadata: {
            plan: { kind: { case: "stringValue", value: "pro" } },
            amount: { kind: { case: "numberValue", value: 12.5 } },
          },
          items: [{ id: "sku-1", quantity: 3n }],
        }),
      },
      ingestAuth,
    );
    const batch = await ingest.publishEvents(
      {
        events: [
          ...Array.from({ length: 4 }, (_, i) =>
            event({ eventName, userId: `u-${i}`, timestamp: { case: "timestampMs", value: BigInt(now - 9000 + i) } }),
          ),
          event({ eventName, userId: "", timestamp: { case: "timestampMs", value: BigInt(now) } }),
        ],
        sentAtMs: BigInt(now),
      },
      ingestAuth,
    );
    expect(batch.accepted).toBe(4);
    expect(batch.rejected).toMatchObject([{ index: 4, code: "VALIDATION_FAILED", details: [{ path: "user_id" }] }]);

    const stored = await eventually(
      async () => {
        const found = await query.getEvent({ eventId: single.eventId }, queryAuth).catch(() => undefined);
        return found?.result.case === "event" ? found.result.value : undefined;
      },
      30_000,
      250,
    );
    expect(stored.event).toMatchObject({
      eventId: single.eventId,
      eventName,
      userId: "u-single",
      timestamp: { case: "timestampMs", value: BigInt(now - 10_000) },
      channel: "api",
      metadata: { plan: { kind: { case: "stringValue", value: "pro" } }, amount: { kind: { case: "numberValue", value: 12.5 } } },
      items: [{ id: "sku-1", quantity: 3n }],
    });
    expect(stored.receivedAtMs).toBeGreaterThanOrEqual(BigInt(now - 1000));

    // Page through the event name two at a time: every accepted event once, newest first.
    const expected = [...batch.eventIds.filter((id) => id !== "").reverse(), single.eventId];
    const listed = await eventually(async () => {
      const seen: StoredEvent[] = [];
      let pageToken = "";
      for (let page = 0; page < 10; page++) {
        const res = await query.listEvents({ eventName, pageSize: 2, pageToken }, queryAuth);
        seen.push(...res.events);
        pageToken = res.nextPageToken;
        if (pageToken === "") break;
      }
      return seen.length === expected.length ? seen : undefined;
    }, 30_000);
    expect(listed.map((e) => e.event?.eventId)).toEqual(expected);
    expect(listed[0]?.sentAtMs).toBe(BigInt(now));

    const missing = await callFailure(query.getEvent({ eventId: "0190a0b0-0000-7000-8000-00000000dead" }, queryAuth));
    expect(missing.code).toBe(Code.NotFound);
    // The rollups are written after the raw rows within one insert, so a reader can see the events a moment
    // before they are counted.
    const from = String(Math.floor((now - 3_600_000) / 1000));
    const metrics = await eventually(async () => {
      const answer = await query.getMetrics({ eventName, from }, queryAuth);
      return answer.totalEvents === 5n ? answer : undefined;
    }, 10_000);
    expect(metrics.uniqueUsers).toBe(5n);
  });

  it("answers INVALID_ARGUMENT with field details and UNAUTHENTICATED without a key", async () => {
    const ingest = createClient(IngestService, createGrpcTransport({ baseUrl: grpcUrl("ingest") }));
    const invalid = await callFailure(
      ingest.publishEvent(
        { event: event({ eventName: "e", userId: "u", channel: "fax", timestamp: { case: "timestampIso", value: "soon" } }) },
        { headers: { authorization: `Bearer ${INGEST_KEY}` } },
      ),
    );
    expect(invalid.code).toBe(Code.InvalidArgument);
    expect(
      invalid
        .findDetails(BadRequestSchema)[0]
        ?.fieldViolations.map((v) => v.field)
        .sort(),
    ).toEqual(["channel", "timestamp"]);
    expect((await callFailure(ingest.publishEvent({ event: event({ eventName: "e", userId: "u" }) }))).code).toBe(
      Code.Unauthenticated,
    );
    const query = createClient(QueryService, createGrpcTransport({ baseUrl: grpcUrl("query") }));
    expect((await callFailure(query.listEvents({}))).code).toBe(Code.Unauthenticated);
  });
});
