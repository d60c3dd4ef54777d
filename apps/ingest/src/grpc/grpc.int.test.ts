import { type ChildProcess, spawn } from "node:child_process";
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

const APPS = fileURLToPath(new URL("../../../", import.meta.url));
const INGEST_KEY = "ingest-secret";
const QUERY_KEY = "query-secret";

type EventInit = Exclude<MessageInitShape<typeof EventSchema>, { $typeName: string }>;
const event = (fields: EventInit) => create(EventSchema, fields);

/** Starts an app's real entry point as a child process; its stderr is kept for the failure message. */
function spawnApp(
  app: "ingest" | "worker" | "query",
  env: Record<string, string>,
): { child: ChildProcess; stderr: () => string } {
  let stderr = "";
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: `${APPS}${app}`,
    env: { ...process.env, LOG_LEVEL: "warn", SERVER_HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return { child, stderr: () => stderr };
}

async function stopApp(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

describe("gRPC against the running ingest, worker and query apps", () => {
  const kafka = testKafka("grpc-e2e");
  let database: TestDatabase;
  const children: { child: ChildProcess; stderr: () => string }[] = [];
  let ingestUrl = "";
  let queryUrl = "";

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: true });
    const topic = await createTestTopic(kafka, "grpc-e2e", 3);
    const common = { KAFKA_BROKERS: services.kafkaBrokers.join(","), KAFKA_TOPIC: topic };
    const ports = async () => ({ SERVER_PORT: String(await freePort()), METRICS_PORT: String(await freePort()) });
    const [ingestPort, queryPort] = [await freePort(), await freePort()];
    ingestUrl = `http://127.0.0.1:${ingestPort}`;
    queryUrl = `http://127.0.0.1:${queryPort}`;
    children.push(
      spawnApp("ingest", { ...common, ...(await ports()), GRPC_PORT: String(ingestPort), INGEST_API_KEYS: INGEST_KEY }),
      spawnApp("worker", {
        ...common,
        ...(await ports()),
        KAFKA_DLQ_TOPIC: uniqueName("dlq"),
        KAFKA_GROUP_ID: uniqueName("grpc-e2e"),
        CLICKHOUSE_URL: services.clickhouseUrl,
        CLICKHOUSE_DATABASE: database.name,
        BATCH_MAX_WAIT_MS: "200",
      }),
      spawnApp("query", {
        ...common,
        ...(await ports()),
        GRPC_PORT: String(queryPort),
        CLICKHOUSE_URL: services.clickhouseUrl,
        CLICKHOUSE_DATABASE: database.name,
        QUERY_API_KEYS: QUERY_KEY,
      }),
    );
    // grpc.health.v1 answers SERVING once each app's readiness checks pass (broker, campaigns, ClickHouse).
    for (const url of [ingestUrl, queryUrl]) {
      const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
      await eventually(async () => ((await health.check({})).status === Status.SERVING ? true : undefined), 60_000, 250).catch(
        (error: unknown) => {
          throw new Error(`${url} never became SERVING: ${children.map((c) => c.stderr()).join("\n")}`, { cause: error });
        },
      );
    }
  }, 90_000);

  afterAll(async () => {
    await Promise.all(children.map(({ child }) => stopApp(child)));
    await database?.drop();
  }, 30_000);

  it("publishes one event and a batch, then reads them back through GetEvent and ListEvents", async () => {
    const ingest = createClient(IngestService, createGrpcTransport({ baseUrl: ingestUrl }));
    const query = createClient(QueryService, createGrpcTransport({ baseUrl: queryUrl }));
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
    const ingest = createClient(IngestService, createGrpcTransport({ baseUrl: ingestUrl }));
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
    const query = createClient(QueryService, createGrpcTransport({ baseUrl: queryUrl }));
    expect((await callFailure(query.listEvents({}))).code).toBe(Code.Unauthenticated);
  });
});
