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

describe("metrics cache", () => {
  it("returns an answer only for the version it was computed from, and counts hits and misses", async () => {
    const registry = createRegistry("test");
    const cache = createMetricsCache({ maxGroups: 100, registry });
    const first = answer(3, 10);
    expect(cache.get("k", "v1")).toBeUndefined();
    cache.set("k", "v1", first);
    expect(cache.get("k", "v1")).toBe(first);
    expect(cache.get("k", "v2")).toBeUndefined();
    expect(cache.get("other", "v1")).toBeUndefined();
    const second = answer(3, 11);
    cache.set("k", "v2", second);
    expect(cache.get("k", "v2")).toBe(second);
    expect(cache.get("k", "v1")).toBeUndefined();
    expect(await lookups(registry)).toEqual({ hit: 2, miss: 4 });
  });

  it("holds at most maxGroups groups, evicting the least recently used answers", () => {
    const cache = createMetricsCache({ maxGroups: 30, registry: createRegistry("test") });
    cache.set("a", "v", answer(9)); // weight 10 each: groups + 1
    cache.set("b", "v", answer(9));
    cache.set("c", "v", answer(9));
    expect(cache.get("a", "v")).toBeDefined(); // a is now the most recent
    cache.set("d", "v", answer(9));
    expect(cache.get("b", "v")).toBeUndefined();
    expect(["a", "c", "d"].map((key) => cache.get(key, "v") !== undefined)).toEqual([true, true, true]);
    cache.set("a", "v2", answer(19)); // replacing an entry releases its old weight: a(20) + d(10)
    expect(cache.get("c", "v")).toBeUndefined();
    expect(cache.get("a", "v2")).toBeDefined();
    expect(cache.get("d", "v")).toBeDefined();
  });

  it("does not keep an answer larger than the whole cache", () => {
    const cache = createMetricsCache({ maxGroups: 10, registry: createRegistry("test") });
    cache.set("small", "v", answer(2));
    cache.set("huge", "v", answer(50));
    expect(cache.get("huge", "v")).toBeUndefined();
    expect(cache.get("small", "v")).toBeDefined();
  });
});
