import { Agent, request } from "node:http";
import { describe, expect, it } from "vitest";
import { startHttpServer } from "./server";

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
