/**
 * Exactly-once delivery from Kafka into ClickHouse, on 18.16 as on current versions (neither has
 * transactions nor, on a plain MergeTree, insert de-duplication). ClickHouse itself is the source of
 * truth for what is stored; Kafka's committed offset is only a lower bound that saves work.
 *
 * 1. Positions. Every row carries its (topic, partition, offset). `events_offsets` (a view of the
 *    raw table, maxState per partition) tells the highest stored offset per partition. A message
 *    at or below it is a *suspect*: it may be stored. Suspects are checked row by row against the raw
 *    table (the check uses the batch's event names and time range, so it reads through the primary
 *    key), and only rows not found are inserted. The stored maximum is read again before every insert
 *    (one small aggregate read), so rows another worker stored after this one took the partition
 *    (a rebalance during that worker's flush) are caught too.
 * 2. Atomic inserts. `events` is PARTITION BY month and ClickHouse writes one part per month of an
 *    insert, so a batch spanning two months is not atomic. The sink therefore sends one insert per
 *    month present in the flush (normally exactly one), each of which lands whole or not at all.
 *    The views are fed after the raw part is written, in the same request.
 * 3. Failed inserts. A transient failure (connection refused or reset, timeout, 5xx, overload) may
 *    still have landed server-side, so before every retry the sink waits until the server runs no
 *    insert into `events` that was running when it looked (a timed-out insert goes on server-side),
 *    then all rows of the failed insert become suspects and the landed ones are dropped; then it
 *    retries with capped exponential backoff, forever, reporting unhealthy meanwhile. An error that
 *    blames the rows (parse, type) splits the insert in halves until the offending row is alone, and
 *    that row is dead-lettered — unless the rows landed (a view failed after the raw part), which is
 *    a failed insert as above.
 * 4. Views after a cut insert. ClickHouse writes the raw part, then feeds the views one by one, with no
 *    transaction: a server stopped or killed in between leaves rows in `events` that some views lack.
 *    When a failed insert's rows turn out to have landed, and once per partition for the rows a
 *    previous owner stored past the committed position (it may have crashed right after such a cut),
 *    every view is checked for exactly those rows and replayed where it missed them (repair.ts, views.ts)
 *    before the offsets are committed. `events_offsets` is one of these views, so the suspect
 *    threshold also takes the highest offset read from the raw rows when the partition was loaded.
 * 5. Duplicate event_ids (client retries; the ingest keys messages by user, so a retry lands in the
 *    same partition): dropped within the buffer, and against a bounded per-partition window of the
 *    most recent ids, rebuilt from ClickHouse when the partition is assigned.
 * 6. Poison messages (not JSON, schema violations) are dead-lettered: published to the DLQ topic and
 *    recorded in `events_dead_letter`, whose key is the source offset, so a redelivered poison
 *    message is recorded once. They never block their partition. A row ClickHouse rejects is
 *    dead-lettered too, with its original message read back from Kafka (a buffered row keeps only
 *    its line).
 * 7. Offsets are committed (by the consumer) only after `write` resolves, i.e. after ClickHouse has
 *    every row of the flush and its views have been checked where needed. A crash before the commit
 *    replays the flush; steps 1 and 4 drop what landed and complete its views.
 *
 * What this cannot cover (see docs/RELIABILITY.md): a counting view cannot tell whose rows it missed,
 * only how many per group; the repair could count an insert twice only if that insert had fed the
 * view, its answer was lost, and other cut inserts not yet repaired by their own workers matched its
 * rows in every group it touches (exactly, or with more for `unsureDeadlineMs`). A worker that lost its
 * partition but still inserts into it (a zombie) can race the new owner, as before. Views must read
 * FROM `events`: a cut between a view's target and a view reading FROM that target is not detected.
 * Rows stored past the committed position but older than the id window (a group that lost its
 * committed offsets) are not checked.
 */
import { type ClickHouse, join, type SqlFragment, sql } from "@sluice/clickhouse";
import type { Logger } from "pino";
import { ByteArena } from "./arena";
import type { DeadLetterWriter } from "./dead-letters";
import { type DeadLetter, type Decoded, decodeMessage, eventIdEnd, eventIdOf, type PendingRow, type RawMessage } from "./decode";
import type { WorkerMetrics } from "./metrics";
import { RecentIds } from "./recent-ids";
import type { ViewRepair } from "./repair";
import { type MessageReader, partitionKey, positionKey } from "./reread";
import { type Backoff, backoffDelay, isRowError, sleep } from "./retry";

/** What the consumer buffers: a decoded message, or the position of a duplicate to commit past. */
export type Item = Decoded | { kind: "skip"; message: RawMessage };

/** The topic, partition and offset of the message an item came from. */
export function positionOf(item: Item): { topic: string; partition: number; offset: string } {
  return item.kind === "row" ? item : item.kind === "dead" ? item.dead.message : item.message;
}

/** The next offset to commit per partition after a flush. */
export interface CommitPosition {
  topic: string;
  partition: number;
  /** The offset of the next message to read (last handled + 1), as Kafka expects it. */
  offset: string;
}

export interface SinkDeps {
  /** Reads: stored offsets, landed rows, recent ids. */
  db: ClickHouse;
  /** Writes rows to `events` in one insert (the worker sends their TabSeparated lines). */
  insertRows(rows: readonly PendingRow[]): Promise<void>;
  deadLetters: DeadLetterWriter;
  /** Reads the original messages of rows ClickHouse rejected back from Kafka (rows keep only their line). */
  reread: MessageReader;
  /** Checks and repairs the views for rows that may have landed without them (repair.ts). */
  views: ViewRepair;
  logger: Logger;
  metrics: WorkerMetrics;
  backoff: Backoff;
  /** Event ids remembered per partition. */
  dedupWindow: number;
  /** Aborts retry loops (hard shutdown); a write then rejects. */
  signal?: AbortSignal;
}

export interface Sink {
  /** Loads a partition's state (stored maximum offset, recent ids) from ClickHouse; rejects on error. */
  load(topic: string, partition: number): Promise<void>;
  /** Forgets a partition (revoked); its state is reloaded if it comes back. */
  forget(topic: string, partition: number): void;
  isLoaded(topic: string, partition: number): boolean;
  /** Decodes a fetched message and decides whether it enters the buffer; undefined for a redelivery already taken. */
  admit(message: RawMessage): Item | undefined;
  /** Stores a flush exactly once (retrying transient errors forever); resolves with the offsets to commit. */
  write(items: readonly Item[]): Promise<CommitPosition[]>;
  /** False while ClickHouse operations are failing. */
  readonly healthy: boolean;
  readonly lastError: string | undefined;
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Offsets below this were already taken into the buffer; kafkajs redelivers them after a rebalance. */
  nextOffset: number;
  ids: RecentIds;
  /** The highest offset in `events` when the partition was loaded (-1: none), read from the raw rows themselves. */
  rawMax: number;
  /** The lowest offset of the id window read at load: the recovery looks no further back. */
  windowLow: number;
  /** The first offset taken after loading: where the committed position was. */
  firstOffset?: number;
  /** Whether the rows a previous owner stored past the committed position have had their views checked. */
  recovered: boolean;
}

interface Rejected {
  row: PendingRow;
  error: string;
}

const always = () => true;

/** Read-back attempts for the messages of rejected rows before they are dead-lettered without them. */
const REREAD_ATTEMPTS = 5;

/** A message known by its position only: its key and value could not be read back. */
function positionOnly(row: PendingRow): RawMessage {
  return { topic: row.topic, partition: row.partition, offset: row.offset, key: null, value: null };
}

/** More runs than this and the scope falls back to the partition's offset range (see scopeOf). */
const MAX_RUNS = 500;

/**
 * SQL for exactly these rows of `events`: per partition, the runs of consecutive offsets (a flush's
 * offsets are nearly contiguous, so this stays short where a list of offsets or ids could exceed
 * ClickHouse's 256 KiB query limit), plus event names and time range so reads use the primary key.
 * A batch with more gaps than MAX_RUNS is described by its offset range, which may take in rows of
 * other inserts; the repair tells inserts apart by `inserted_at`, so those are merely checked too.
 */
export function scopeOf(rows: readonly PendingRow[]): SqlFragment {
  const byPartition = new Map<string, { topic: string; partition: number; offsets: number[] }>();
  const names = new Set<string>();
  let [minTs, maxTs] = [Infinity, -Infinity];
  for (const row of rows) {
    names.add(row.eventName);
    minTs = Math.min(minTs, row.timestamp);
    maxTs = Math.max(maxTs, row.timestamp);
    const key = partitionKey(row.topic, row.partition);
    const entry = byPartition.get(key) ?? { topic: row.topic, partition: row.partition, offsets: [] };
    entry.offsets.push(Number(row.offset));
    byPartition.set(key, entry);
  }
  const partitions = [...byPartition.values()].map(({ topic, partition, offsets }) => {
    offsets.sort((a, b) => a - b);
    const runs: [number, number][] = [];
    for (const offset of offsets) {
      const last = runs[runs.length - 1];
      if (last && offset <= last[1] + 1) last[1] = Math.max(last[1], offset);
      else runs.push([offset, offset]);
    }
    const bounded: [number, number][] = runs.length > MAX_RUNS ? [[offsets[0] ?? 0, offsets[offsets.length - 1] ?? 0]] : runs;
    const ranges = join(
      bounded.map(([from, to]) => sql`kafka_offset >= ${from} AND kafka_offset <= ${to}`),
      " OR ",
    );
    return sql`(kafka_topic = ${topic} AND kafka_partition = ${partition} AND (${ranges}))`;
  });
  return sql`event_name IN ${[...names]} AND timestamp >= toDateTime(${minTs}) AND timestamp <= toDateTime(${maxTs})
    AND (${join(partitions, " OR ")})`;
}

/** Creates the exactly-once sink described in this module's comment. */
export function createSink(deps: SinkDeps): Sink {
  const { db, metrics, logger } = deps;
  const partitions = new Map<string, PartitionState>();
  const arena = new ByteArena();
  /** The state admit used last; cleared whenever a state is replaced or forgotten. */
  let lastAdmitted: PartitionState | undefined;
  let healthy = true;
  let lastError: string | undefined;

  /** Runs an operation until it succeeds; errors that blame rows are rethrown unless `transient` says otherwise. */
  async function retrying<T>(
    operation: string,
    run: () => Promise<T>,
    transient: (error: unknown) => boolean = (error) => !isRowError(error),
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await run();
        if (!healthy) logger.info({ operation, attempt }, "ClickHouse operation succeeded again");
        healthy = true;
        lastError = undefined;
        return result;
      } catch (error) {
        if (!transient(error) || deps.signal?.aborted) throw error;
        healthy = false;
        lastError = error instanceof Error ? error.message : String(error);
        metrics.retries.inc({ operation });
        const delay = backoffDelay(attempt, deps.backoff);
        logger.warn({ operation, attempt, delay, err: lastError }, "transient failure; retrying");
        await sleep(delay, deps.signal);
        if (deps.signal?.aborted) throw error;
      }
    }
  }

  async function storedMaxima(topic: string): Promise<Map<number, number>> {
    // Aliases never reuse a column name: ClickHouse lets a SELECT alias shadow the column in WHERE.
    const rows = await db.query<{ part: number; stored_max: string }>(
      sql`SELECT kafka_partition AS part, toString(maxMerge(max_offset)) AS stored_max FROM events_offsets
          WHERE kafka_topic = ${topic} GROUP BY kafka_partition`,
    );
    return new Map(rows.map((row) => [Number(row.part), Number(row.stored_max)]));
  }

  /** The (partition, offset) pairs of `rows` that are already in `events`, read through the primary key. */
  async function landed(rows: readonly PendingRow[]): Promise<Set<string>> {
    const found = new Set<string>();
    const groups = new Map<string, PendingRow[]>();
    for (const row of rows) {
      const key = partitionKey(row.topic, row.partition);
      const group = groups.get(key);
      if (group) group.push(row);
      else groups.set(key, [row]);
    }
    for (const group of groups.values()) {
      const first = group[0];
      if (!first) continue;
      let [minTs, maxTs, minOffset, maxOffset] = [Infinity, -Infinity, Infinity, -Infinity];
      const names = new Set<string>();
      for (const row of group) {
        const ts = row.timestamp;
        const offset = Number(row.offset);
        minTs = Math.min(minTs, ts);
        maxTs = Math.max(maxTs, ts);
        minOffset = Math.min(minOffset, offset);
        maxOffset = Math.max(maxOffset, offset);
        names.add(row.eventName);
      }
      const stored = await db.query<{ stored_offset: string }>(
        sql`SELECT toString(kafka_offset) AS stored_offset FROM events
            WHERE event_name IN ${[...names]}
              AND timestamp >= toDateTime(${minTs}) AND timestamp <= toDateTime(${maxTs})
              AND kafka_topic = ${first.topic} AND kafka_partition = ${first.partition}
              AND kafka_offset >= ${minOffset} AND kafka_offset <= ${maxOffset}`,
      );
      for (const row of stored) found.add(positionKey(first.topic, first.partition, row.stored_offset));
    }
    return found;
  }

  const rowKey = (row: PendingRow) => positionKey(row.topic, row.partition, row.offset);

  /** Splits off the rows that already landed among those that may have. */
  async function splitLanded(
    rows: PendingRow[],
    suspect: (row: PendingRow) => boolean,
  ): Promise<{ rest: PendingRow[]; found: PendingRow[] }> {
    const suspects = rows.filter(suspect);
    if (suspects.length === 0) return { rest: rows, found: [] };
    const stored = await landed(suspects);
    if (stored.size === 0) return { rest: rows, found: [] };
    metrics.duplicates.inc({ kind: "landed" }, stored.size);
    return {
      rest: rows.filter((row) => !stored.has(rowKey(row))),
      found: rows.filter((row) => stored.has(rowKey(row))),
    };
  }

  /**
   * The restart path: rows a previous owner stored past the committed position (it crashed, or lost
   * the partition, before committing) may have been cut from their views like a failed insert's rows,
   * and are redelivered here — as suspects or as ids the window already knows. Their views are checked
   * once per partition, before its first offsets are committed, over the raw rows from the committed
   * position (the first offset taken) up to the highest offset stored at load, no further back than the
   * id window. All partitions known by then are checked together, so an insert that spanned several of
   * them is judged whole (repair.ts).
   */
  async function recover(): Promise<void> {
    const zones: SqlFragment[] = [];
    const done: PartitionState[] = [];
    for (const state of partitions.values()) {
      if (state.recovered || state.firstOffset === undefined) continue;
      done.push(state);
      const from = Math.max(state.firstOffset, state.windowLow);
      if (state.rawMax < from) continue;
      zones.push(sql`(kafka_topic = ${state.topic} AND kafka_partition = ${state.partition}
        AND kafka_offset >= ${from} AND kafka_offset <= ${state.rawMax})`);
      logger.info({ partition: state.partition, from, to: state.rawMax }, "checking the views of rows stored but not committed");
    }
    if (zones.length > 0) await retrying("repair_views", () => deps.views.repair(join(zones, " OR ")), always);
    for (const state of done) state.recovered = true;
  }

  /** Inserts rows of one month exactly once; rows ClickHouse rejects are returned for the dead-letter path. */
  async function insertOnce(rows: PendingRow[]): Promise<Rejected[]> {
    let pending = rows;
    let failedBefore = false;
    for (let attempt = 0; ; attempt++) {
      const topics = new Set(pending.map((row) => row.topic));
      const maxima = new Map<string, number>();
      for (const topic of topics) {
        for (const [partition, max] of await retrying("read_offsets", () => storedMaxima(topic)))
          maxima.set(partitionKey(topic, partition), max);
      }
      // The raw maximum seen at load also counts: events_offsets is itself a view and may have missed a cut insert.
      // Rows come in runs of one partition: its maximum is looked up once a run, not once a row.
      let runOf: PendingRow | undefined;
      let runMax = -1;
      const storedMax = (row: PendingRow) => {
        if (runOf?.partition !== row.partition || runOf.topic !== row.topic) {
          const key = partitionKey(row.topic, row.partition);
          runMax = Math.max(maxima.get(key) ?? -1, partitions.get(key)?.rawMax ?? -1);
          runOf = row;
        }
        return runMax;
      };
      const everything = failedBefore;
      // A failed insert may still be running server-side: look only once it is over, or it could land after the look.
      if (everything) await retrying("settle_inserts", () => deps.views.settle(), always);
      const { rest, found } = await retrying("check_landed", () =>
        splitLanded(pending, (row) => everything || Number(row.offset) <= storedMax(row)),
      );
      // Rows of our failed insert that landed: its raw part was written, its views perhaps not (or not all).
      if (everything && found.length > 0) await retrying("repair_views", () => deps.views.repair(scopeOf(found)), always);
      pending = rest;
      if (pending.length === 0) return [];
      const stopTimer = metrics.insertDuration.startTimer();
      try {
        await deps.insertRows(pending);
        stopTimer();
        metrics.batchSize.observe(pending.length);
        metrics.rowsInserted.inc(pending.length);
        if (!healthy) logger.info({ attempt }, "insert succeeded again");
        healthy = true;
        lastError = undefined;
        return [];
      } catch (error) {
        failedBefore = true;
        // A view's SELECT can fail on content after the raw part was written: those rows are stored, and
        // splitting them would insert them again; they take the failed-insert path (check, repair) instead.
        if (isRowError(error) && (await retrying("check_landed", () => landed(pending))).size === 0)
          return bisect(pending, error);
        if (deps.signal?.aborted) throw error;
        healthy = false;
        lastError = error instanceof Error ? error.message : String(error);
        metrics.retries.inc({ operation: "insert" });
        const delay = backoffDelay(attempt, deps.backoff);
        logger.warn({ attempt, delay, rows: pending.length, err: lastError }, "insert failed; will check what landed and retry");
        await sleep(delay, deps.signal);
        if (deps.signal?.aborted) throw error;
      }
    }
  }

  /** Splits a batch ClickHouse rejected for its content until the offending rows are alone. */
  async function bisect(rows: PendingRow[], error: unknown): Promise<Rejected[]> {
    const [only] = rows;
    if (rows.length === 1 && only) {
      logger.error({ err: error, offset: only.offset }, "ClickHouse rejected a row; dead-lettering it");
      return [{ row: only, error: error instanceof Error ? error.message : String(error) }];
    }
    const middle = Math.ceil(rows.length / 2);
    const left = await insertOnce(rows.slice(0, middle));
    const right = await insertOnce(rows.slice(middle));
    return [...left, ...right];
  }

  /**
   * The original messages of rejected rows, read back from Kafka. A few attempts only: the rows must
   * not hold their partitions forever for want of their bytes (e.g. a broker that refuses the
   * read-back's consumer group), so after that they are dead-lettered by position alone.
   */
  async function rereadRejected(rows: readonly PendingRow[]): Promise<RawMessage[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await deps.reread(rows);
      } catch (error) {
        if (attempt + 1 >= REREAD_ATTEMPTS || deps.signal?.aborted) {
          logger.error({ err: error, rows: rows.length }, "could not read rejected rows' messages back from Kafka");
          return rows.map(positionOnly);
        }
        metrics.retries.inc({ operation: "reread" });
        await sleep(backoffDelay(attempt, deps.backoff), deps.signal);
      }
    }
  }

  return {
    async load(topic, partition) {
      const ids = await db.query<{ id: string; stored_offset: string }>(
        sql`SELECT toString(event_id) AS id, toString(kafka_offset) AS stored_offset FROM events
            WHERE kafka_topic = ${topic} AND kafka_partition = ${partition}
            ORDER BY kafka_offset DESC LIMIT ${deps.dedupWindow}`,
      );
      const window = new RecentIds(deps.dedupWindow);
      for (let i = ids.length - 1; i >= 0; i--) {
        const id = ids[i]?.id;
        if (id) window.add(id);
      }
      lastAdmitted = undefined;
      partitions.set(partitionKey(topic, partition), {
        topic,
        partition,
        nextOffset: -1,
        ids: window,
        rawMax: Number(ids[0]?.stored_offset ?? -1),
        windowLow: Number(ids[ids.length - 1]?.stored_offset ?? 0),
        recovered: false,
      });
    },
    forget(topic, partition) {
      lastAdmitted = undefined;
      partitions.delete(partitionKey(topic, partition));
    },
    isLoaded(topic, partition) {
      return partitions.has(partitionKey(topic, partition));
    },
    admit(message) {
      // Messages come in runs of one partition: the previous state is usually the one (no key string to build).
      let state = lastAdmitted;
      if (state?.partition !== message.partition || state.topic !== message.topic) {
        state = partitions.get(partitionKey(message.topic, message.partition));
        if (!state) throw new Error(`partition ${message.topic}/${message.partition} admitted before it was loaded`);
        lastAdmitted = state;
      }
      const offset = Number(message.offset);
      if (offset < state.nextOffset) return undefined;
      state.firstOffset ??= offset;
      state.nextOffset = offset + 1;
      const row = decodeMessage(message, arena);
      if (row.kind === "dead") return row;
      if (!state.ids.addBytes(row.bytes, row.lineStart, eventIdEnd(row))) {
        // The duplicate's line was the arena's latest reservation: give its bytes back.
        arena.giveBack(row.lineEnd - row.lineStart);
        metrics.duplicates.inc({ kind: "event_id" });
        return { kind: "skip", message };
      }
      return row;
    },
    async write(items) {
      await recover();
      const highest = new Map<string, { topic: string; partition: number; offset: number }>();
      const dead: DeadLetter[] = [];
      const byMonth = new Map<number, PendingRow[]>();
      // Items come in runs of one partition: the entry of the previous item is usually the one.
      let entry: { topic: string; partition: number; offset: number } | undefined;
      for (const item of items) {
        const message = positionOf(item);
        const offset = Number(message.offset);
        if (entry?.partition !== message.partition || entry.topic !== message.topic) {
          const key = partitionKey(message.topic, message.partition);
          entry = highest.get(key);
          if (!entry) {
            entry = { topic: message.topic, partition: message.partition, offset };
            highest.set(key, entry);
          }
        }
        if (entry.offset < offset) entry.offset = offset;
        if (item.kind === "dead") dead.push(item.dead);
        else if (item.kind === "row") {
          const month = item.month;
          const rows = byMonth.get(month);
          if (rows) rows.push(item);
          else byMonth.set(month, [item]);
        }
      }
      const rejected: Rejected[] = [];
      for (const rows of byMonth.values()) rejected.push(...(await insertOnce(rows)));
      if (rejected.length > 0) {
        const messages = await rereadRejected(rejected.map(({ row }) => row));
        rejected.forEach(({ row, error }, i) => {
          const message = messages[i] ?? positionOnly(row);
          if (message.value === null)
            logger.warn(
              { partition: row.partition, offset: row.offset },
              "a rejected row's message could not be read back; dead-lettered without it",
            );
          dead.push({ reason: "clickhouse_rejected", details: error, eventId: eventIdOf(row), message });
        });
      }
      if (dead.length > 0) {
        await retrying("dead_letter", () => deps.deadLetters.write(dead));
        for (const item of dead) metrics.deadLetters.inc({ reason: item.reason });
      }
      return [...highest.values()].map(({ topic, partition, offset }) => ({ topic, partition, offset: String(offset + 1) }));
    },
    get healthy() {
      return healthy;
    },
    get lastError() {
      return lastError;
    },
  };
}
