import { createRegistry } from "@sluice/metrics";
import { describe, expect, it } from "vitest";
import type { Metrics } from "../queries/metrics";
import { createMetricsCache } from "./metrics-cache";

const answer = (groups: number, total = 1): Metrics => ({
  event_name: null,
  from: "2026-01-01T00:00:00Z",
  to: "2026-01-02T00:00:00Z",
  grouped_by: "hour",
  total_events: total,
  unique_users: total,
  data: Array.from({ length: groups }, (_, i) => ({ group: String(i), total_events: 1, unique_users: 1 })),
});

async function lookups(registry: ReturnType<typeof createRegistry>): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric("query_metrics_cache_lookups_total")?.get();
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.result), v.value]));
}

/** A computation that counts its calls. */
function computing(result: Metrics) {
  const calls = { n: 0 };
  return {
    calls,
    compute: async () => {
      calls.n += 1;
      return result;
    },
  };
}

describe("metrics cache", () => {
  it("reuses an answer only for the version it was computed from, and counts hits and misses", async () => {
    const registry = createRegistry("test");
    const cache = createMetricsCache({ maxGroups: 100, registry });
    const first = computing(answer(3, 10));
    expect(await cache.answer("k", "v1", first.compute)).toEqual(answer(3, 10));
    expect(await cache.answer("k", "v1", first.compute)).toEqual(answer(3, 10));
    expect(first.calls.n).toBe(1);
    const second = computing(answer(3, 11));
    expect(await cache.answer("k", "v2", second.compute)).toEqual(answer(3, 11));
    expect(await cache.answer("k", "v2", second.compute)).toEqual(answer(3, 11));
    expect(second.calls.n).toBe(1);
    const other = computing(answer(1, 5));
    expect(await cache.answer("other", "v2", other.compute)).toEqual(answer(1, 5));
    expect(other.calls.n).toBe(1);
    // The old version of "k" was replaced: asking for it again computes.
    expect(await cache.answer("k", "v1", first.compute)).toEqual(answer(3, 10));
    expect(first.calls.n).toBe(2);
    expect(await lookups(registry)).toEqual({ hit: 2, miss: 4 });
  });

  it("shares one computation between concurrent requests for the same key and version", async () => {
    const registry = createRegistry("test");
    const cache = createMetricsCache({ maxGroups: 100, registry });
    let release: (metrics: Metrics) => void = () => {};
    let calls = 0;
    const slow = () => {
      calls += 1;
      return new Promise<Metrics>((resolve) => {
        release = resolve;
      });
    };
    const pending = [cache.answer("k", "v", slow), cache.answer("k", "v", slow), cache.answer("k", "v", slow)];
    release(answer(2, 7));
    expect(await Promise.all(pending)).toEqual([answer(2, 7), answer(2, 7), answer(2, 7)]);
    expect(calls).toBe(1);
    expect(await lookups(registry)).toEqual({ miss: 1, shared: 2 });
  });

  it("answers a key's first request from its computation alone, stored under the version it reports", async () => {
    const registry = createRegistry("test");
    const cache = createMetricsCache({ maxGroups: 100, registry });
    let release: (value: { metrics: Metrics; version: string }) => void = () => {};
    let calls = 0;
    const slow = () => {
      calls += 1;
      return new Promise<{ metrics: Metrics; version: string }>((resolve) => {
        release = resolve;
      });
    };
    const pending = [cache.firstAnswer("k", slow), cache.firstAnswer("k", slow)];
    release({ metrics: answer(2, 7), version: "v" });
    expect(await Promise.all(pending)).toEqual([answer(2, 7), answer(2, 7)]);
    expect(calls).toBe(1);
    // Now the key holds an answer: only a counts read can tell whether it is current.
    expect(cache.firstAnswer("k", slow)).toBeUndefined();
    const stale = computing(answer(2, 8));
    expect(await cache.answer("k", "v", stale.compute)).toEqual(answer(2, 7));
    expect(stale.calls.n).toBe(0);
    expect(await cache.answer("k", "v2", stale.compute)).toEqual(answer(2, 8));
    expect(await lookups(registry)).toEqual({ miss: 2, shared: 1, hit: 1 });
    await expect(cache.firstAnswer("bad", () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(cache.firstAnswer("bad", async () => ({ metrics: answer(1), version: "v" }))).toBeInstanceOf(Promise);
  });

  it("answers a first request whose computation reports no version without keeping it", async () => {
    const cache = createMetricsCache({ maxGroups: 100, registry: createRegistry("test") });
    expect(await cache.firstAnswer("k", async () => ({ metrics: answer(3), version: undefined }))).toEqual(answer(3));
    // Nothing kept: the next request is a first request again.
    expect(cache.firstAnswer("k", async () => ({ metrics: answer(4), version: "v" }))).toBeInstanceOf(Promise);
  });

  it("keeps nothing from a computation that failed", async () => {
    const cache = createMetricsCache({ maxGroups: 100, registry: createRegistry("test") });
    await expect(cache.answer("k", "v", () => Promise.reject(new Error("ClickHouse is down")))).rejects.toThrow("down");
    const retry = computing(answer(1));
    expect(await cache.answer("k", "v", retry.compute)).toEqual(answer(1));
    expect(retry.calls.n).toBe(1);
  });

  it("holds at most maxGroups groups, evicting the least recently used answers", async () => {
    const cache = createMetricsCache({ maxGroups: 30, registry: createRegistry("test") });
    const calls: string[] = [];
    const ask = (key: string, version: string, groups: number) =>
      cache.answer(key, version, async () => {
        calls.push(`${key}@${version}`);
        return answer(groups);
      });
    await ask("a", "v", 9); // weight 10 each: groups + 1
    await ask("b", "v", 9);
    await ask("c", "v", 9);
    await ask("a", "v", 9); // a is now the most recent
    await ask("d", "v", 9); // evicts b
    await ask("a", "v2", 19); // replaces a (weight 20): with c and d that is 40, so c goes
    calls.length = 0;
    // The kept ones first: asking for an evicted one stores it again, which evicts others.
    for (const key of ["a", "d", "b", "c"]) await ask(key, key === "a" ? "v2" : "v", key === "a" ? 19 : 9);
    expect(calls).toEqual(["b@v", "c@v"]);
  });

  it("does not keep an answer larger than the whole cache", async () => {
    const cache = createMetricsCache({ maxGroups: 10, registry: createRegistry("test") });
    const huge = computing(answer(50));
    await cache.answer("huge", "v", huge.compute);
    await cache.answer("huge", "v", huge.compute);
    expect(huge.calls.n).toBe(2);
  });
});
