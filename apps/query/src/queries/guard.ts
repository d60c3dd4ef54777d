import { clickhouseErrorCode } from "@sluice/clickhouse";
import { AppError } from "@sluice/http";

/**
 * Runs a ClickHouse read; a failure to reach the server (no `Code: N` in the error) becomes 503 with
 * Retry-After, while a server-side SQL error stays a 500 so it is logged as the bug it is.
 */
export async function readFromClickHouse<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof AppError || clickhouseErrorCode(error) !== undefined) throw error;
    throw new AppError("UNAVAILABLE", "ClickHouse is unavailable", [], 1);
  }
}
