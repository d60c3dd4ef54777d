import type { Stage } from "./profile";

/** One metric of k6's `--summary-export` file; `thresholds` maps each expression to true when it was crossed. */
type K6Metric = { [stat: string]: number | Record<string, boolean> | undefined; thresholds?: Record<string, boolean> };

/** The parts of k6's `--summary-export` file (its legacy format, the only one with p99 and threshold results). */
export interface K6Export {
  metrics: Record<string, K6Metric>;
}

export interface Latency {
  requests: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  errorRate: number;
  failed: number;
}

export interface StageFigures extends Latency {
  name: string;
  seconds: number;
  targetRate: number;
  /** The stage's planned average rate (the mean of its start and end rates). */
  plannedRate: number;
  achievedRate: number;
}

export interface ThresholdResult {
  metric: string;
  expression: string;
  ok: boolean;
}

export interface LoadFigures {
  ingest: Latency & { plannedRequests: number; droppedIterations: number };
  stages: StageFigures[];
  events: { sent: number; accepted: number; unacked: number };
  freshness: { probes: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null; timeouts: number };
  maxVus: number;
  thresholds: ThresholdResult[];
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

function num(metric: K6Metric | undefined, key: string): number {
  const value = metric?.[key];
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function latency(exported: K6Export, selector: string): Latency {
  const duration = exported.metrics[`http_req_duration${selector}`];
  const failed = exported.metrics[`http_req_failed${selector}`];
  return {
    requests: num(duration, "count"),
    p50Ms: round(num(duration, "med")),
    p95Ms: round(num(duration, "p(95)")),
    p99Ms: round(num(duration, "p(99)")),
    maxMs: round(num(duration, "max")),
    // In a Rate metric's export, `passes` counts the true values, i.e. the failed requests.
    failed: num(failed, "passes"),
    errorRate: round(num(failed, "value"), 4),
  };
}

/** Turns k6's summary export into the figures the report shows, stage by stage. */
export function loadFigures(exported: K6Export, stages: Stage[]): LoadFigures {
  const metrics = exported.metrics;
  const freshness = metrics.freshness_ms;
  const probes = num(freshness, "count");
  const thresholds: ThresholdResult[] = [];
  for (const [metric, values] of Object.entries(metrics)) {
    for (const [expression, crossed] of Object.entries(values.thresholds ?? {})) {
      thresholds.push({ metric, expression, ok: !crossed });
    }
  }
  thresholds.sort((a, b) => a.metric.localeCompare(b.metric) || a.expression.localeCompare(b.expression));
  return {
    ingest: {
      ...latency(exported, "{scenario:ingest}"),
      plannedRequests: stages.reduce((sum, stage) => sum + stage.plannedRequests, 0),
      droppedIterations: num(metrics.dropped_iterations, "count"),
    },
    stages: stages.map((stage) => {
      const figures = latency(exported, `{stage:${stage.name}}`);
      return {
        name: stage.name,
        seconds: stage.seconds,
        targetRate: stage.target,
        plannedRate: round((stage.fromRate + stage.target) / 2),
        achievedRate: round(figures.requests / stage.seconds),
        ...figures,
      };
    }),
    events: {
      sent: num(metrics.events_sent, "count"),
      accepted: num(metrics.events_accepted, "count"),
      unacked: num(metrics.events_unacked, "count"),
    },
    freshness: {
      probes,
      p50Ms: probes ? round(num(freshness, "med")) : null,
      p99Ms: probes ? round(num(freshness, "p(99)")) : null,
      maxMs: probes ? round(num(freshness, "max")) : null,
      timeouts: num(metrics.freshness_timeouts, "count"),
    },
    maxVus: num(metrics.vus_max, "max"),
    thresholds,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The event ids of the `UNACKED status=<s> <id> <id>…` lines the k6 script logs, each once. */
export function parseUnacked(consoleLog: string): string[] {
  const ids = new Set<string>();
  for (const line of consoleLog.split("\n")) {
    const at = line.indexOf("UNACKED status=");
    if (at === -1) continue;
    for (const word of line.slice(at).replace(/["\\]/g, " ").split(/\s+/)) {
      if (UUID.test(word)) ids.add(word.toLowerCase());
    }
  }
  return [...ids];
}
