import { type CommonDeps, installCommon } from "@sluice/http";
import { Hono } from "hono";

export type IngestDeps = CommonDeps;

/** Builds the ingest HTTP app from its dependencies; no I/O happens here. */
export function createApp(deps: IngestDeps): Hono {
  const app = new Hono();
  installCommon(app, deps);
  return app;
}
