import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "pino";

/** The closed set of error codes the HTTP APIs answer with, and the status each maps to. */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  CAMPAIGN_REQUIREMENTS_UNMET: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetail {
  path: string;
  message: string;
}

/** The one error type handlers throw; `onError` turns it into the error envelope. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "AppError";
  }

  get status(): (typeof ERROR_STATUS)[ErrorCode] {
    return ERROR_STATUS[this.code];
  }
}

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; details: ErrorDetail[]; request_id: string };
}

/** Builds the error envelope body for an AppError. */
export function errorEnvelope(error: AppError, requestId: string): ErrorEnvelope {
  return { error: { code: error.code, message: error.message, details: error.details, request_id: requestId } };
}

const HTTP_STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  408: "REQUEST_TIMEOUT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "RATE_LIMITED",
  503: "UNAVAILABLE",
};

/** Normalises anything thrown in a handler into an AppError; unknown errors become INTERNAL. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof HTTPException) {
    const code = HTTP_STATUS_CODES[error.status] ?? "INTERNAL";
    return new AppError(code, error.message || code.toLowerCase().replaceAll("_", " "));
  }
  return new AppError("INTERNAL", "internal error");
}

/** The Retry-After value (whole seconds, at least 1) for an error that has one. */
function retryAfter(error: AppError): string | undefined {
  return error.retryAfterSeconds === undefined ? undefined : String(Math.max(1, Math.ceil(error.retryAfterSeconds)));
}

/** Answers an error with the envelope, its status, and Retry-After where it applies. */
export function respondWithError(c: Context, error: AppError): Response {
  const requestId = (c.get("requestId") as string | undefined) ?? "";
  const seconds = retryAfter(error);
  if (seconds !== undefined) c.header("Retry-After", seconds);
  return c.json(errorEnvelope(error, requestId), error.status);
}

/**
 * Writes the same answer as respondWithError (x-request-id included) on a Node response, for a handler
 * that serves a request without Hono; `headers` are added.
 */
export function writeErrorResponse(
  outgoing: ServerResponse,
  error: AppError,
  requestId: string,
  headers: OutgoingHttpHeaders = {},
): void {
  const body = JSON.stringify(errorEnvelope(error, requestId));
  const seconds = retryAfter(error);
  outgoing.writeHead(error.status, {
    ...headers,
    "x-request-id": requestId,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...(seconds === undefined ? {} : { "retry-after": seconds }),
  });
  outgoing.end(body);
}

/** The app-wide `onError`: logs unexpected failures once, never leaks internals to the client. */
export function createErrorHandler(logger: Logger) {
  return (error: unknown, c: Context): Response => {
    const appError = toAppError(error);
    if (appError.code === "INTERNAL") {
      logger.error({ err: error, requestId: c.get("requestId") }, "unhandled error");
    }
    return respondWithError(c, appError);
  };
}

/** The app-wide 404 for unknown routes, in the error envelope. */
export function notFoundHandler(c: Context): Response {
  return respondWithError(c, new AppError("NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`));
}
