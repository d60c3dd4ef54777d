import { Agent, request } from "node:http";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { type FastLane, startHttpServer } from "./server";

/** Sends raw request bytes and resolves with everything the server answered before closing. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = "";
    const socket = connect(port, "127.0.0.1", () => socket.write(bytes));
    socket.on("data", (chunk) => {
      answer += String(chunk);
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(answer));
  });
}

describe("startHttpServer close", () => {
  it("drains promptly although a kept-alive connection finishes its request after close()", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = await startHttpServer(
      async () => {
        await gate;
        return new Response("ok");
      },
      { port: 0, host: "127.0.0.1" },
    );
    const agent = new Agent({ keepAlive: true });
    const response = new Promise<number>((resolve, reject) => {
      request({ port: server.port, host: "127.0.0.1", agent }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      })
        .on("error", reject)
        .end();
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const closed = server.close();
    release();
    expect(await response).toBe(200);
    await closed;
    expect(Date.now() - started).toBeLessThan(2000);
    agent.destroy();
  });
});

describe("startHttpServer requests", () => {
  it("serves an HTTP/1.0 request without a Host header (health checkers send them)", async () => {
    const server = await startHttpServer((request) => new Response(new URL(request.url).pathname), {
      port: 0,
      host: "127.0.0.1",
    });
    try {
      const answer = await raw(server.port, "GET /health HTTP/1.0\r\n\r\n");
      expect(answer.startsWith("HTTP/1.1 200"), answer).toBe(true);
      expect(answer.endsWith("/health")).toBe(true);
    } finally {
      await server.close();
    }
  });

  it("offers each request to the fast lane first, and Hono serves what it leaves or throws on", async () => {
    const fastLane: FastLane = (incoming, outgoing) => {
      if (incoming.url === "/throws") throw new Error("a bug");
      if (incoming.url !== "/fast") return false;
      outgoing.writeHead(202);
      outgoing.end("fast");
      return true;
    };
    const server = await startHttpServer(() => new Response("hono"), { port: 0, host: "127.0.0.1", fastLane });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const fast = await fetch(`${base}/fast`);
      expect([fast.status, await fast.text()]).toEqual([202, "fast"]);
      for (const path of ["/other", "/throws"]) {
        const res = await fetch(`${base}${path}`);
        expect([res.status, await res.text()]).toEqual([200, "hono"]);
      }
    } finally {
      await server.close();
    }
  });
});
