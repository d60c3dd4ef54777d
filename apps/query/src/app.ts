import { type CommonDeps, installCommon } from "@sluice/http";
import { Hono } from "hono";

export type QueryDeps = CommonDeps;

/** Builds the query HTTP app from its dependencies; no I/O happens here. */
export function createApp(deps: QueryDeps): Hono {
  const app = new Hono();
  installCommon(app, deps);
  return app;
}
