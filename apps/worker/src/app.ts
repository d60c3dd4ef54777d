import { type CommonDeps, installCommon } from "@sluice/http";
import { Hono } from "hono";

export type WorkerDeps = CommonDeps;

/** Builds the worker HTTP app from its dependencies; no I/O happens here. */
export function createApp(deps: WorkerDeps): Hono {
  const app = new Hono();
  installCommon(app, deps);
  return app;
}
