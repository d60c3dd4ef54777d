import type { Logger } from "pino";

/** One answered ingest request, as the access log records it. */
export interface AccessLogEntry {
  requestId: string;
  method: string;
  path: string;
  status: number;
  /** performance.now() when the request came in. */
  started: number;
  /** The error code of an error answer. */
  code?: string;
}

/**
 * The ingest access log: every error (5xx at warn), and a sample of successes at info (all of them at
 * debug), so logging stays a small share of the hot path's cost.
 */
export function createAccessLog(logger: Logger, sampleRate: number): (entry: AccessLogEntry) => void {
  return ({ requestId, method, path, status, started, code }) => {
    const level = status >= 500 ? "warn" : status >= 400 || Math.random() < sampleRate ? "info" : "debug";
    if (!logger.isLevelEnabled(level)) return;
    logger[level](
      {
        requestId,
        method,
        path,
        status,
        ms: Math.round((performance.now() - started) * 100) / 100,
        ...(code === undefined ? {} : { code }),
      },
      "request",
    );
  };
}
