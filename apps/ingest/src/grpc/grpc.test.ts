import { connect } from "node:http2";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, type ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { type GrpcServer, startGrpcServer } from "@sluice/grpc";
import { callFailure } from "@sluice/grpc/testing";
import { Readiness } from "@sluice/http";
import { createLogger } from "@sluice/logger";
import { createRegistry, type Registry } from "@sluice/metrics";
import { BadRequestSchema, ErrorInfoSchema, EventSchema, IngestService, RetryInfoSchema } from "@sluice/proto";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@sluice/proto/health";
import { ServerReflection } from "@sluice/proto/reflection/v1";
import { afterEach, describe, expect, it } from "vitest";
import { createApp, createIngestCore, type IngestAppConfig } from "../app";
import type { CampaignRules } from "../campaigns";
import { brokerDown, FakePublisher, TEST_CONFIG } from "../testing/fakes";
import { createIngestGrpc } from "./server";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const logger = createLogger({ name: "test", level: "silent" });
let server: GrpcServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface Setup {
  config?: Partial<IngestAppConfig>;
  campaigns?: CampaignRules;
}

/** The HTTP app and the gRPC face over one core, as main wires them. */
async function start(setup: Setup = {}) {
  const publisher = new FakePublisher();
  const registry: Registry = createRegistry("test");
  const readiness = new Readiness();
  const config = { ...TEST_CONFIG, ...setup.config };
  const deps = {
    logger,
    registry,
    readiness,
    config,
    publisher,
    campaigns: setup.campaigns ?? { requiredMetadata: () => undefined },
    now: () => NOW,
  };
  const core = createIngestCore(deps);
  const app = createApp({ ...deps, core });
  server = await startGrpcServer({ port: 0, host: "127.0.0.1", ...createIngestGrpc({ ...deps, core }) });
  const baseUrl = `http://127.0.0.1:${server.port}`;
  const grpc = createGrpcTransport({ baseUrl });
  return { publisher, registry, app, baseUrl, grpc, client: createClient(IngestService, grpc) };
}

type EventInit = Exclude<MessageInitShape<typeof EventSchema>, { $typeName: string }>;

const event = (fields: Partial<EventInit> = {}) =>
  create(EventSchema, {
    eventName: "order_placed",
    userId: "u1",
    timestamp: { case: "timestampMs", value: BigInt(NOW - 1000) },
    ...fields,
  } as EventInit);

/** A Connect-protocol JSON call over HTTP/2 with a body no generated client would send. */
function postJson(baseUrl: string, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const session = connect(baseUrl);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/json",
      "connect-protocol-version": "1",
    });
    let status = 0;
    let text = "";
    stream.on("response", (headers) => {
      status = Number(headers[":status"]);
    });
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      text += chunk;
    });
    stream.on("end", () => {
      session.close();
      resolve({ status, body: JSON.parse(text) });
    });
    stream.on("error", reject);
    stream.end(JSON.stringify(body));
  });
}

const violations = (error: ConnectError) =>
  error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => [v.field, v.description]));

describe("PublishEvent", () => {
  it("publishes exactly what POST /events publishes for the same event", async () => {
    const { client, publisher, app } = await start();
    const id = "0190a0b0-0000-7000-8000-000000000001";
    const { eventId } = await client.publishEvent({
      event: event({
        eventId: id,
        channel: "api",
        campaignId: "c1",
        tags: ["a", "b"],
        metadata: {
          plan: { kind: { case: "stringValue", value: "pro" } },
          amount: { kind: { case: "numberValue", value: 12.5 } },
          first: { kind: { case: "boolValue", value: true } },
        },
        userProperties: { age: { kind: { case: "numberValue", value: 41 } } },
        device: { os: "linux", osVersion: "6.1" },
        app: { version: "1.2.3" },
        items: [{ id: "sku1", price: 9.99, quantity: 2n }],
      }),
    });
    expect(eventId).toBe(id);
    const res = await app.request("http://ingest/events", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        event_id: id,
        event_name: "order_placed",
        user_id: "u1",
        timestamp: NOW - 1000,
        channel: "api",
        campaign_id: "c1",
        tags: ["a", "b"],
        metadata: { plan: "pro", amount: 12.5, first: true },
        user_properties: { age: 41 },
        device: { os: "linux", os_version: "6.1" },
        app: { version: "1.2.3" },
        items: [{ id: "sku1", price: 9.99, quantity: 2 }],
      }),
    });
    expect(res.status).toBe(202);
    expect(publisher.published).toHaveLength(2);
    expect(publisher.published[0]).toEqual(publisher.published[1]);
  });

  it("assigns a UUIDv7 when event_id is empty and accepts an ISO-8601 timestamp", async () => {
    const { client, publisher } = await start();
    const { eventId } = await client.publishEvent({
      event: event({ timestamp: { case: "timestampIso", value: "2026-11-22T11:59:00Z" } }),
    });
    expect(eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(publisher.values[0]).toMatchObject({ event_id: eventId, timestamp: NOW - 60_000, received_at: NOW });
  });

  it("answers INVALID_ARGUMENT naming every offending field, with the code as ErrorInfo reason", async () => {
    const { client, publisher } = await start();
    const error = await callFailure(
      client.publishEvent({
        event: event({
          userId: "",
          channel: "fax",
          timestamp: { case: "timestampMs", value: BigInt(NOW + 600_000) },
          metadata: { empty: {} },
          tags: ["x".repeat(129)],
        }),
      }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("VALIDATION_FAILED");
    expect(violations(error).map(([field]) => field)).toEqual(
      expect.arrayContaining(["user_id", "channel", "timestamp", "metadata.empty", "tags.0"]),
    );
    expect(publisher.published).toEqual([]);
  });

  it("refuses a missing event, a missing timestamp and unknown fields like unknown JSON fields", async () => {
    const { client, grpc } = await start();
    expect(violations(await callFailure(client.publishEvent({})))).toEqual([["event", "required"]]);
    expect(violations(await callFailure(client.publishEvent({ event: event({ timestamp: { case: undefined } }) })))).toEqual([
      ["timestamp", expect.any(String)],
    ]);
    const withUnknown = event({ device: { os: "linux" } });
    const extra = (no: number) => ({
      no,
      wireType: WireType.Varint,
      data: new BinaryWriter().int32(1).finish(),
    });
    withUnknown.$unknown = [extra(99)];
    if (withUnknown.device) withUnknown.device.$unknown = [extra(42)];
    const error = await callFailure(createClient(IngestService, grpc).publishEvent({ event: withUnknown }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(violations(error)).toEqual(
      expect.arrayContaining([
        ["#99", "unknown field"],
        ["device.#42", "unknown field"],
      ]),
    );
  });

  it("answers FAILED_PRECONDITION naming the metadata a known campaign requires", async () => {
    const { client } = await start({ campaigns: { requiredMetadata: (id) => (id === "spring" ? ["coupon"] : undefined) } });
    const error = await callFailure(client.publishEvent({ event: event({ campaignId: "spring" }) }));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("CAMPAIGN_REQUIREMENTS_UNMET");
    expect(violations(error)).toEqual([["metadata.coupon", "required by campaign spring"]]);
  });

  it("answers UNAVAILABLE with RetryInfo, never OK, when the broker does not acknowledge", async () => {
    const { client, publisher } = await start();
    publisher.failWith = brokerDown();
    const error = await callFailure(client.publishEvent({ event: event() }));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBe(5n);
  });

  it("answers RESOURCE_EXHAUSTED for a request over MAX_BODY_BYTES", async () => {
    const { client } = await start({ config: { MAX_BODY_BYTES: 2048 } });
    const error = await callFailure(
      client.publishEvent({ event: event({ tags: Array.from({ length: 30 }, () => "t".repeat(100)) }) }),
    );
    expect(error.code).toBe(Code.ResourceExhausted);
  });
});

describe("PublishEvents", () => {
  it("accepts the valid events and lists the rejected ones by index, like HTTP 207", async () => {
    const { client, publisher } = await start();
    const res = await client.publishEvents({
      events: [event(), event({ userId: "" }), event({ userId: "u2" })],
      sentAtMs: BigInt(NOW - 5),
    });
    expect(res.accepted).toBe(2);
    expect(res.eventIds).toHaveLength(3);
    expect(res.eventIds[1]).toBe("");
    expect(res.rejected).toMatchObject([{ index: 1, code: "VALIDATION_FAILED", details: [{ path: "user_id" }] }]);
    expect(publisher.values.map((v) => [v.user_id, v.sent_at])).toEqual([
      ["u1", NOW - 5],
      ["u2", NOW - 5],
    ]);
  });

  it("answers INVALID_ARGUMENT with events.<i>.<field> when none is valid, and for an empty batch", async () => {
    const { client } = await start();
    const none = await callFailure(client.publishEvents({ events: [event({ userId: "" }), event({ eventName: "" })] }));
    expect(none.code).toBe(Code.InvalidArgument);
    expect(violations(none).map(([field]) => field)).toEqual(["events.0.user_id", "events.1.event_name"]);
    const empty = await callFailure(client.publishEvents({ events: [] }));
    expect(violations(empty).map(([field]) => field)).toEqual(["events"]);
  });

  it("refuses more than 1000 events", async () => {
    const { client } = await start();
    const error = await callFailure(client.publishEvents({ events: Array.from({ length: 1001 }, () => event()) }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(violations(error).map(([field]) => field)).toEqual(["events"]);
  });
});

describe("keys and rate limit", () => {
  it("needs a key in authorization or x-api-key metadata; health stays open", async () => {
    const { client, grpc, registry } = await start({ config: { INGEST_API_KEYS: ["k1", "k2"] } });
    expect((await callFailure(client.publishEvent({ event: event() }))).code).toBe(Code.Unauthenticated);
    const wrong = await callFailure(client.publishEvent({ event: event() }, { headers: { authorization: "Bearer nope" } }));
    expect(wrong.code).toBe(Code.Unauthenticated);
    await client.publishEvent({ event: event() }, { headers: { authorization: "Bearer k2" } });
    await client.publishEvent({ event: event() }, { headers: { "x-api-key": "k1" } });
    expect((await createClient(Health, grpc).check({})).status).toBe(Status.SERVING);
    const rejected = await registry.getSingleMetric("ingest_events_rejected_total")?.get();
    expect(rejected?.values.find((v) => v.labels.reason === "UNAUTHORIZED")?.value).toBe(2);
  });

  it("shares the key's token bucket with the HTTP face and answers RESOURCE_EXHAUSTED with RetryInfo", async () => {
    const { client, app } = await start({ config: { RATE_LIMIT_PER_SEC: 1, RATE_LIMIT_BURST: 2 } });
    await client.publishEvent({ event: event() });
    const http = await app.request("http://ingest/events", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ event_name: "e", user_id: "u", timestamp: NOW }),
    });
    expect(http.status).toBe(202);
    const error = await callFailure(client.publishEvent({ event: event() }));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("RATE_LIMITED");
    expect(error.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBeGreaterThanOrEqual(1n);
  });
});

describe("reflection", () => {
  it("lists the ingest service and health, and describes the error details", async () => {
    const { grpc } = await start();
    async function* requests() {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
      yield { messageRequest: { case: "fileContainingSymbol" as const, value: "google.rpc.BadRequest" } };
    }
    const names: string[] = [];
    let detailsFiles = 0;
    for await (const answer of createClient(ServerReflection, grpc).serverReflectionInfo(requests())) {
      const response = answer.messageResponse;
      if (response.case === "listServicesResponse") names.push(...response.value.service.map((s) => s.name));
      if (response.case === "fileDescriptorResponse") detailsFiles = response.value.fileDescriptorProto.length;
    }
    expect(names).toEqual(expect.arrayContaining(["sluice.v1.IngestService", "grpc.health.v1.Health"]));
    // google/rpc/error_details.proto and the duration.proto it imports.
    expect(detailsFiles).toBe(2);
  });
});

describe("protocols", () => {
  it("serves gRPC-Web and Connect (binary and JSON) on the same port; JSON unknown fields are refused", async () => {
    const { baseUrl, publisher } = await start();
    const transports: Transport[] = [
      createGrpcWebTransport({ baseUrl, httpVersion: "2" }),
      createConnectTransport({ baseUrl, httpVersion: "2" }),
      createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
    ];
    for (const transport of transports) await createClient(IngestService, transport).publishEvent({ event: event() });
    expect(publisher.published).toHaveLength(3);
    const answer = await postJson(baseUrl, "/sluice.v1.IngestService/PublishEvent", {
      event: { eventName: "e", userId: "u", timestampMs: String(NOW), colour: "red" },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "invalid_argument" });
    expect(publisher.published).toHaveLength(3);
  });
});
