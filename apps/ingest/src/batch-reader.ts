import { Worker } from "node:worker_threads";
import { createFastEventReader, type EventSchemaOptions, type FastEvent } from "@sluice/events";
import type { Logger } from "pino";

/** Reads batch bodies with the fast path (createFastEventReader): on the event loop or on worker threads. */
export interface BatchReader {
  /** The messages of a batch envelope, all valid, or undefined when the general path must decide it. */
  read(body: Buffer, receivedAt: number): Promise<FastEvent[] | undefined>;
  /** Stops the threads; reads after it run on the calling thread. */
  close(): Promise<void>;
}

/** What the main thread sends a reader thread: a copy of the body. */
export interface BatchRequest {
  id: number;
  body: Uint8Array;
  receivedAt: number;
}

/**
 * A reader thread's answer: no `events` when the general path must decide. Otherwise every message in
 * one buffer: message k's value is bytes[spans[4k], spans[4k+1]), its key bytes[spans[4k+2], spans[4k+3]),
 * its id ids[36k, 36k+36), its campaign campaigns?.[k].
 */
export interface BatchReply {
  id: number;
  events?: { bytes: ArrayBufferLike; spans: Int32Array; ids: string; campaigns: (string | undefined)[] | undefined };
}

/** The fast path on the calling thread. */
export function createInlineBatchReader(options: EventSchemaOptions): BatchReader {
  const fast = createFastEventReader(options);
  return {
    read: async (body, receivedAt) => fast.batch(body, receivedAt),
    close: async () => undefined,
  };
}

export interface ThreadedBatchReaderOptions {
  threads: number;
  maxFutureSkewMs: number;
  logger: Logger;
  /** The thread's script; tests substitute one that fails. */
  script?: URL;
}

// Event-loop time per read, measured: 100 events 90 µs through a thread against 315 µs inline, 60 events
// 64 against 185; around 8 KiB (30 events, ~95 µs) the hop stops saving anything.
const INLINE_BELOW_BYTES = 8 * 1024;

interface Pending {
  body: Buffer;
  receivedAt: number;
  resolve(events: FastEvent[] | undefined): void;
}

interface Thread {
  worker: Worker | undefined;
  pending: Map<number, Pending>;
  /** After a failure, bodies are read inline until then, so a thread that cannot start is not restarted per request. */
  restartAt: number;
  restartDelayMs: number;
}

const FIRST_RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 60_000;

/**
 * A worker source that loads `script` through tsx's loader: workers do not take main's `--import tsx`
 * (tsx issue 354), and this app runs from its TypeScript sources.
 */
function bootstrap(script: URL): string {
  const tsx = import.meta.resolve("tsx/esm/api");
  return `import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${JSON.stringify(script.href)}, ${JSON.stringify(import.meta.url)}));`;
}

/** The messages of a reply, as views of its buffer. */
function unpack(events: NonNullable<BatchReply["events"]>): FastEvent[] {
  const bytes = Buffer.from(events.bytes);
  const { spans, ids, campaigns } = events;
  const out: FastEvent[] = new Array(spans.length / 4);
  for (let k = 0; k < out.length; k++) {
    out[k] = {
      value: bytes.subarray(spans[4 * k], spans[4 * k + 1]),
      key: bytes.subarray(spans[4 * k + 2], spans[4 * k + 3]),
      eventId: ids.slice(36 * k, 36 * k + 36),
      campaignId: campaigns?.[k],
    };
  }
  return out;
}

/**
 * Reads batch bodies on `threads` worker threads, so the event loop that serves HTTP and produces to
 * Kafka does not also scan and rewrite every event of every batch: on 2 cores this is what lets a second
 * core take part. Small bodies are read inline. When a thread fails, its pending bodies are read inline
 * and the next body starts a new thread: a thread's failure never fails a request.
 */
export function createThreadedBatchReader(options: ThreadedBatchReaderOptions): BatchReader {
  const inline = createFastEventReader({ maxFutureSkewMs: options.maxFutureSkewMs });
  const script = options.script ?? new URL("./batch-reader.worker.ts", import.meta.url);
  const threads: Thread[] = Array.from({ length: options.threads }, () => ({
    worker: undefined,
    pending: new Map(),
    restartAt: 0,
    restartDelayMs: FIRST_RESTART_DELAY_MS,
  }));
  let nextId = 0;
  let closed = false;

  /**
   * The fast path on this thread. A body it throws on (a bug, as it declines what it cannot read) goes
   * to the general path, which decides it: it fails no request and, out of an event listener, no process.
   */
  function readHere(body: Buffer, receivedAt: number): FastEvent[] | undefined {
    try {
      return inline.batch(body, receivedAt);
    } catch (error) {
      options.logger.error({ err: error }, "the batch fast path failed; reading the body the general way");
      return undefined;
    }
  }

  /** Reads bodies inline until a later restart, each failure in a row waiting twice as long. */
  function backOff(thread: Thread, reason: unknown): void {
    const delayMs = thread.restartDelayMs;
    thread.restartAt = Date.now() + delayMs;
    thread.restartDelayMs = Math.min(2 * delayMs, MAX_RESTART_DELAY_MS);
    if (!closed) options.logger.error({ err: reason, restartInMs: delayMs }, "batch reader thread failed; reading bodies inline");
  }

  /** Answers the bodies a thread held from this thread, and lets the thread go. */
  function takeBack(thread: Thread): void {
    const pending = [...thread.pending.values()];
    thread.pending.clear();
    thread.worker = undefined;
    for (const entry of pending) entry.resolve(readHere(entry.body, entry.receivedAt));
  }

  function fail(thread: Thread, worker: Worker, reason: unknown): void {
    if (thread.worker !== worker) return;
    backOff(thread, reason);
    takeBack(thread);
  }

  /** Hands `body` to a running thread. */
  function send(thread: Thread, worker: Worker, body: Buffer, receivedAt: number): Promise<FastEvent[] | undefined> {
    const id = nextId++;
    // A thread keeps the process alive only while it holds bodies.
    if (thread.pending.size === 0) worker.ref();
    return new Promise((resolve) => {
      thread.pending.set(id, { body, receivedAt, resolve });
      // A copy of the body's own bytes (not the larger buffer it may be a view of), handed over without a second copy.
      const copy = new Uint8Array(body);
      worker.postMessage({ id, body: copy, receivedAt } satisfies BatchRequest, [copy.buffer]);
    });
  }

  function start(thread: Thread): Worker {
    const worker = new Worker(bootstrap(script), { eval: true, workerData: { maxFutureSkewMs: options.maxFutureSkewMs } });
    worker.on("message", (reply: BatchReply) => {
      const pending = thread.pending.get(reply.id);
      if (pending === undefined) return;
      thread.pending.delete(reply.id);
      thread.restartDelayMs = FIRST_RESTART_DELAY_MS;
      if (thread.pending.size === 0) worker.unref();
      pending.resolve(reply.events === undefined ? undefined : unpack(reply.events));
    });
    worker.on("error", (error) => fail(thread, worker, error));
    worker.on("exit", (code) => fail(thread, worker, new Error(`exited with code ${code}`)));
    thread.worker = worker;
    return worker;
  }

  return {
    read(body, receivedAt) {
      if (closed || body.length < INLINE_BELOW_BYTES) return Promise.resolve(readHere(body, receivedAt));
      // The least busy thread that runs or may start now.
      const now = Date.now();
      let thread: Thread | undefined;
      for (const candidate of threads) {
        if (candidate.worker === undefined && now < candidate.restartAt) continue;
        if (thread === undefined || candidate.pending.size < thread.pending.size) thread = candidate;
      }
      if (thread === undefined) return Promise.resolve(readHere(body, receivedAt));
      if (thread.worker !== undefined) return send(thread, thread.worker, body, receivedAt);
      try {
        return send(thread, start(thread), body, receivedAt);
      } catch (error) {
        backOff(thread, error);
        return Promise.resolve(readHere(body, receivedAt));
      }
    },

    async close() {
      closed = true;
      await Promise.all(
        threads.map(async (thread) => {
          const worker = thread.worker;
          if (worker === undefined) return;
          takeBack(thread);
          await worker.terminate();
        }),
      );
    },
  };
}
