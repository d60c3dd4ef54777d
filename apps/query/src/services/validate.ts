import type { z } from "@hono/zod-openapi";
import { toFieldIssues } from "@sluice/events";
import { AppError } from "@sluice/http";

/** The 400 a request whose parameters fail their schema gets, each offending parameter named. */
export function invalidRequest(error: z.ZodError): AppError {
  return new AppError("VALIDATION_FAILED", "invalid request", toFieldIssues(error));
}

/** Parses request parameters with the schema the HTTP route declares, or throws invalidRequest. */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalidRequest(parsed.error);
  return parsed.data;
}
