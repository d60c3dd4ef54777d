import { AppError } from "@sluice/http";
import { Gauge, Histogram, type Registry } from "@sluice/metrics";
import type { Logger } from "pino";
import type { LaneProducer } from "./lane-producer";
import type { EventPublisher, OutgoingMessage } from "./publisher";

export interface KafkaPublisherOptions {
  /** One idempotent producer per lane; a key always uses the same lane, so per-user order holds. */
  producers: Pick<LaneProducer, "sendBatch">[];
  topic: string;
  /** Flush a lane as soon as this many messages wait while it has no produce request outstanding. */
  batchSize: number;
  /** How long the first waiting message lingers for company before a flush. */
  lingerMs: number;
  /** Upper bound on one produce request's payload (key + value + record overhead). */
  maxFlushBytes: number;
  /** Messages queued or being produced; publish() fails fast beyond it. */
  maxInFlight: number;
  /** How long publish() waits for the acknowledgement before failing with UNAVAILABLE. */
  timeoutMs: number;
  registry: Registry;
  logger: Logger;
}

/** A publisher that also reports its load and can drain before the producers disconnect. */
export interface KafkaPublisher extends EventPublisher {
  readonly inFlight: number;
  /** Refuses new messages and resolves once every queued or outstanding message has settled. */
  close(): Promise<void>;
}

interface Request {
  remaining: number;
  settled: boolean;
  resolve(): void;
  reject(error: AppError): void;
  timer: NodeJS.Timeout;
}

interface Entry {
  message: OutgoingMessage;
  size: number;
  request: Request;
}

interface Lane {
  producer: Pick<LaneProducer, "sendBatch">;
  queue: Entry[];
  sendingSince: number | undefined;
  lingerTimer: NodeJS.Timeout | undefined;
}

// Per-record overhead in a v2 record batch (length, attributes, deltas, varint lengths, headers count).
const RECORD_OVERHEAD_BYTES = 40;

/** FNV-1a over the key's bytes: cheap, stable, and spreads user ids evenly over lanes. */
function laneOf(key: Buffer, lanes: number): number {
  if (lanes === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i += 1) {
    hash ^= key[i] as number;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % lanes;
}

/**
 * Coalesces concurrent publish() calls into shared produce requests. Messages queue on the lane of
 * their key; a lane sends everything waiting (bounded by bytes) in one sendBatch, and each caller's
 * promise resolves when the last of its messages is acknowledged. An idempotent producer allows one
 * outstanding request, so each lane has its own producer: lanes pipeline, while one key's messages
 * stay in one lane and therefore in order.
 */
export function createKafkaPublisher(options: KafkaPublisherOptions): KafkaPublisher {
  const { topic, logger } = options;
  const retryAfterSeconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  const lanes: Lane[] = options.producers.map((producer) => ({
    producer,
    queue: [],
    sendingSince: undefined,
    lingerTimer: undefined,
  }));
  let inFlight = 0;
  let closed = false;
  let idleWaiters: (() => void)[] = [];

  const produceDuration = new Histogram({
    name: "ingest_produce_duration_seconds",
    help: "Time from a produce request to the broker's acknowledgement",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [options.registry],
  });
  const produceBatch = new Histogram({
    name: "ingest_produce_batch_messages",
    help: "Messages per produce request",
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
    registers: [options.registry],
  });
  new Gauge({
    name: "ingest_producer_in_flight_messages",
    help: "Messages queued or awaiting the broker's acknowledgement",
    registers: [options.registry],
    collect() {
      this.set(inFlight);
    },
  });

  const unavailable = (message: string) => new AppError("UNAVAILABLE", message, [], retryAfterSeconds);

  function fail(request: Request, error: AppError): void {
    if (request.settled) return;
    request.settled = true;
    clearTimeout(request.timer);
    request.reject(error);
  }

  function acknowledge(entries: Entry[]): void {
    for (const entry of entries) {
      const request = entry.request;
      request.remaining -= 1;
      if (request.remaining === 0 && !request.settled) {
        request.settled = true;
        clearTimeout(request.timer);
        request.resolve();
      }
    }
  }

  function release(count: number): void {
    inFlight -= count;
    if (inFlight === 0 && idleWaiters.length > 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Takes a lane's next produce request's worth of messages, dropping those whose caller gave up. */
  function takeBatch(lane: Lane): Entry[] {
    const batch: Entry[] = [];
    const queue = lane.queue;
    let bytes = 0;
    let index = 0;
    let dropped = 0;
    for (; index < queue.length; index += 1) {
      const entry = queue[index] as Entry;
      if (entry.request.settled) {
        dropped += 1;
        continue;
      }
      if (batch.length > 0 && bytes + entry.size > options.maxFlushBytes) break;
      batch.push(entry);
      bytes += entry.size;
    }
    lane.queue = index === queue.length ? [] : queue.slice(index);
    if (dropped > 0) release(dropped);
    return batch;
  }

  async function drain(lane: Lane): Promise<void> {
    if (lane.sendingSince !== undefined) return;
    if (lane.lingerTimer !== undefined) {
      clearTimeout(lane.lingerTimer);
      lane.lingerTimer = undefined;
    }
    for (let batch = takeBatch(lane); batch.length > 0; batch = takeBatch(lane)) {
      lane.sendingSince = Date.now();
      const end = produceDuration.startTimer();
      try {
        await lane.producer.sendBatch(
          topic,
          batch.map((entry) => entry.message),
        );
        end();
        produceBatch.observe(batch.length);
        acknowledge(batch);
      } catch (error) {
        logger.warn({ err: error, messages: batch.length }, "produce failed");
        const failure = unavailable("the broker did not acknowledge the events");
        for (const entry of batch) fail(entry.request, failure);
      } finally {
        lane.sendingSince = undefined;
        release(batch.length);
      }
    }
  }

  function schedule(lane: Lane): void {
    if (lane.sendingSince !== undefined) return;
    if (lane.queue.length >= options.batchSize || options.lingerMs === 0) {
      void drain(lane);
    } else if (lane.lingerTimer === undefined) {
      lane.lingerTimer = setTimeout(() => {
        lane.lingerTimer = undefined;
        void drain(lane);
      }, options.lingerMs);
    }
  }

  const stalled = (now: number) =>
    lanes.some((lane) => lane.sendingSince !== undefined && now - lane.sendingSince > options.timeoutMs);

  return {
    get inFlight() {
      return inFlight;
    },

    publish(messages: OutgoingMessage[]): Promise<void> {
      if (messages.length === 0) return Promise.resolve();
      if (closed) return Promise.reject(unavailable("shutting down"));
      // A produce request outstanding past the timeout means the broker is down or stuck: fail fast.
      if (stalled(Date.now())) return Promise.reject(unavailable("the broker is not acknowledging"));
      if (inFlight + messages.length > options.maxInFlight) {
        return Promise.reject(unavailable("too many events in flight"));
      }
      return new Promise<void>((resolve, reject) => {
        const request: Request = { remaining: messages.length, settled: false, resolve, reject, timer: undefined as never };
        request.timer = setTimeout(
          () => fail(request, unavailable(`no acknowledgement within ${options.timeoutMs} ms`)),
          options.timeoutMs,
        );
        const touched = new Set<Lane>();
        for (const message of messages) {
          const lane = lanes[laneOf(message.key, lanes.length)] as Lane;
          lane.queue.push({ message, size: message.value.length + message.key.length + RECORD_OVERHEAD_BYTES, request });
          touched.add(lane);
        }
        inFlight += messages.length;
        for (const lane of touched) schedule(lane);
      });
    },

    async close(): Promise<void> {
      closed = true;
      if (inFlight === 0) return;
      const idle = new Promise<void>((resolve) => idleWaiters.push(resolve));
      for (const lane of lanes) void drain(lane);
      await idle;
    },
  };
}
