export interface BatcherOptions<T> {
  /** A flush starts as soon as this many items are buffered; one flush carries at most this many. */
  maxRows: number;
  /** Likewise in weight: a flush starts once the buffer weighs this much and carries at most this much (or one item). */
  maxBytes?: number;
  /** A non-empty buffer is flushed at the latest this long after its oldest item arrived. */
  maxWaitMs: number;
  /** Buffered plus in-flight items at which the buffer reports itself full (the consumer pauses). */
  maxBuffered: number;
  /** Buffered plus in-flight weight at which the buffer reports itself full. */
  maxBufferedBytes?: number;
  /** An item's weight, about the bytes it holds in memory; without it only rows are bounded. */
  weigh?: (item: T) => number;
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
  /** The weight of the items waiting and being flushed. */
  readonly bytes: number;
  readonly full: boolean;
  readonly flushing: boolean;
  /** Flushes until nothing is buffered or in flight; rejects if a flush fails. */
  drain(): Promise<void>;
  /** Stops the interval timer; buffered items stay until `drain`. */
  stop(): void;
}

/** Size-or-interval batcher with one flush at a time and a buffer bounded in items and weight. */
export function createBatcher<T>(options: BatcherOptions<T>): Batcher<T> {
  const weigh = options.weigh ?? (() => 0);
  const maxBytes = options.maxBytes ?? Infinity;
  const maxBufferedBytes = options.maxBufferedBytes ?? Infinity;
  let buffer: T[] = [];
  let bufferBytes = 0;
  let inFlight = 0;
  let inFlightBytes = 0;
  let current: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let oldestAt = 0;
  let wasFull = false;
  let stopped = false;

  const total = () => buffer.length + inFlight;
  const isFull = () => total() >= options.maxBuffered || bufferBytes + inFlightBytes >= maxBufferedBytes;
  const weightOf = (items: readonly T[]) => items.reduce((sum, item) => sum + weigh(item), 0);

  function updatePressure() {
    const full = isFull();
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
    if (buffer.length >= options.maxRows || bufferBytes >= maxBytes || waited >= options.maxWaitMs) {
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

  /** Takes the next batch off the front: at most maxRows items and maxBytes of weight, at least one item. */
  function take(): { items: T[]; bytes: number } {
    let count = 0;
    let bytes = 0;
    while (count < buffer.length && count < options.maxRows) {
      const weight = weigh(buffer[count] as T);
      if (count > 0 && bytes + weight > maxBytes) break;
      bytes += weight;
      count++;
    }
    bufferBytes -= bytes;
    return { items: buffer.splice(0, count), bytes };
  }

  function start(): Promise<void> {
    clearTimer();
    const { items, bytes } = take();
    inFlight = items.length;
    inFlightBytes = bytes;
    const run = (async () => {
      try {
        await options.flush(items);
      } catch (error) {
        buffer = items.concat(buffer);
        bufferBytes += bytes;
        oldestAt = Date.now();
        throw error;
      } finally {
        inFlight = 0;
        inFlightBytes = 0;
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
      for (const item of items) {
        buffer.push(item);
        bufferBytes += weigh(item);
      }
      updatePressure();
      schedule();
    },
    remove(predicate) {
      const before = buffer.length;
      buffer = buffer.filter((item) => !predicate(item));
      bufferBytes = weightOf(buffer);
      if (buffer.length === 0) oldestAt = 0;
      updatePressure();
      return before - buffer.length;
    },
    get size() {
      return total();
    },
    get bytes() {
      return bufferBytes + inFlightBytes;
    },
    get full() {
      return isFull();
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
