export interface BatcherOptions<T> {
  /** A flush starts as soon as this many items are buffered; one flush carries at most this many. */
  maxRows: number;
  /** A non-empty buffer is flushed at the latest this long after its oldest item arrived. */
  maxWaitMs: number;
  /** Buffered plus in-flight items at which the buffer reports itself full (the consumer pauses). */
  maxBuffered: number;
  /** Writes one batch; the batcher never runs two at once. A rejection puts the items back in front. */
  flush: (items: T[]) => Promise<void>;
  /** Called when the buffer becomes full (true) and when it has room again (false). */
  onPressure?: (full: boolean) => void;
  /** Called when a background flush rejects; the items are retried after `maxWaitMs`. */
  onError?: (error: unknown) => void;
}

export interface Batcher<T> {
  /** Buffers items; may start a flush. Never blocks: callers watch `full` / `onPressure` to pause. */
  add(items: readonly T[]): void;
  /** Drops buffered items (never the in-flight batch) that match, e.g. of revoked partitions. */
  remove(predicate: (item: T) => boolean): number;
  /** Items waiting plus items being flushed. */
  readonly size: number;
  readonly full: boolean;
  readonly flushing: boolean;
  /** Flushes until nothing is buffered or in flight; rejects if a flush fails. */
  drain(): Promise<void>;
  /** Stops the interval timer; buffered items stay until `drain`. */
  stop(): void;
}

/** Size-or-interval batcher with one flush at a time and a bounded buffer. */
export function createBatcher<T>(options: BatcherOptions<T>): Batcher<T> {
  let buffer: T[] = [];
  let inFlight = 0;
  let current: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let oldestAt = 0;
  let wasFull = false;
  let stopped = false;

  const total = () => buffer.length + inFlight;

  function updatePressure() {
    const full = total() >= options.maxBuffered;
    if (full !== wasFull) {
      wasFull = full;
      options.onPressure?.(full);
    }
  }

  function clearTimer() {
    if (timer) clearTimeout(timer);
    timer = undefined;
  }

  function schedule() {
    if (current || buffer.length === 0 || stopped) return;
    const waited = Date.now() - oldestAt;
    if (buffer.length >= options.maxRows || waited >= options.maxWaitMs) {
      void start().catch(() => undefined);
      return;
    }
    if (!timer) {
      timer = setTimeout(() => {
        timer = undefined;
        schedule();
      }, options.maxWaitMs - waited);
    }
  }

  function start(): Promise<void> {
    clearTimer();
    const items = buffer.splice(0, options.maxRows);
    inFlight = items.length;
    const run = (async () => {
      try {
        await options.flush(items);
      } catch (error) {
        buffer = items.concat(buffer);
        oldestAt = Date.now();
        throw error;
      } finally {
        inFlight = 0;
        current = undefined;
        if (buffer.length === 0) oldestAt = 0;
        updatePressure();
      }
    })();
    current = run;
    run.then(schedule, (error: unknown) => {
      options.onError?.(error);
      if (!timer && !stopped) {
        timer = setTimeout(() => {
          timer = undefined;
          schedule();
        }, options.maxWaitMs);
      }
    });
    return run;
  }

  return {
    add(items) {
      if (items.length === 0) return;
      if (buffer.length === 0) oldestAt = Date.now();
      for (const item of items) buffer.push(item);
      updatePressure();
      schedule();
    },
    remove(predicate) {
      const before = buffer.length;
      buffer = buffer.filter((item) => !predicate(item));
      if (buffer.length === 0) oldestAt = 0;
      updatePressure();
      return before - buffer.length;
    },
    get size() {
      return total();
    },
    get full() {
      return total() >= options.maxBuffered;
    },
    get flushing() {
      return current !== undefined;
    },
    async drain() {
      for (let guard = 0; guard < 1_000_000; guard++) {
        if (current) {
          await current;
          continue;
        }
        if (buffer.length === 0) return;
        await start();
      }
    },
    stop() {
      stopped = true;
      clearTimer();
    },
  };
}
