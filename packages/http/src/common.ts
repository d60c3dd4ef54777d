import type { Registry } from "@sluice/metrics";
import type { Env, Hono } from "hono";
import type { Logger } from "pino";
import { createErrorHandler, notFoundHandler } from "./errors";
import { registerHealth } from "./health";
import { httpMetrics } from "./metrics";
import type { Readiness } from "./readiness";
import { requestIdMiddleware } from "./request-id";

export interface CommonDeps {
  logger: Logger;
  registry: Registry;
  readiness: Readiness;
}

/** Wires what every app shares: x-request-id, request metrics, the error envelope, 404s, /health and /ready. */
export function installCommon<E extends Env>(app: Hono<E>, deps: CommonDeps): void {
  app.use("*", requestIdMiddleware());
  app.use("*", httpMetrics(deps.registry));
  app.onError(createErrorHandler(deps.logger));
  app.notFound(notFoundHandler);
  registerHealth(app, deps.readiness);
}
