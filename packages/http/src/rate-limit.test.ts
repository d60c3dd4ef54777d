import { Hono } from "hono";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createErrorHandler } from "./errors";
import { rateLimit, TokenBucketLimiter } from "./rate-limit";

describe("TokenBucketLimiter", () => {
  it("allows the burst, then refills at the configured rate", () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ ratePerSec: 2, burst: 3, now: () => now });
    expect([1, 2, 3].map(() => limiter.take("k").allowed)).toEqual([true, true, true]);
    const denied = limiter.take("k");
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterSeconds).toBeCloseTo(0.5);
    now = 500;
    expect(limiter.take("k").allowed).toBe(true);
    expect(limiter.take("k").allowed).toBe(false);
    now = 10_000;
    expect([1, 2, 3, 4].map(() => limiter.take("k").allowed)).toEqual([true, true, true, false]);
  });

  it("keeps one bucket per key", () => {
    const limiter = new TokenBucketLimiter({ ratePerSec: 1, burst: 1, now: () => 0 });
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("a").allowed).toBe(false);
    expect(limiter.take("b").allowed).toBe(true);
  });

  it("bounds the number of tracked keys", () => {
    const limiter = new TokenBucketLimiter({ ratePerSec: 1, burst: 1, maxKeys: 2, now: () => 0 });
    limiter.take("a");
    limiter.take("b");
    limiter.take("c");
    // "a" was evicted, so it starts with a full bucket again.
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("c").allowed).toBe(false);
  });

  it("rejects nonsensical settings", () => {
    expect(() => new TokenBucketLimiter({ ratePerSec: 0, burst: 1 })).toThrow();
    expect(() => new TokenBucketLimiter({ ratePerSec: 1, burst: 0 })).toThrow();
  });
});

describe("rateLimit middleware", () => {
  it("answers 429 with Retry-After once the bucket is empty", async () => {
    const app = new Hono();
    app.onError(createErrorHandler(pino({ level: "silent" })));
    app.use(
      "*",
      rateLimit(new TokenBucketLimiter({ ratePerSec: 0.5, burst: 1, now: () => 0 }), () => "key"),
    );
    app.get("/", (c) => c.text("ok"));
    expect((await app.request("/")).status).toBe(200);
    const limited = await app.request("/");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("2");
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe("RATE_LIMITED");
  });
});
