import { connect } from "node:net";
import type { HttpServer } from "@sluice/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, serveTestApp } from "./testing/fakes";

const TIMEOUT_MS = 1000;
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

/**
 * Opens a raw connection, sends `head`, then one byte of `drip` every 100 ms, and reports what the
 * server answered and when the connection ended (bounded at 8 s).
 */
function slowClient(port: number, head: string, drip: string): Promise<{ answer: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    let sent = 0;
    const dribble = setInterval(() => {
      if (!socket.destroyed && sent < drip.length) socket.write(drip[sent++] ?? "");
    }, 100);
    const done = () => {
      clearInterval(dribble);
      clearTimeout(bound);
      resolve({ answer, closedAfterMs: Date.now() - started });
    };
    const bound = setTimeout(() => {
      socket.destroy();
    }, 8000);
    socket.on("connect", () => socket.write(head));
    socket.on("data", (chunk) => {
      answer += String(chunk);
    });
    socket.on("error", () => undefined);
    socket.on("close", done);
  });
}

describe("slow clients (slowloris)", () => {
  let server: HttpServer;
  beforeAll(async () => {
    server = await serveTestApp(buildTestApp({ now: () => NOW }), { requestTimeoutMs: TIMEOUT_MS });
  });
  afterAll(() => server?.close());

  it("cuts off a body dribbled byte by byte once the request timeout passes", async () => {
    const body = JSON.stringify({ event_name: "slow", user_id: "u", timestamp: NOW, metadata: { pad: "x".repeat(200) } });
    const head = `POST /events HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const { answer, closedAfterMs } = await slowClient(server.port, head, body);
    // Node answers 408 when it can, else it just closes; either way the connection is gone, never held for 8 s.
    expect(answer === "" || answer.startsWith("HTTP/1.1 408"), answer.slice(0, 80)).toBe(true);
    expect(closedAfterMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(closedAfterMs).toBeLessThan(TIMEOUT_MS + 3000);
  });

  it("cuts off headers dribbled byte by byte", async () => {
    const { answer, closedAfterMs } = await slowClient(
      server.port,
      "POST /events HTTP/1.1\r\nHost: ingest\r\n",
      "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
    );
    expect(answer === "" || answer.startsWith("HTTP/1.1 408"), answer.slice(0, 80)).toBe(true);
    expect(closedAfterMs).toBeLessThan(TIMEOUT_MS + 3000);
  });

  it("keeps serving well-behaved clients afterwards", async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ event_name: "fast", user_id: "u", timestamp: NOW }),
    });
    expect(res.status).toBe(202);
  });
});
