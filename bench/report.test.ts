import { describe, expect, it } from "vitest";
import { type BenchReport, percentile, ratio, renderBenchMarkdown } from "./report";

describe("percentile", () => {
  it("takes the nearest rank", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBe(0);
  });
});

describe("the bench report", () => {
  const report: BenchReport = {
    at: "2026-01-01T00:00:00.000Z",
    machine: { cpus: 2, cpuModel: "test cpu", memoryGb: 8, kernel: "6.1", node: "v20" },
    loadAverageAtStart: [1, 2, 3],
    loadAverageAtEnd: [3, 2, 1],
    steps: {
      ingest: { ok: true, seconds: 60, data: { file: "bench/results/ingest-x.json" } },
      query: { ok: false, seconds: 5, error: "boom" },
    },
    figures: [
      { area: "ingest", figure: "POST /events", value: 2500, unit: "req/s", ceiling: 10000, ceilingName: "bare node:http 202" },
      { area: "query", figure: "p50 / p99", value: 80, value2: 120, unit: "ms", ceiling: null, ceilingName: "" },
    ],
    chart: "x.png",
  };

  it("puts each figure next to its ceiling and their ratio", () => {
    expect(ratio(report.figures[0] as never)).toBe(0.25);
    expect(ratio(report.figures[1] as never)).toBeNull();
    const markdown = renderBenchMarkdown(report);
    expect(markdown).toContain("| ingest | POST /events | 2,500 req/s | 10,000 req/s (bare node:http 202) | 0.25 |");
    expect(markdown).toContain("| query | p50 / p99 | 80 / 120 ms | — | — |");
  });

  it("shows failed steps and links the chart", () => {
    const markdown = renderBenchMarkdown(report);
    expect(markdown).toContain("| query | **FAILED**: boom | 5 |");
    expect(markdown).toContain("![request latency over time](./x.png)");
  });
});
