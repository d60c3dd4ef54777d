import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import type { Logger } from "pino";
import { type Batcher, createBatcher } from "./batcher";
import type { WorkerMetrics } from "./metrics";
import { backoffDelay, sleep } from "./retry";
import { type CommitPosition, type Item, positionOf, type Sink } from "./sink";

export interface EventConsumerDeps {
  kafka: Kafka;
  sink: Sink;
  logger: Logger;
  metrics: WorkerMetrics;
  topic: string;
  groupId: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  batch: { maxRows: number; maxBytes?: number; maxWaitMs: number; maxBuffered: number; maxBufferedBytes?: number };
  backoff: { initialMs: number; maxMs: number };
}

export interface EventConsumer {
  /** Connects, joins the group and starts consuming. */
  start(): Promise<void>;
  /** Stops intake, flushes what is buffered, commits it and leaves the group. */
  stop(): Promise<void>;
  /** True once the consumer has joined its group and while it has not crashed. */
  readonly joined: boolean;
  /** True while the buffer is full and the consumer is paused. */
  readonly paused: boolean;
}

/** The heap a buffered item holds besides its bytes: its objects and position (measured: ~140 B for a typical row, its offset string included). */
const ITEM_OVERHEAD_BYTES = 160;

/** About the memory a buffered item holds: its line (a row) or original bytes (any other item) and the objects around them. */
export function itemWeight(item: Item): number {
  if (item.kind === "row") return ITEM_OVERHEAD_BYTES + item.lineEnd - item.lineStart;
  const message = item.kind === "dead" ? item.dead.message : item.message;
  return ITEM_OVERHEAD_BYTES + (message.value?.length ?? 0) + (message.key?.length ?? 0);
}

/**
 * The Kafka side of the worker: a consumer group member that buffers decoded messages in a batcher,
 * pauses when the buffer is full, and commits a flush's offsets only after the sink stored it.
 * kafkajs never commits on its own (`autoCommit: false`); offsets are resolved as messages enter the
 * buffer, so fetching goes on while a flush runs.
 */
export function createEventConsumer(deps: EventConsumerDeps): EventConsumer {
  const { sink, logger, metrics, topic } = deps;
  const createConsumer = (): Consumer =>
    deps.kafka.consumer({
      groupId: deps.groupId,
      sessionTimeout: deps.sessionTimeoutMs,
      heartbeatInterval: deps.heartbeatIntervalMs,
      // Small fetches keep the decoded messages kafkajs holds at once (and so RSS) low; throughput is
      // bounded by decoding and inserting, not by fetch size.
      maxBytesPerPartition: 1024 * 1024,
      maxBytes: 4 * 1024 * 1024,
      maxWaitTimeInMs: Math.min(100, deps.batch.maxWaitMs),
    });
  let consumer: Consumer = createConsumer();
  let restartTimer: NodeJS.Timeout | undefined;
  let restartAttempt = 0;
  const assigned = new Set<number>();
  const loading = new Set<number>();
  let joined = false;
  let stopping = false;
  let running = false;
  let inBatch: Promise<void> = Promise.resolve();

  async function commit(positions: CommitPosition[]) {
    const owned = positions.filter((position) => position.topic === topic && assigned.has(position.partition));
    if (owned.length === 0) return;
    try {
      await consumer.commitOffsets(owned);
    } catch (error) {
      // ClickHouse holds the truth; a lost commit only means the next owner re-reads and skips these rows.
      logger.warn({ err: error, positions: owned }, "offset commit failed; the rows are stored and will be skipped on replay");
    }
  }

  // Commits run one after another, so committed offsets only move forward, but the next flush does not
  // wait for them: each follows the insert it belongs to, and ClickHouse, not Kafka, is the truth.
  let commits: Promise<void> = Promise.resolve();

  const batcher: Batcher<Item> = createBatcher<Item>({
    maxRows: deps.batch.maxRows,
    maxBytes: deps.batch.maxBytes,
    maxWaitMs: deps.batch.maxWaitMs,
    maxBuffered: deps.batch.maxBuffered,
    maxBufferedBytes: deps.batch.maxBufferedBytes,
    weigh: itemWeight,
    flush: async (items) => {
      const positions = await sink.write(items);
      commits = commits.then(() => commit(positions));
      metrics.buffered.set(batcher.size - items.length);
    },
    onPressure: (full) => {
      logger.debug({ full }, full ? "buffer full; pausing the consumer" : "buffer has room; resuming the consumer");
      applyPauses();
    },
    onError: (error) => logger.error({ err: error }, "flush failed; will retry"),
  });

  /** Pauses each assigned partition that must not be fetched (buffer full, state loading, stopping). */
  function applyPauses() {
    if (!running) return;
    const toPause: number[] = [];
    const toResume: number[] = [];
    for (const partition of assigned) {
      if (stopping || batcher.full || loading.has(partition)) toPause.push(partition);
      else toResume.push(partition);
    }
    // Both calls are idempotent, so the desired state is applied as a whole rather than tracked.
    if (toPause.length > 0) consumer.pause([{ topic, partitions: toPause }]);
    if (toResume.length > 0) consumer.resume([{ topic, partitions: toResume }]);
  }

  /** Loads a partition's state from ClickHouse in the background, retrying, with the partition paused meanwhile. */
  function load(partition: number) {
    if (loading.has(partition) || sink.isLoaded(topic, partition)) return;
    loading.add(partition);
    applyPauses();
    void (async () => {
      for (let attempt = 0; !stopping && assigned.has(partition); attempt++) {
        try {
          await sink.load(topic, partition);
          if (!assigned.has(partition)) sink.forget(topic, partition);
          break;
        } catch (error) {
          metrics.retries.inc({ operation: "load_partition" });
          logger.warn({ err: error, partition, attempt }, "could not load partition state from ClickHouse; retrying");
          await sleep(backoffDelay(attempt, deps.backoff));
        }
      }
      loading.delete(partition);
      applyPauses();
    })();
  }

  function onAssignment(partitions: number[]) {
    const next = new Set(partitions);
    const revoked = [...assigned].filter((partition) => !next.has(partition));
    for (const partition of revoked) {
      assigned.delete(partition);
      sink.forget(topic, partition);
      metrics.lag.remove({ topic, partition: String(partition) });
    }
    if (revoked.length > 0) {
      const gone = new Set(revoked);
      const dropped = batcher.remove((item) => {
        const position = positionOf(item);
        return position.topic === topic && gone.has(position.partition);
      });
      logger.info({ revoked, dropped }, "partitions revoked; their buffered messages are left to the new owner");
    }
    for (const partition of next) assigned.add(partition);
    for (const partition of next) load(partition);
    applyPauses();
  }

  async function eachBatch({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload) {
    const { partition } = batch;
    if (stopping || batch.topic !== topic) return;
    if (!sink.isLoaded(topic, partition)) {
      load(partition);
      return;
    }
    let last: string | undefined;
    const { messages } = batch;
    const CHUNK = 500;
    // Everything kafkajs already fetched and decoded is admitted, even past `full`: dropping the rest
    // would only make kafkajs fetch and decode it again after the resume (the rest of the batch and of
    // the fetch it came with). The pause stops the next fetch, so the buffer overshoots by at most one
    // fetch (`maxBytes`). Offsets are resolved once per chunk: kafkajs parses each into a BigInt.
    for (let from = 0; from < messages.length; from += CHUNK) {
      // Between chunks the event loop runs, so an insert body keeps streaming to ClickHouse meanwhile.
      if (from > 0) await yieldToEventLoop();
      if (!isRunning() || isStale() || stopping || !sink.isLoaded(topic, partition)) break;
      const to = Math.min(messages.length, from + CHUNK);
      const items: Item[] = [];
      for (let i = from; i < to; i++) {
        const message = messages[i] as KafkaMessage;
        const item = sink.admit({ topic, partition, offset: message.offset, key: message.key, value: message.value });
        // A duplicate only needs its position (to commit past it); its key and value are slices of
        // kafkajs's whole fetch response, which would stay in memory as long as the item is buffered.
        if (item?.kind === "skip")
          items.push({ kind: "skip", message: { topic, partition, offset: message.offset, key: null, value: null } });
        else if (item) items.push(item);
        last = message.offset;
      }
      if (last !== undefined) resolveOffset(last);
      batcher.add(items);
    }
    // A partition revoked while the batch yielded has had its gauge removed: it must not come back.
    if (last !== undefined && assigned.has(partition)) {
      const lag = Number(batch.highWatermark) - Number(last) - 1;
      metrics.lag.set({ topic, partition: String(partition) }, Math.max(0, lag));
    }
    metrics.buffered.set(batcher.size);
  }

  async function run(current: Consumer): Promise<void> {
    current.on(current.events.GROUP_JOIN, (event) => {
      joined = true;
      restartAttempt = 0;
      const partitions = event.payload.memberAssignment[topic] ?? [];
      logger.info({ partitions, groupId: deps.groupId }, "joined the consumer group");
      onAssignment(partitions);
    });
    current.on(current.events.CRASH, (event) => {
      joined = false;
      logger.error({ err: event.payload.error, restart: event.payload.restart }, "consumer crashed");
      if (!event.payload.restart) restartLater();
    });
    await current.connect();
    await current.subscribe({ topic, fromBeginning: true });
    running = true;
    await current.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => {
        const batchRun = eachBatch(payload);
        inBatch = batchRun.catch(() => undefined);
        return batchRun;
      },
    });
  }

  /**
   * kafkajs gives up on errors it deems non-retriable (e.g. "Failed to find group coordinator" while a
   * broker restarts) and leaves the consumer stopped; the worker must never stay out of its group, so
   * it rejoins with a fresh consumer after a backoff, for as long as it is not stopping.
   */
  function restartLater(): void {
    if (stopping) return;
    running = false;
    const delay = backoffDelay(restartAttempt++, deps.backoff);
    metrics.retries.inc({ operation: "consumer_restart" });
    restartTimer = setTimeout(() => {
      if (stopping) return;
      const previous = consumer;
      consumer = createConsumer();
      void previous
        .disconnect()
        .catch(() => undefined)
        .then(() => run(consumer))
        .catch((error: unknown) => {
          logger.warn({ err: error, attempt: restartAttempt }, "could not restart the consumer; retrying");
          restartLater();
        });
    }, delay);
  }

  return {
    start: () => run(consumer),
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
      applyPauses();
      await inBatch;
      batcher.stop();
      await batcher.drain();
      await commits;
      running = false;
      joined = false;
      await consumer.disconnect();
    },
    get joined() {
      return joined;
    },
    get paused() {
      return batcher.full;
    },
  };
}
