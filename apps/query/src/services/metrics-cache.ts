import { Counter, type Registry } from "@sluice/metrics";
import type { Metrics } from "../queries/metrics";

/**
 * Answers of GET /metrics kept with the event counts they were computed from. Counts only grow (the worker
 * never removes rows), so an answer whose counts still match the rollups' is still exact: a repeated
 * request costs a read of the count states (milliseconds) instead of the unique-user merge (up to seconds).
 */
export interface MetricsCache {
  /**
   * The answer stored under `key` if it was computed from exactly `version`'s counts; else `compute`'s,
   * which is stored. Concurrent requests for the same key and version share one computation.
   */
  answer(key: string, version: string, compute: () => Promise<Metrics>): Promise<Metrics>;
  /**
   * For a key with no answer stored: `compute`'s answer, stored under the version it reports (its own
   * counts; an answer reporting none is not stored), so a range's first request needs no counts read. Undefined when the key holds an answer, which
   * only a counts read can tell current or not. Concurrent first requests for a key share one computation.
   */
  firstAnswer(
    key: string,
    compute: () => Promise<{ metrics: Metrics; version: string | undefined }>,
  ): Promise<Metrics> | undefined;
}

interface Entry {
  version: string;
  metrics: Metrics;
  weight: number;
}

/**
 * A least-recently-used MetricsCache bounded by the number of groups it holds (a 30-day hourly answer
 * holds 720), so its memory stays bounded whatever ranges are asked for.
 */
export function createMetricsCache(options: { maxGroups: number; registry: Registry }): MetricsCache {
  const entries = new Map<string, Entry>();
  let weight = 0;
  const lookups = new Counter({
    name: "query_metrics_cache_lookups_total",
    help: "GET /metrics answers served from the cache (hit), computed (miss), or shared with a computation under way (shared)",
    labelNames: ["result"],
    registers: [options.registry],
  });

  const computing = new Map<string, Promise<Metrics>>();

  function get(key: string, version: string): Metrics | undefined {
    const entry = entries.get(key);
    if (entry === undefined || entry.version !== version) return undefined;
    entries.delete(key);
    entries.set(key, entry);
    return entry.metrics;
  }

  function set(key: string, version: string, metrics: Metrics): void {
    const previous = entries.get(key);
    if (previous !== undefined) {
      entries.delete(key);
      weight -= previous.weight;
    }
    const entry = { version, metrics, weight: metrics.data.length + 1 };
    if (entry.weight > options.maxGroups) return;
    entries.set(key, entry);
    weight += entry.weight;
    for (const [oldest, evicted] of entries) {
      if (weight <= options.maxGroups) break;
      entries.delete(oldest);
      weight -= evicted.weight;
    }
  }

  /**
   * `compute` for the flight named, shared by every caller that asks while it runs; its answer is stored
   * under `key` with the version it reports, if it reports one.
   */
  function share(
    flight: string,
    key: string,
    compute: () => Promise<{ metrics: Metrics; version: string | undefined }>,
  ): Promise<Metrics> {
    const running = computing.get(flight);
    if (running !== undefined) {
      lookups.inc({ result: "shared" });
      return running;
    }
    lookups.inc({ result: "miss" });
    const computed = compute().then(({ metrics, version }) => {
      if (version !== undefined) set(key, version, metrics);
      return metrics;
    });
    computing.set(flight, computed);
    const done = () => computing.delete(flight);
    computed.then(done, done);
    return computed;
  }

  return {
    firstAnswer(key, compute) {
      if (entries.has(key)) return undefined;
      // A first request has no version yet: its flight is named by the key alone.
      return share(`\n${key}`, key, compute);
    },
    async answer(key, version, compute) {
      const kept = get(key, version);
      if (kept !== undefined) {
        lookups.inc({ result: "hit" });
        return kept;
      }
      return await share(`${version}\n${key}`, key, async () => ({ metrics: await compute(), version }));
    },
  };
}
