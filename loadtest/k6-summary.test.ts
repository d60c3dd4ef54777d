import { describe, expect, it } from "vitest";
import { type K6Export, loadFigures, parseUnacked } from "./k6-summary";
import { scaleProfile } from "./profile";

const stages = scaleProfile(
  {
    stages: [
      { name: "steady", duration_s: 10, target: 100 },
      { name: "spike", duration_s: 5, target: 1000 },
    ],
  },
  1,
  1,
);

const exported: K6Export = {
  metrics: {
    "http_req_duration{scenario:ingest}": {
      count: 2000,
      med: 5,
      "p(95)": 90,
      "p(99)": 300,
      max: 900,
      thresholds: { "p(95)<100": false, "p(99)<200": true },
    },
    "http_req_failed{scenario:ingest}": { passes: 30, fails: 1970, value: 0.015, thresholds: { "rate<0.01": true } },
    "http_req_duration{stage:steady}": { count: 1000, med: 4, "p(95)": 20, "p(99)": 40, max: 60 },
    "http_req_failed{stage:steady}": { passes: 0, fails: 1000, value: 0 },
    "http_req_duration{stage:spike}": { count: 1000, med: 50, "p(95)": 400, "p(99)": 800, max: 900 },
    "http_req_failed{stage:spike}": { passes: 30, fails: 970, value: 0.03 },
    events_sent: { count: 2500 },
    events_accepted: { count: 2460 },
    events_unacked: { count: 40 },
    dropped_iterations: { count: 1750 },
    freshness_ms: { count: 15, med: 800, "p(99)": 2500, max: 2600 },
    vus_max: { value: 1000, max: 1000 },
  },
};

describe("loadFigures", () => {
  const figures = loadFigures(exported, stages);

  it("reports requests achieved per stage against the planned rate", () => {
    expect(figures.stages).toEqual([
      expect.objectContaining({ name: "steady", plannedRate: 50, achievedRate: 100, p99Ms: 40, errorRate: 0 }),
      expect.objectContaining({ name: "spike", plannedRate: 550, achievedRate: 200, p95Ms: 400, failed: 30, errorRate: 0.03 }),
    ]);
    expect(figures.ingest).toMatchObject({ requests: 2000, plannedRequests: 500 + 2750, droppedIterations: 1750, p99Ms: 300 });
  });

  it("turns k6's crossed flags into pass/fail results", () => {
    expect(figures.thresholds).toEqual([
      { metric: "http_req_duration{scenario:ingest}", expression: "p(95)<100", ok: true },
      { metric: "http_req_duration{scenario:ingest}", expression: "p(99)<200", ok: false },
      { metric: "http_req_failed{scenario:ingest}", expression: "rate<0.01", ok: false },
    ]);
  });

  it("reports events and freshness", () => {
    expect(figures.events).toEqual({ sent: 2500, accepted: 2460, unacked: 40 });
    expect(figures.freshness).toEqual({ probes: 15, p50Ms: 800, p99Ms: 2500, maxMs: 2600, timeouts: 0 });
  });

  it("leaves freshness empty when no probe completed", () => {
    expect(loadFigures({ metrics: {} }, stages).freshness).toEqual({
      probes: 0,
      p50Ms: null,
      p99Ms: null,
      maxMs: null,
      timeouts: 0,
    });
  });
});

describe("parseUnacked", () => {
  it("collects the ids of UNACKED lines from k6's console output, once each", () => {
    const log = [
      'time="2026-01-01T00:00:00Z" level=info msg="UNACKED status=503 0b8e6a38-5b6f-4b6e-9f0e-0d0a3c1f2e11 1C8E6A38-5B6F-4B6E-9F0E-0D0A3C1F2E12" source=console',
      'time="2026-01-01T00:00:01Z" level=info msg="something else 2c8e6a38-5b6f-4b6e-9f0e-0d0a3c1f2e13" source=console',
      'time="2026-01-01T00:00:02Z" level=info msg="UNACKED status=0 0b8e6a38-5b6f-4b6e-9f0e-0d0a3c1f2e11" source=console',
    ].join("\n");
    expect(parseUnacked(log)).toEqual(["0b8e6a38-5b6f-4b6e-9f0e-0d0a3c1f2e11", "1c8e6a38-5b6f-4b6e-9f0e-0d0a3c1f2e12"]);
  });
});
