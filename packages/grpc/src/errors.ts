import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { type AppError, type ErrorCode, toAppError } from "@sluice/http";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "@sluice/proto";
import type { Logger } from "pino";

/** The `domain` of the google.rpc.ErrorInfo every Sluice error carries; its `reason` is the AppError code. */
export const ERROR_DOMAIN = "sluice";

/**
 * The one mapping from the HTTP APIs' error codes to gRPC status codes. A Record, so a new AppError code
 * does not compile until it has a gRPC code too.
 */
export const GRPC_CODE: Record<ErrorCode, Code> = {
  BAD_REQUEST: Code.InvalidArgument,
  INVALID_JSON: Code.InvalidArgument,
  VALIDATION_FAILED: Code.InvalidArgument,
  UNAUTHORIZED: Code.Unauthenticated,
  FORBIDDEN: Code.PermissionDenied,
  NOT_FOUND: Code.NotFound,
  REQUEST_TIMEOUT: Code.DeadlineExceeded,
  CONFLICT: Code.Aborted,
  // The same code gRPC itself answers when a message exceeds the server's receive limit.
  PAYLOAD_TOO_LARGE: Code.ResourceExhausted,
  UNSUPPORTED_MEDIA_TYPE: Code.InvalidArgument,
  CAMPAIGN_REQUIREMENTS_UNMET: Code.FailedPrecondition,
  RATE_LIMITED: Code.ResourceExhausted,
  INTERNAL: Code.Internal,
  UNAVAILABLE: Code.Unavailable,
};

/**
 * Turns an AppError into a gRPC status with standard details: google.rpc.ErrorInfo (reason = the
 * AppError code), google.rpc.BadRequest naming each offending field, and google.rpc.RetryInfo where
 * HTTP would send Retry-After.
 */
export function appErrorToConnect(error: AppError): ConnectError {
  const details: ConstructorParameters<typeof ConnectError>[3] = [
    { desc: ErrorInfoSchema, value: { reason: error.code, domain: ERROR_DOMAIN } },
  ];
  if (error.details.length > 0) {
    details.push({
      desc: BadRequestSchema,
      value: { fieldViolations: error.details.map((d) => ({ field: d.path, description: d.message })) },
    });
  }
  if (error.retryAfterSeconds !== undefined) {
    details.push({
      desc: RetryInfoSchema,
      value: { retryDelay: { seconds: BigInt(Math.max(1, Math.ceil(error.retryAfterSeconds))) } },
    });
  }
  return new ConnectError(error.message, GRPC_CODE[error.code], undefined, details, error);
}

/**
 * Maps whatever a handler threw to the status the client sees: ConnectErrors pass through, AppErrors
 * map through GRPC_CODE, anything else is logged once and answered INTERNAL without its internals.
 */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (error) {
      if (error instanceof ConnectError) throw error;
      const appError = toAppError(error);
      if (appError.code === "INTERNAL") logger.error({ err: error, procedure: req.url }, "unhandled error in a gRPC handler");
      throw appErrorToConnect(appError);
    }
  };
}
