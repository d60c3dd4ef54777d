import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { MiddlewareHandler } from "hono";
import { AppError } from "./errors";
import { nodeEnv } from "./node-env";

const digest = (value: string): Buffer => createHash("sha256").update(value).digest();

/** Reads the presented key from `Authorization: Bearer` or `x-api-key`. */
export function presentedApiKey(headers: { get(name: string): string | null | undefined }): string | undefined {
  const authorization = headers.get("authorization");
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match?.[1]) return match[1];
  }
  return headers.get("x-api-key") ?? undefined;
}

/**
 * Reads the presented key from Node's parsed headers, where a repeated Authorization keeps its first
 * value: behind the Node adapter every path (Hono's middleware, a fast lane) reads the same key.
 */
export function presentedNodeApiKey(headers: IncomingHttpHeaders): string | undefined {
  return presentedApiKey({
    get: (name) => {
      const value = headers[name];
      return Array.isArray(value) ? value[0] : value;
    },
  });
}

/**
 * Returns a matcher that compares a key with every configured key in constant time. Keys are hashed
 * first so lengths leak nothing, and the loop never exits early.
 */
export function createKeyMatcher(keys: readonly string[]): (presented: string | undefined) => string | undefined {
  const expected = keys.map((key) => ({ key, hash: digest(key) }));
  return (presented) => {
    if (presented === undefined) return undefined;
    const hash = digest(presented);
    let matched: string | undefined;
    for (const candidate of expected) {
      if (timingSafeEqual(hash, candidate.hash)) matched = candidate.key;
    }
    return matched;
  };
}

/** Requires a valid API key on every request it guards; sets `apiKey` on the context for rate limiting. */
export function apiKeyAuth(keys: readonly string[]): MiddlewareHandler {
  const match = createKeyMatcher(keys);
  return async (c, next) => {
    const { incoming } = nodeEnv(c);
    const key = match(incoming === undefined ? presentedApiKey(c.req.raw.headers) : presentedNodeApiKey(incoming.headers));
    if (key === undefined) throw new AppError("UNAUTHORIZED", "missing or invalid API key");
    c.set("apiKey" as never, key as never);
    await next();
  };
}
