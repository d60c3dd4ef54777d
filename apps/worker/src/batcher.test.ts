import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createBatcher } from "./batcher";

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("batcher", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("flushes as soon as maxRows items are buffered, at most maxRows per flush", async () => {
    const flushed: number[][] = [];
    const batcher = createBatcher<number>({
      maxRows: 3,
      maxWaitMs: 1000,
      maxBuffered: 100,
      flush: async (items) => {
        flushed.push(items);
      },
    });
    batcher.add([1, 2]);
    expect(flushed).toEqual([]);
    batcher.add([3, 4, 5, 6, 7]);
    await vi.advanceTimersByTimeAsync(0);
    expect(flushed).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    await vi.advanceTimersByTimeAsync(999);
    expect(flushed).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(flushed).toHaveLength(3);
    expect(flushed[2]).toEqual([7]);
  });

  it("flushes a partial buffer after maxWaitMs", async () => {
    const flushed: number[][] = [];
    const batcher = createBatcher<number>({
      maxRows: 10,
      maxWaitMs: 500,
      maxBuffered: 100,
      flush: async (items) => {
        flushed.push(items);
      },
    });
    batcher.add([1]);
    await vi.advanceTimersByTimeAsync(499);
    expect(flushed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(flushed).toEqual([[1]]);
  });

  it("never runs two flushes at once", async () => {
    let running = 0;
    let maxRunning = 0;
    const gates: ReturnType<typeof deferred>[] = [];
    const batcher = createBatcher<number>({
      maxRows: 2,
      maxWaitMs: 10,
      maxBuffered: 100,
      flush: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        const gate = deferred();
        gates.push(gate);
        await gate.promise;
        running--;
      },
    });
    batcher.add([1, 2, 3, 4, 5, 6]);
    await vi.advanceTimersByTimeAsync(100);
    expect(gates).toHaveLength(1);
    expect(batcher.flushing).toBe(true);
    gates[0]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(gates).toHaveLength(2);
    gates[1]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    gates[2]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(maxRunning).toBe(1);
    expect(batcher.size).toBe(0);
  });

  it("reports back-pressure when buffered plus in-flight items reach maxBuffered, and relief after the flush", async () => {
    const pressure: boolean[] = [];
    const gate = deferred();
    const batcher = createBatcher<number>({
      maxRows: 2,
      maxWaitMs: 1000,
      maxBuffered: 4,
      flush: () => gate.promise,
      onPressure: (full) => pressure.push(full),
    });
    batcher.add([1, 2, 3]);
    expect(batcher.full).toBe(false);
    batcher.add([4]);
    expect(batcher.full).toBe(true);
    expect(pressure).toEqual([true]);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(batcher.full).toBe(false);
    expect(pressure).toEqual([true, false]);
  });

  it("puts a failed batch back in front and retries it", async () => {
    const flushed: number[][] = [];
    let fail = true;
    const errors: unknown[] = [];
    const batcher = createBatcher<number>({
      maxRows: 2,
      maxWaitMs: 100,
      maxBuffered: 10,
      flush: async (items) => {
        if (fail) {
          fail = false;
          throw new Error("boom");
        }
        flushed.push(items);
      },
      onError: (error) => errors.push(error),
    });
    batcher.add([1, 2, 3]);
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toHaveLength(1);
    expect(batcher.size).toBe(3);
    await vi.advanceTimersByTimeAsync(100);
    expect(flushed[0]).toEqual([1, 2]);
  });

  it("drops buffered items by predicate but never the in-flight batch, and drains the rest", async () => {
    const flushed: number[][] = [];
    const gate = deferred();
    let first = true;
    const batcher = createBatcher<number>({
      maxRows: 2,
      maxWaitMs: 1000,
      maxBuffered: 10,
      flush: async (items) => {
        if (first) {
          first = false;
          await gate.promise;
        }
        flushed.push(items);
      },
    });
    batcher.add([1, 2, 3, 4, 5]);
    await vi.advanceTimersByTimeAsync(0);
    expect(batcher.remove((n) => n % 2 === 0)).toBe(1);
    gate.resolve();
    await batcher.drain();
    expect(flushed).toEqual([
      [1, 2],
      [3, 5],
    ]);
  });

  it("bounds flushes and the buffer by weight as well as by count", async () => {
    const flushed: number[][] = [];
    const pressure: boolean[] = [];
    const gates: ReturnType<typeof deferred>[] = [];
    const batcher = createBatcher<number>({
      maxRows: 100,
      maxBytes: 10,
      maxWaitMs: 1000,
      maxBuffered: 100,
      maxBufferedBytes: 25,
      weigh: (n) => n,
      flush: async (items) => {
        flushed.push(items);
        const gate = deferred();
        gates.push(gate);
        await gate.promise;
      },
      onPressure: (full) => pressure.push(full),
    });
    batcher.add([4, 4]);
    await vi.advanceTimersByTimeAsync(0);
    expect(flushed).toEqual([]);
    batcher.add([4, 12]);
    await vi.advanceTimersByTimeAsync(0);
    // Weight 10 reached: the flush takes what fits in 10, never splitting an item.
    expect(flushed).toEqual([[4, 4]]);
    expect(batcher.bytes).toBe(24);
    expect(batcher.full).toBe(false);
    batcher.add([1]);
    expect(batcher.full).toBe(true);
    expect(pressure).toEqual([true]);
    gates[0]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    // An item heavier than maxBytes still goes, alone.
    expect(flushed[1]).toEqual([4]);
    gates[1]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(flushed[2]).toEqual([12]);
    expect(pressure).toEqual([true, false]);
    gates[2]?.resolve();
    await vi.advanceTimersByTimeAsync(1000);
    expect(flushed[3]).toEqual([1]);
    gates[3]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(batcher.bytes).toBe(0);
    expect(batcher.size).toBe(0);
  });

  it("keeps the weight right when items are removed or a flush fails", async () => {
    let fail = true;
    const batcher = createBatcher<number>({
      maxRows: 2,
      maxWaitMs: 100,
      maxBuffered: 100,
      maxBufferedBytes: 1000,
      weigh: (n) => n,
      flush: async () => {
        if (fail) throw new Error("boom");
      },
    });
    batcher.add([10, 20, 30]);
    expect(batcher.bytes).toBe(60);
    await vi.advanceTimersByTimeAsync(0);
    expect(batcher.bytes).toBe(60);
    expect(batcher.remove((n) => n === 30)).toBe(1);
    expect(batcher.bytes).toBe(30);
    fail = false;
    await batcher.drain();
    expect(batcher.bytes).toBe(0);
  });
});
