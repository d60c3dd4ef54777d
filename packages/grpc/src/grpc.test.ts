import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AppError, Readiness } from "@sluice/http";
import { createLogger } from "@sluice/logger";
import { createRegistry } from "@sluice/metrics";
import { BadRequestSchema, ErrorInfoSchema, IngestService, QueryService, RetryInfoSchema } from "@sluice/proto";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@sluice/proto/health";
import { ServerReflection, type ServerReflectionRequest, type ServerReflectionResponse } from "@sluice/proto/reflection/v1";
import {
  ServerReflection as ServerReflectionAlpha,
  type ServerReflectionResponse as ServerReflectionResponseAlpha,
} from "@sluice/proto/reflection/v1alpha";
import { afterEach, describe, expect, it } from "vitest";
import { appErrorToConnect, errorInterceptor, GRPC_CODE } from "./errors";
import { registerHealth } from "./health";
import { observeInterceptor } from "./observe";
import { registerReflection } from "./reflection";
import { type GrpcServer, startGrpcServer } from "./server";

const logger = createLogger({ name: "test", level: "silent" });
let server: GrpcServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(readiness: Readiness) {
  server = await startGrpcServer({
    port: 0,
    host: "127.0.0.1",
    closeGraceMs: 200,
    interceptors: [
      observeInterceptor({ registry: createRegistry("test"), logger, accessLogSampleRate: 0 }),
      errorInterceptor(logger),
    ],
    routes: (router) => {
      registerHealth(router, { readiness, services: [IngestService.typeName], watchIntervalMs: 20 });
      registerReflection(router, [IngestService, QueryService]);
    },
  });
  return createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` });
}

async function* requests(...messages: Pick<ServerReflectionRequest, "messageRequest">[]) {
  for (const message of messages) yield message;
}

/** What a test compares of a reflection answer, in either protocol version. */
function summarize(
  response: ServerReflectionResponse["messageResponse"] | ServerReflectionResponseAlpha["messageResponse"],
): Record<string, unknown> {
  switch (response.case) {
    case "listServicesResponse":
      return { case: response.case, names: response.value.service.map((s) => s.name).sort() };
    case "fileDescriptorResponse":
      return {
        case: response.case,
        files: response.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name),
      };
    case "errorResponse":
      return { case: response.case, errorCode: response.value.errorCode };
    default:
      return { case: response.case };
  }
}

describe("error mapping", () => {
  it("maps every AppError code, with field violations, the code as ErrorInfo reason, and RetryInfo", () => {
    expect(GRPC_CODE.VALIDATION_FAILED).toBe(Code.InvalidArgument);
    expect(GRPC_CODE.UNAUTHORIZED).toBe(Code.Unauthenticated);
    expect(GRPC_CODE.RATE_LIMITED).toBe(Code.ResourceExhausted);
    expect(GRPC_CODE.UNAVAILABLE).toBe(Code.Unavailable);
    expect(GRPC_CODE.CAMPAIGN_REQUIREMENTS_UNMET).toBe(Code.FailedPrecondition);
    const error = appErrorToConnect(
      new AppError("VALIDATION_FAILED", "the event is invalid", [{ path: "user_id", message: "too short" }]),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe("the event is invalid");
    expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations).toMatchObject([
      { field: "user_id", description: "too short" },
    ]);
    expect(error.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: "VALIDATION_FAILED", domain: "sluice" });
    const busy = appErrorToConnect(new AppError("UNAVAILABLE", "no ack", [], 2.2));
    expect(busy.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBe(3n);
    expect(busy.findDetails(BadRequestSchema)).toEqual([]);
  });
});

describe("health", () => {
  it("answers SERVING while ready, NOT_SERVING when a check fails, NOT_FOUND for an unknown service", async () => {
    const readiness = new Readiness();
    let brokerUp = true;
    readiness.register("kafka", () => ({ ok: brokerUp }));
    const health = createClient(Health, await start(readiness));
    expect((await health.check({ service: "" })).status).toBe(Status.SERVING);
    expect((await health.check({ service: IngestService.typeName })).status).toBe(Status.SERVING);
    brokerUp = false;
    expect((await health.check({})).status).toBe(Status.NOT_SERVING);
    const unknown = await health.check({ service: "nope.v1.Nope" }).catch((e) => ConnectError.from(e));
    expect(unknown).toMatchObject({ code: Code.NotFound });
  });

  it("watches: the status at once, each change, and the end of the stream once draining", async () => {
    const readiness = new Readiness();
    let brokerUp = false;
    readiness.register("kafka", () => ({ ok: brokerUp }));
    const health = createClient(Health, await start(readiness));
    const seen: Status[] = [];
    for await (const { status } of health.watch({ service: IngestService.typeName }, { timeoutMs: 5000 })) {
      seen.push(status);
      if (seen.length === 1) brokerUp = true;
      if (seen.length === 2) readiness.startDraining();
    }
    expect(seen).toEqual([Status.NOT_SERVING, Status.SERVING, Status.NOT_SERVING]);
  });
});

describe("reflection", () => {
  it("lists services and returns the file declaring a symbol with its imports, in v1 and v1alpha", async () => {
    const transport = await start(new Readiness());
    for (const service of [ServerReflection, ServerReflectionAlpha]) {
      const client = createClient(service, transport);
      const answers = [];
      for await (const answer of client.serverReflectionInfo(
        requests(
          { messageRequest: { case: "listServices", value: "" } },
          { messageRequest: { case: "fileContainingSymbol", value: "sluice.v1.IngestService.PublishEvents" } },
          { messageRequest: { case: "fileByFilename", value: "sluice/v1/query.proto" } },
          { messageRequest: { case: "fileContainingSymbol", value: "sluice.v1.Nope" } },
        ),
      )) {
        answers.push(summarize(answer.messageResponse));
      }
      expect(answers).toEqual([
        {
          case: "listServicesResponse",
          names: [
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "sluice.v1.IngestService",
            "sluice.v1.QueryService",
          ],
        },
        { case: "fileDescriptorResponse", files: ["sluice/v1/event.proto", "sluice/v1/ingest.proto"] },
        { case: "fileDescriptorResponse", files: ["sluice/v1/event.proto", "sluice/v1/query.proto"] },
        { case: "errorResponse", errorCode: Code.NotFound },
      ]);
    }
  });
});
describe("server", () => {
  it("close() ends open streams after the grace period", async () => {
    const readiness = new Readiness();
    const health = createClient(Health, await start(readiness));
    const stream = health.watch({ service: "nope.v1.Nope" });
    const first = await stream[Symbol.asyncIterator]().next();
    expect(first.value?.status).toBe(Status.SERVICE_UNKNOWN);
    const started = Date.now();
    await server?.close();
    server = undefined;
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
