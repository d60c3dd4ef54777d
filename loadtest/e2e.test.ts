import { describe, expect, it } from "vitest";
import { judge, sumMetric, waitForDrain } from "./e2e";

describe("judge", () => {
  it("passes when every acknowledged event is stored once", () => {
    const verdict = judge(100, 0, { rows: 100, uniqueIds: 100, unackedStored: 0 });
    expect(verdict).toMatchObject({ ok: true, missing: 0, doubled: 0, unexplained: 0 });
    expect(verdict.problems).toEqual([]);
  });

  it("fails when a single acknowledged event is missing", () => {
    const verdict = judge(100, 0, { rows: 99, uniqueIds: 99, unackedStored: 0 });
    expect(verdict.ok).toBe(false);
    expect(verdict.missing).toBe(1);
    expect(verdict.problems.join()).toMatch(/1 acknowledged event\(s\) are MISSING/);
  });

  it("fails when a single event is stored twice", () => {
    const verdict = judge(100, 0, { rows: 101, uniqueIds: 100, unackedStored: 0 });
    expect(verdict.ok).toBe(false);
    expect(verdict.doubled).toBe(1);
    expect(verdict.problems.join()).toMatch(/1 row\(s\) are DUPLICATES/);
  });

  it("does not let an unacknowledged event that was stored hide a missing acknowledged one", () => {
    // 100 acknowledged, 1 unacknowledged stored anyway, 1 acknowledged lost: the totals match, the ids do not.
    const verdict = judge(100, 5, { rows: 100, uniqueIds: 100, unackedStored: 1 });
    expect(verdict.ok).toBe(false);
    expect(verdict.missing).toBe(1);
  });

  it("accepts unacknowledged events that were stored anyway, and reports them", () => {
    const verdict = judge(100, 5, { rows: 102, uniqueIds: 102, unackedStored: 2 });
    expect(verdict).toMatchObject({ ok: true, unackedSent: 5, unackedStored: 2 });
  });

  it("fails on stored events the run never accounted for", () => {
    const verdict = judge(100, 0, { rows: 103, uniqueIds: 103, unackedStored: 0 });
    expect(verdict.ok).toBe(false);
    expect(verdict.unexplained).toBe(3);
  });
});

describe("sumMetric", () => {
  const exposition = [
    "# HELP sluice_worker_consumer_lag lag",
    'sluice_worker_consumer_lag{topic="events",partition="0"} 3',
    'sluice_worker_consumer_lag{topic="events",partition="1"} 4',
    "sluice_worker_consumer_lag_other 100",
    "sluice_worker_buffered_messages 0",
  ].join("\n");

  it("sums the samples of one metric and ignores others sharing its prefix", () => {
    expect(sumMetric(exposition, "sluice_worker_consumer_lag")).toBe(7);
    expect(sumMetric(exposition, "sluice_worker_buffered_messages")).toBe(0);
  });

  it("is undefined when the metric is absent", () => {
    expect(sumMetric(exposition, "missing_metric")).toBeUndefined();
  });
});

describe("waitForDrain", () => {
  it("without the worker's metrics, waits until the count holds still over three polls", async () => {
    const counts = [10, 20, 30, 30, 30, 30];
    let polls = 0;
    const result = await waitForDrain({
      workerMetricsUrl: "http://127.0.0.1:1/metrics",
      timeoutMs: 5000,
      pollMs: 1,
      count: async () => counts[Math.min(polls++, counts.length - 1)] ?? 0,
      log: () => undefined,
    });
    expect(result).toMatchObject({ drained: true, rows: 30 });
    expect(polls).toBe(6);
  });

  it("gives up after the timeout while rows keep arriving", async () => {
    let rows = 0;
    const result = await waitForDrain({
      workerMetricsUrl: "http://127.0.0.1:1/metrics",
      timeoutMs: 50,
      pollMs: 5,
      count: async () => ++rows,
      log: () => undefined,
    });
    expect(result.drained).toBe(false);
  });
});
