// `make bench-grpc`: events/s through one ingest process with 100-event batches, gRPC PublishEvents next to
// HTTP POST /events/batch, alternating in one run so both see the same broker and machine. The client
// sends pre-encoded bodies (JSON for HTTP, protobuf frames over one HTTP/2 connection for gRPC) so the
// figures measure the server. Results go to bench/results/grpc-<timestamp>.json.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { type ClientHttp2Session, connect } from "node:http2";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { EventSchema, PublishEventsRequestSchema, PublishEventsResponseSchema } from "@sluice/proto";
import { createTestTopic, freePort, testKafka } from "@sluice/testing";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ROUND_S = Number(process.env.BENCH_DURATION_S ?? 8);
const ROUNDS = 2;
const WARMUP_S = 2;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const BATCH_SIZE = 100;
const BODIES = 20;

interface Sample {
  events: number;
  requests: number;
  failures: number;
  latenciesMs: number[];
}

function sampleEvent(i: number, now: number) {
  return {
    event_name: ["page_view", "signup", "purchase", "add_to_cart"][i % 4] as string,
    user_id: `user-${i % 5000}`,
    timestamp: now,
    channel: "web",
    session_id: `s-${i % 900}`,
    tags: ["bench", "grpc"],
    metadata: { plan: "pro", seats: i % 10, trial: i % 2 === 0, path: `/pricing/${i % 50}` },
    device: { os: "iOS", os_version: "18.1", browser: "Safari" },
  };
}

/** The same event as sluice.v1.Event. */
function toProto(event: ReturnType<typeof sampleEvent>): MessageInitShape<typeof EventSchema> {
  return {
    eventName: event.event_name,
    userId: event.user_id,
    timestamp: { case: "timestampMs", value: BigInt(event.timestamp) },
    channel: event.channel,
    sessionId: event.session_id,
    tags: event.tags,
    metadata: {
      plan: { kind: { case: "stringValue", value: event.metadata.plan } },
      seats: { kind: { case: "numberValue", value: event.metadata.seats } },
      trial: { kind: { case: "boolValue", value: event.metadata.trial } },
      path: { kind: { case: "stringValue", value: event.metadata.path } },
    },
    device: { os: event.device.os, osVersion: event.device.os_version, browser: event.device.browser },
  };
}

const now = Date.now();
const batches = Array.from({ length: BODIES }, (_, b) =>
  Array.from({ length: BATCH_SIZE }, (_, i) => sampleEvent(b * BATCH_SIZE + i, now)),
);
const jsonBodies = batches.map((events) => Buffer.from(JSON.stringify({ events })));
const grpcFrames = batches.map((events) => {
  const message = toBinary(
    PublishEventsRequestSchema,
    create(PublishEventsRequestSchema, { events: events.map((event) => create(EventSchema, toProto(event))) }),
  );
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
});

function postJson(agent: Agent, port: number, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { agent, host: "127.0.0.1", port, method: "POST", path: "/events/batch", headers: { "content-type": "application/json" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          if (res.statusCode !== 202) return resolve(-1);
          resolve((JSON.parse(Buffer.concat(chunks).toString("utf8")) as { accepted: number }).accepted);
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function publishEvents(session: ClientHttp2Session, frame: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": "/sluice.v1.IngestService/PublishEvents",
      "content-type": "application/grpc+proto",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("trailers", (trailers) => {
      status = String(trailers["grpc-status"]);
    });
    stream.on("end", () => {
      if (status !== "0") return resolve(-1);
      resolve(fromBinary(PublishEventsResponseSchema, Buffer.concat(chunks).subarray(5)).accepted);
    });
    stream.on("error", reject);
    stream.end(frame);
  });
}

/** CONCURRENCY callers each sending one batch after another for `seconds`. */
async function load(seconds: number, send: (i: number) => Promise<number>): Promise<Sample> {
  const sample: Sample = { events: 0, requests: 0, failures: 0, latenciesMs: [] };
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      for (let i = worker; performance.now() < deadline; i += CONCURRENCY) {
        const started = performance.now();
        const accepted = await send(i).catch(() => -1);
        sample.latenciesMs.push(performance.now() - started);
        sample.requests++;
        if (accepted < 0) sample.failures++;
        else sample.events += accepted;
      }
    }),
  );
  return sample;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) * 100) / 100;
}

function summarize(name: string, samples: Sample[], seconds: number) {
  const events = samples.reduce((sum, s) => sum + s.events, 0);
  const latencies = samples.flatMap((s) => s.latenciesMs);
  return {
    name,
    eventsPerSec: Math.round(events / seconds),
    requestsPerSec: Math.round(samples.reduce((sum, s) => sum + s.requests, 0) / seconds),
    failures: samples.reduce((sum, s) => sum + s.failures, 0),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

async function waitForHealth(child: ChildProcess, url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`ingest exited with ${child.exitCode}`);
    const ok = await fetch(url).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not answer within 60 s`);
}

const kafka = testKafka("sluice-bench-grpc");
const topic = await createTestTopic(kafka, "bench-grpc", 6);
const [httpPort, grpcPort] = [await freePort(), await freePort()];
const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "apps/ingest/src/main.ts")], {
  cwd: ROOT,
  stdio: ["ignore", "ignore", "inherit"],
  env: {
    ...process.env,
    LOG_LEVEL: "warn",
    SERVER_HOST: "127.0.0.1",
    SERVER_PORT: String(httpPort),
    GRPC_PORT: String(grpcPort),
    METRICS_PORT: String(await freePort()),
    KAFKA_TOPIC: topic,
  },
});
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
let session: ClientHttp2Session | undefined;
try {
  await waitForHealth(child, `http://127.0.0.1:${httpPort}/ready`);
  const grpcSession = connect(`http://127.0.0.1:${grpcPort}`);
  session = grpcSession;
  const http = (i: number) => postJson(agent, httpPort, jsonBodies[i % BODIES] as Buffer);
  const grpc = (i: number) => publishEvents(grpcSession, grpcFrames[i % BODIES] as Buffer);
  process.stdout.write(
    `bench-grpc: ${ROUNDS} rounds of ${ROUND_S}s per face, ${CONCURRENCY} concurrent ${BATCH_SIZE}-event batches, topic ${topic}\n`,
  );
  await load(WARMUP_S, http);
  await load(WARMUP_S, grpc);
  const samples: { http: Sample[]; grpc: Sample[] } = { http: [], grpc: [] };
  for (let round = 0; round < ROUNDS; round++) {
    samples.http.push(await load(ROUND_S, http));
    samples.grpc.push(await load(ROUND_S, grpc));
  }
  const seconds = ROUNDS * ROUND_S;
  const results = [
    summarize("HTTP POST /events/batch x100", samples.http, seconds),
    summarize("gRPC PublishEvents x100", samples.grpc, seconds),
  ];
  for (const r of results) {
    process.stdout.write(
      `  ${r.name}: ${r.eventsPerSec} events/s (${r.requestsPerSec} batches/s), p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, ${r.failures} failed\n`,
    );
  }
  const [httpFigures, grpcFigures] = results as [(typeof results)[0], (typeof results)[0]];
  const summary = {
    at: new Date().toISOString(),
    roundS: ROUND_S,
    rounds: ROUNDS,
    concurrency: CONCURRENCY,
    batchSize: BATCH_SIZE,
    bodyBytes: { json: jsonBodies[0]?.length, protobuf: grpcFrames[0]?.length },
    results,
    grpcVsHttp: Math.round((grpcFigures.eventsPerSec / httpFigures.eventsPerSec) * 100) / 100,
    loadAverage: loadavg(),
  };
  process.stdout.write(`  gRPC / HTTP events/s: ${summary.grpcVsHttp}\n`);
  const dir = join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `grpc-${summary.at.replaceAll(":", "-")}.json`);
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`  written to ${file}\n`);
} finally {
  session?.close();
  agent.destroy();
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
}
