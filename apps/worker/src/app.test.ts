import { Readiness } from "@sluice/http";
import { createLogger } from "@sluice/logger";
import { createRegistry } from "@sluice/metrics";
import { describe, expect, it } from "vitest";
import { createApp } from "./app";

function build() {
  const readiness = new Readiness();
  const app = createApp({ logger: createLogger({ name: "test", level: "silent" }), registry: createRegistry("test"), readiness });
  return { app, readiness };
}

describe("worker app", () => {
  it("answers /health with 200 and an x-request-id", async () => {
    const res = await build().app.request("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "healthy" });
    expect(res.headers.get("x-request-id")).toMatch(/.+/);
  });

  it("answers /ready with 503 once draining", async () => {
    const { app, readiness } = build();
    expect((await app.request("/ready")).status).toBe(200);
    readiness.startDraining();
    const res = await app.request("/ready");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: "unavailable", failed: ["shutdown"] });
  });

  it("answers unknown routes with the error envelope", async () => {
    const res = await build().app.request("/nope");
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; request_id: string } };
    expect(body.error.code).toBe("NOT_FOUND");
    expect(body.error.request_id).toBe(res.headers.get("x-request-id"));
  });
});
