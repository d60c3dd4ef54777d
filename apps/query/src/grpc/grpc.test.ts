import { Code, type ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type GrpcServer, startGrpcServer } from "@sluice/grpc";
import { callFailure } from "@sluice/grpc/testing";
import { Readiness } from "@sluice/http";
import { createLogger } from "@sluice/logger";
import { createRegistry } from "@sluice/metrics";
import { BadRequestSchema, GroupBy, QueryService, RetryInfoSchema } from "@sluice/proto";
import { afterEach, describe, expect, it } from "vitest";
import { fakeClickHouse } from "../testing";
import { createQueryGrpc } from "./server";

const NOW = Date.UTC(2026, 0, 2, 10, 30, 0);
let server: GrpcServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(db = fakeClickHouse(), apiKeys: string[] = []) {
  server = await startGrpcServer({
    port: 0,
    host: "127.0.0.1",
    ...createQueryGrpc({
      logger: createLogger({ name: "test", level: "silent" }),
      registry: createRegistry("test"),
      readiness: new Readiness(),
      db,
      apiKeys,
      now: () => NOW,
    }),
  });
  return createClient(QueryService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }));
}

const fields = (error: ConnectError) => error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));

describe("GetEvent", () => {
  it("answers NOT_FOUND when neither a stored nor a failed event has the id, INVALID_ARGUMENT for an empty id", async () => {
    const client = await start();
    expect((await callFailure(client.getEvent({ eventId: "0190a0b0-0000-7000-8000-000000000001" }))).code).toBe(Code.NotFound);
    const empty = await callFailure(client.getEvent({ eventId: "" }));
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(fields(empty)).toEqual(["event_id"]);
  });

  it("answers UNAVAILABLE with RetryInfo when ClickHouse cannot be reached", async () => {
    const client = await start(fakeClickHouse(() => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:8123"))));
    const error = await callFailure(client.getEvent({ eventId: "0190a0b0-0000-7000-8000-000000000001" }));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.findDetails(RetryInfoSchema)).toHaveLength(1);
  });
});

describe("ListEvents", () => {
  it("checks parameters with the HTTP rules, naming the gRPC fields", async () => {
    const db = fakeClickHouse();
    const client = await start(db);
    expect(fields(await callFailure(client.listEvents({ pageSize: 5000 })))).toEqual(["page_size"]);
    expect(fields(await callFailure(client.listEvents({ pageToken: "forged" })))).toEqual(["page_token"]);
    expect(fields(await callFailure(client.listEvents({ where: ["plan:gt:abc"] })))).toEqual(["where[0]"]);
    expect(fields(await callFailure(client.listEvents({ where: Array.from({ length: 21 }, () => "a:eq:b") })))).toEqual([
      "where",
    ]);
    expect(fields(await callFailure(client.listEvents({ from: "yesterday" })))).toEqual(["from"]);
    expect(fields(await callFailure(client.listEvents({ match: "some" })))).toEqual(["match"]);
    expect(db.seen).toEqual([]);
  });

  it("binds the filters into the search SQL and answers an empty last page", async () => {
    const db = fakeClickHouse();
    const client = await start(db);
    const page = await client.listEvents({ eventName: "signup", where: ["plan:eq:pro'"], pageSize: 10 });
    expect(page.events).toEqual([]);
    expect(page.nextPageToken).toBe("");
    expect(db.seen[0]).toContain("event_name = 'signup'");
    expect(db.seen[0]).toContain("'pro\\''");
    expect(db.seen[0]).toContain("LIMIT 11");
  });
});

describe("GetMetrics", () => {
  it("defaults to hourly groups over the last 24 hours and maps group_by both ways", async () => {
    const client = await start();
    const hourly = await client.getMetrics({});
    expect(hourly.groupedBy).toBe(GroupBy.HOUR);
    expect(hourly.data).toHaveLength(24);
    expect(hourly.to).toBe("2026-01-02T11:00:00Z");
    const byChannel = await client.getMetrics({ groupBy: GroupBy.CHANNEL, eventName: "signup" });
    expect(byChannel).toMatchObject({ groupedBy: GroupBy.CHANNEL, eventName: "signup", totalEvents: 0n, data: [] });
    expect(fields(await callFailure(client.getMetrics({ groupBy: 42 as GroupBy })))).toEqual(["group_by"]);
  });
});

describe("keys", () => {
  it("needs a key for QueryService", async () => {
    const client = await start(fakeClickHouse(), ["secret"]);
    expect((await callFailure(client.getMetrics({}))).code).toBe(Code.Unauthenticated);
    expect((await client.getMetrics({}, { headers: { authorization: "Bearer secret" } })).groupedBy).toBe(GroupBy.HOUR);
  });
});
