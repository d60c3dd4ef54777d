import { type ContextKey, createContextKey, type Interceptor } from "@connectrpc/connect";
import { AppError, createKeyMatcher, presentedApiKey, type TokenBucketLimiter } from "@sluice/http";

/** The API key a call authenticated with; undefined when the API is open. */
export const apiKeyContext: ContextKey<string | undefined> = createContextKey<string | undefined>(undefined, {
  description: "the caller's API key",
});

/**
 * Requires a configured key in metadata `authorization: Bearer <key>` or `x-api-key` on calls to the
 * listed services (health and reflection stay open, like /health); keys are compared in constant time
 * by the same matcher as HTTP. With no keys every call passes.
 */
export function apiKeyInterceptor(keys: readonly string[], guarded: ReadonlySet<string>): Interceptor {
  const match = createKeyMatcher(keys);
  return (next) => async (req) => {
    if (keys.length > 0 && guarded.has(req.service.typeName)) {
      const key = match(presentedApiKey(req.header));
      if (key === undefined) throw new AppError("UNAUTHORIZED", "missing or invalid API key");
      req.contextValues.set(apiKeyContext, key);
    }
    return await next(req);
  };
}

/**
 * Takes one token per call to the listed services from the caller's bucket (one shared anonymous bucket
 * when the API is open); RESOURCE_EXHAUSTED with RetryInfo when it is empty. Pass the limiter the HTTP
 * face uses, so a key's budget covers both faces.
 */
export function rateLimitInterceptor(limiter: TokenBucketLimiter, guarded: ReadonlySet<string>): Interceptor {
  return (next) => async (req) => {
    if (guarded.has(req.service.typeName)) {
      const result = limiter.take(req.contextValues.get(apiKeyContext) ?? "anonymous");
      if (!result.allowed) throw new AppError("RATE_LIMITED", "rate limit exceeded", [], result.retryAfterSeconds);
    }
    return await next(req);
  };
}
