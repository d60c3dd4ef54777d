import { AppError } from "@sluice/http";
import type { Kafka, Producer } from "@sluice/kafka";
import { Gauge, Histogram, type Registry } from "@sluice/metrics";
import { Partitioners } from "kafkajs";
import type { Logger } from "pino";
import type { EventPublisher, OutgoingMessage } from "./publisher";

/**
 * The producer the publisher needs: idempotent (so broker-side retries never duplicate), acks=all per
 * send, Java-compatible murmur2 partitioning by key. kafkajs requires one in-flight request per broker
 * connection for idempotence; the publisher compensates by coalescing into large produce requests.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}

export interface KafkaPublisherOptions {
  producer: Pick<Producer, "sendBatch">;
  topic: string;
  /** Flush as soon as this many messages wait while no produce request is outstanding. */
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

/** A publisher that also reports its load and can drain before the producer disconnects. */
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
  key: string;
  value: Buffer;
  size: number;
  request: Request;
}

// Per-record overhead in a v2 record batch (length, attributes, deltas, varint lengths, headers count).
const RECORD_OVERHEAD_BYTES = 40;

/**
 * Coalesces concurrent publish() calls into shared produce requests: messages queue, a flush sends
 * everything waiting (bounded by bytes) in one sendBatch, and each caller's promise resolves when the
 * last of its messages is acknowledged. Only one produce request is outstanding at a time (idempotence),
 * so whatever arrives meanwhile forms the next, larger batch.
 */
export function createKafkaPublisher(options: KafkaPublisherOptions): KafkaPublisher {
  const { producer, topic, logger } = options;
  const retryAfterSeconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  let queue: Entry[] = [];
  let inFlight = 0;
  let sendingSince: number | undefined;
  let lingerTimer: NodeJS.Timeout | undefined;
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

  /** Takes the next produce request's worth of messages, dropping those whose caller already gave up. */
  function takeBatch(): Entry[] {
    const batch: Entry[] = [];
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
    queue = index === queue.length ? [] : queue.slice(index);
    if (dropped > 0) release(dropped);
    return batch;
  }

  async function drain(): Promise<void> {
    if (sendingSince !== undefined) return;
    if (lingerTimer !== undefined) {
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
    }
    for (let batch = takeBatch(); batch.length > 0; batch = takeBatch()) {
      sendingSince = Date.now();
      const end = produceDuration.startTimer();
      try {
        await producer.sendBatch({
          acks: -1,
          timeout: options.timeoutMs,
          topicMessages: [{ topic, messages: batch.map((entry) => ({ key: entry.key, value: entry.value })) }],
        });
        end();
        produceBatch.observe(batch.length);
        acknowledge(batch);
      } catch (error) {
        logger.warn({ err: error, messages: batch.length }, "produce failed");
        const failure = unavailable("the broker did not acknowledge the events");
        for (const entry of batch) fail(entry.request, failure);
      } finally {
        sendingSince = undefined;
        release(batch.length);
      }
    }
  }

  function schedule(): void {
    if (sendingSince !== undefined) return;
    if (queue.length >= options.batchSize || options.lingerMs === 0) {
      void drain();
    } else if (lingerTimer === undefined) {
      lingerTimer = setTimeout(() => {
        lingerTimer = undefined;
        void drain();
      }, options.lingerMs);
    }
  }

  return {
    get inFlight() {
      return inFlight;
    },

    publish(messages: OutgoingMessage[]): Promise<void> {
      if (messages.length === 0) return Promise.resolve();
      if (closed) return Promise.reject(unavailable("shutting down"));
      if (sendingSince !== undefined && Date.now() - sendingSince > options.timeoutMs) {
        return Promise.reject(unavailable("the broker is not acknowledging"));
      }
      if (inFlight + messages.length > options.maxInFlight) {
        return Promise.reject(unavailable("too many events in flight"));
      }
      return new Promise<void>((resolve, reject) => {
        const request: Request = { remaining: messages.length, settled: false, resolve, reject, timer: undefined as never };
        request.timer = setTimeout(
          () => fail(request, unavailable(`no acknowledgement within ${options.timeoutMs} ms`)),
          options.timeoutMs,
        );
        for (const message of messages) {
          const value = Buffer.from(message.value);
          queue.push({
            key: message.key,
            value,
            size: value.length + Buffer.byteLength(message.key) + RECORD_OVERHEAD_BYTES,
            request,
          });
        }
        inFlight += messages.length;
        schedule();
      });
    },

    async close(): Promise<void> {
      closed = true;
      if (inFlight === 0) return;
      const idle = new Promise<void>((resolve) => idleWaiters.push(resolve));
      if (sendingSince === undefined) void drain();
      await idle;
    },
  };
}
