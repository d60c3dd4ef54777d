// The end-to-end check after a load run: every event the ingest acknowledged (202, or accepted in a
// 207) is in ClickHouse's `events` exactly once. Events carry `metadata.run_id`, so the run's rows are
// counted by it; ids the k6 script logged as unacknowledged are told apart (they may or may not have
// been stored: a client would retry them with the same id).
import { type ClickHouse, sql } from "@sluice/clickhouse";

export interface RunCounts {
  /** Rows carrying the run id. */
  rows: number;
  /** Distinct event ids among them. */
  uniqueIds: number;
  /** Distinct ids among them that the k6 script logged as unacknowledged. */
  unackedStored: number;
}

export interface Verdict {
  ok: boolean;
  accepted: number;
  storedRows: number;
  storedUnique: number;
  /** Acknowledged events not found. */
  missing: number;
  /** Rows beyond the first of each event id. */
  doubled: number;
  /** Stored rows that are neither acknowledged nor logged as unacknowledged: the accounting is wrong. */
  unexplained: number;
  unackedSent: number;
  unackedStored: number;
  problems: string[];
}

/** Compares what k6 counted as acknowledged with what ClickHouse holds for the run. */
export function judge(accepted: number, unackedSent: number, counts: RunCounts): Verdict {
  const doubled = counts.rows - counts.uniqueIds;
  const ackedStored = counts.uniqueIds - counts.unackedStored;
  const missing = Math.max(0, accepted - ackedStored);
  const unexplained = Math.max(0, ackedStored - accepted);
  const problems: string[] = [];
  if (missing > 0) problems.push(`${missing} acknowledged event(s) are MISSING from ClickHouse`);
  if (doubled > 0) problems.push(`${doubled} row(s) are DUPLICATES of an event id already stored`);
  if (unexplained > 0) {
    problems.push(`${unexplained} stored event(s) were neither acknowledged nor logged as unacknowledged (accounting mismatch)`);
  }
  return {
    ok: problems.length === 0,
    accepted,
    storedRows: counts.rows,
    storedUnique: counts.uniqueIds,
    missing,
    doubled,
    unexplained,
    unackedSent,
    unackedStored: counts.unackedStored,
    problems,
  };
}

const ID_CHUNK = 2000;

/** Counts the run's rows and distinct ids in `events`, and how many of the unacknowledged ids were stored anyway. */
export async function countRun(
  db: ClickHouse,
  runId: string,
  sinceMs: number,
  unackedIds: readonly string[],
): Promise<RunCounts> {
  // Events are stamped with the sender's clock at send time, so the time bound prunes partitions and index ranges.
  const where = sql`timestamp >= toDateTime(${Math.floor(sinceMs / 1000)})
    AND metadata_string_values[indexOf(metadata_string_keys, 'run_id')] = ${runId}`;
  const [row] = await db.query<{ rows: string; ids: string }>(
    sql`SELECT count() AS rows, uniqExact(event_id) AS ids FROM events WHERE ${where}`,
  );
  let unackedStored = 0;
  // Chunked so each statement stays well under the server's max_query_size; ids are distinct, so the sums add up.
  for (let at = 0; at < unackedIds.length; at += ID_CHUNK) {
    const chunk = unackedIds.slice(at, at + ID_CHUNK);
    const [found] = await db.query<{ ids: string }>(
      sql`SELECT uniqExact(event_id) AS ids FROM events WHERE ${where} AND toString(event_id) IN ${chunk}`,
    );
    unackedStored += Number(found?.ids ?? 0);
  }
  return { rows: Number(row?.rows ?? 0), uniqueIds: Number(row?.ids ?? 0), unackedStored };
}

/** Sums every sample of `name` in a Prometheus text exposition; undefined when the metric is absent. */
export function sumMetric(exposition: string, name: string): number | undefined {
  let total: number | undefined;
  for (const line of exposition.split("\n")) {
    if (!line.startsWith(name) || (line[name.length] !== "{" && line[name.length] !== " ")) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

export interface DrainOptions {
  /** The worker's Prometheus endpoint; when it does not answer, only the row count's stability is used. */
  workerMetricsUrl: string;
  timeoutMs: number;
  pollMs?: number;
  count: () => Promise<number>;
  log: (message: string) => void;
}

export interface DrainResult {
  drained: boolean;
  waitedMs: number;
  rows: number;
}

/**
 * Waits until the worker has nothing left: consumer lag and buffered messages at 0 (from its
 * metrics), then the run's row count unchanged over two polls in a row. Bounded by `timeoutMs`.
 */
export async function waitForDrain(options: DrainOptions): Promise<DrainResult> {
  const pollMs = options.pollMs ?? 1000;
  const started = Date.now();
  let previous = -1;
  let stablePolls = 0;
  let lastReport = 0;
  for (;;) {
    const rows = await options.count();
    const worker = await fetch(options.workerMetricsUrl, { signal: AbortSignal.timeout(5000) })
      .then(async (res) => (res.ok ? await res.text() : undefined))
      .catch(() => undefined);
    const lag = worker === undefined ? undefined : sumMetric(worker, "sluice_worker_consumer_lag");
    const buffered = worker === undefined ? undefined : sumMetric(worker, "sluice_worker_buffered_messages");
    const workerIdle = worker === undefined || ((lag ?? 0) === 0 && (buffered ?? 0) === 0);
    stablePolls = workerIdle && rows === previous ? stablePolls + 1 : 0;
    previous = rows;
    // Without the worker's metrics, stability alone must carry the decision, so ask for longer.
    if (stablePolls >= (worker === undefined ? 3 : 1)) return { drained: true, waitedMs: Date.now() - started, rows };
    if (Date.now() - started > options.timeoutMs) return { drained: false, waitedMs: Date.now() - started, rows };
    if (Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      options.log(
        `waiting for the worker to drain: ${rows} rows of the run stored, lag ${lag ?? "?"}, buffered ${buffered ?? "?"}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
