import { request } from "node:http";
import { gzipSync } from "node:zlib";
import type { HttpServer } from "@sluice/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type FakePublisher, serveTestApp } from "./testing/fakes";

const LIMIT = 1_048_576;
const CEILING = 256 * 1024 * 1024;

/**
 * Streams chunks (chunked encoding, no content-length) until the server answers or CEILING bytes are
 * sent; reports the answer and how much was sent. Bytes the server never reads stay in socket buffers,
 * so "sent" exceeding the limit by far would mean the server kept reading.
 */
function endless(port: number, headers: Record<string, string>, chunk: Buffer) {
  return new Promise<{ status: number; connection: string | undefined; body: string; sent: number }>((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/events", headers });
    req.on("response", (res) => {
      answered = true;
      let body = "";
      res.on("data", (data) => {
        body += String(data);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body, sent }));
    });
    // Once the server has answered and closed, writes fail with EPIPE/ECONNRESET; that is the point.
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    const pump = () => {
      while (!answered && sent < CEILING) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once("drain", pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe("body limits over a real connection (the production read path)", () => {
  let server: HttpServer;
  let publisher: FakePublisher;
  beforeAll(async () => {
    const built = buildTestApp({ config: { MAX_BODY_BYTES: LIMIT } });
    publisher = built.publisher;
    server = await serveTestApp(built);
  });
  afterAll(() => server?.close());

  it("413 for an endless body, having read about the limit, then closes the connection", async () => {
    const result = await endless(server.port, { "content-type": "application/json" }, Buffer.alloc(64 * 1024, " "));
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body)).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE" } });
    expect(result.connection).toBe("close");
    expect(result.sent).toBeLessThan(LIMIT + 32 * 1024 * 1024);
  });

  it("413 for an endless gzip bomb (concatenated members of zeros), cut at the decompressed limit", async () => {
    const member = gzipSync(Buffer.alloc(8 * 1024 * 1024, " "));
    expect(member.length).toBeLessThan(64 * 1024);
    const cpu = process.cpuUsage();
    // One write of 512 members: 4 GiB once inflated, queued on the socket before the server reads a byte.
    const volley = Buffer.concat(Array.from({ length: 512 }, () => member));
    const result = await endless(server.port, { "content-type": "application/json", "content-encoding": "gzip" }, volley);
    const cpuMs = (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system) / 1000;
    expect(result.status).toBe(413);
    expect(result.connection).toBe("close");
    // What was sent may sit unread in socket buffers (megabytes on loopback); inflating all of it would
    // be gigabytes and seconds of CPU, while stopping at the 1 MiB limit costs milliseconds.
    const inflatable = (result.sent / member.length) * 8;
    expect(inflatable, "MiB the sent members would inflate to").toBeGreaterThanOrEqual(4096);
    expect(cpuMs).toBeLessThan(1000);
  });

  it("still accepts a normal event on a new connection, and nothing oversized reached the broker", async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ event_name: "after", user_id: "u", timestamp: Date.now() }),
    });
    expect(res.status).toBe(202);
    expect(publisher.published).toHaveLength(1);
  });
});
