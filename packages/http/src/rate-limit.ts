import type { MiddlewareHandler } from "hono";
import { AppError } from "./errors";

export interface TokenBucketOptions {
  /** Tokens added per second (the sustained rate). */
  ratePerSec: number;
  /** Bucket capacity (the burst allowed after a quiet period). */
  burst: number;
  /** Upper bound on tracked keys; the least recently refilled bucket is evicted beyond it. */
  maxKeys?: number;
  now?: () => number;
}

export interface TakeResult {
  allowed: boolean;
  /** Seconds until enough tokens are back; 0 when allowed. */
  retryAfterSeconds: number;
}

/** A per-key token bucket: each key holds up to `burst` tokens, refilled at `ratePerSec`. */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(private readonly options: TokenBucketOptions) {
    if (!(options.ratePerSec > 0) || !(options.burst >= 1)) throw new Error("rate must be > 0 and burst >= 1");
    this.now = options.now ?? Date.now;
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /** Takes `cost` tokens from `key`'s bucket if it holds them; never blocks. */
  take(key: string, cost = 1): TakeResult {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
      bucket = { tokens: this.options.burst, at: now };
    } else {
      this.buckets.delete(key);
      bucket.tokens = Math.min(this.options.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.options.ratePerSec);
      bucket.at = now;
    }
    // Re-inserting keeps the Map in least-recently-used order for eviction.
    this.buckets.set(key, bucket);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { allowed: true, retryAfterSeconds: 0 };
    }
    return { allowed: false, retryAfterSeconds: (cost - bucket.tokens) / this.options.ratePerSec };
  }
}

/** The bucket of a request: its API key, or without keys one anonymous bucket, which then protects the backend as a whole. */
export function rateLimitKey(apiKey: string | undefined): string {
  return apiKey ?? "anonymous";
}

/** Answers 429 RATE_LIMITED with Retry-After when the request's key has no tokens left. */
export function rateLimit(
  limiter: TokenBucketLimiter,
  keyOf: (c: Parameters<MiddlewareHandler>[0]) => string,
): MiddlewareHandler {
  return async (c, next) => {
    const result = limiter.take(keyOf(c));
    if (!result.allowed) throw new AppError("RATE_LIMITED", "rate limit exceeded", [], result.retryAfterSeconds);
    await next();
  };
}
