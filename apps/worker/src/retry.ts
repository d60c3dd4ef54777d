import { clickhouseErrorCode } from "@sluice/clickhouse";

/**
 * ClickHouse codes that blame the rows themselves (parse and conversion failures): retrying the same
 * rows can never succeed, so the sink isolates the offending row and dead-letters it. Every other
 * failure (network, timeouts, 5xx, overload, a missing table an operator will fix) is retried.
 */
const ROW_ERROR_CODES = new Set([
  6, // CANNOT_PARSE_TEXT
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
  376, // CANNOT_PARSE_UUID
]);

/** True when ClickHouse rejected the rows' content, so retrying the same rows is pointless. */
export function isRowError(error: unknown): boolean {
  const code = clickhouseErrorCode(error);
  return code !== undefined && ROW_ERROR_CODES.has(code);
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** Capped exponential backoff with full jitter in the upper half: attempt 0 waits about `initialMs`. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (random() * base) / 2);
}

/** Resolves after `ms`, or early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
