import type { Verdict } from "./e2e";
import type { LoadFigures } from "./k6-summary";
import type { Usage } from "./proc";

/** Everything a load run produced; written as summary.json and rendered as summary.md. */
export interface LoadSummary {
  runId: string;
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; kernel: string; node: string; k6: string };
  settings: { loadScale: number; loadRateScale: number; batchShare: number; batchSize: number; maxVus: number };
  k6ExitCode: number;
  thresholdsOk: boolean;
  figures: LoadFigures;
  endToEnd: Verdict & { drained: boolean; drainWaitMs: number };
  usage: Usage;
}

const ms = (value: number | null) => (value === null ? "—" : value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value} ms`);
const pct = (rate: number) => `${(rate * 100).toFixed(2)} %`;
const int = (value: number) => Math.round(value).toLocaleString("en-US");

/** The expressions crossed on metrics with this tag selector, e.g. `{stage:spike}`. */
function crossedIn(figures: LoadFigures, selector: string): string[] {
  return figures.thresholds.filter((t) => !t.ok && t.metric.endsWith(selector)).map((t) => t.expression);
}

function crossedText(figures: LoadFigures): string {
  const overall = crossedIn(figures, "{scenario:ingest}");
  const stages = figures.stages.filter((s) => crossedIn(figures, `{stage:${s.name}}`).length > 0).map((s) => s.name);
  if (overall.length === 0 && stages.length === 0) return "";
  return ` — crossed over the whole run: ${overall.join(", ") || "none"}; in stages: ${stages.join(", ") || "none"}`;
}

/** A short markdown report: verdicts first, then the figures per stage, the pipeline check and the processes. */
export function renderMarkdown(summary: LoadSummary): string {
  const { figures, endToEnd: e2e } = summary;
  const lines: string[] = [];
  lines.push(`# Load test ${summary.runId}`, "");
  lines.push(
    `- **Thresholds (p95 < 100 ms, p99 < 200 ms, errors < 1 %): ${summary.thresholdsOk ? "PASSED" : "FAILED"}**${crossedText(figures)}`,
  );
  lines.push(
    `- **End-to-end: ${e2e.ok ? "OK" : "FAILED"}** — ${int(e2e.accepted)} events acknowledged, ${int(e2e.storedRows)} rows stored ` +
      `(${int(e2e.storedUnique)} distinct ids), ${int(e2e.missing)} missing, ${int(e2e.doubled)} doubled` +
      (e2e.problems.length ? `: ${e2e.problems.join("; ")}` : ""),
  );
  lines.push(
    `- **Freshness** (202 → counted by \`GET /metrics\`): p50 ${ms(figures.freshness.p50Ms)}, p99 ${ms(figures.freshness.p99Ms)}, ` +
      `max ${ms(figures.freshness.maxMs)} over ${figures.freshness.probes} probes` +
      (figures.freshness.timeouts ? `, ${figures.freshness.timeouts} not visible within the timeout` : ""),
  );
  lines.push(
    `- Ingest requests: ${int(figures.ingest.requests)} sent of ${int(figures.ingest.plannedRequests)} planned; ` +
      `${int(figures.ingest.droppedIterations)} never started (every VU busy, up to ${figures.maxVus} VUs); ` +
      `p50 ${ms(figures.ingest.p50Ms)}, p95 ${ms(figures.ingest.p95Ms)}, p99 ${ms(figures.ingest.p99Ms)}, errors ${pct(figures.ingest.errorRate)}`,
  );
  lines.push(
    `- Events: ${int(figures.events.sent)} sent, ${int(figures.events.accepted)} acknowledged, ${int(figures.events.unacked)} not ` +
      `acknowledged (${int(e2e.unackedStored)} of those were stored anyway; a client retries them with the same id)`,
  );
  lines.push("", "## Stages", "");
  lines.push(
    "| stage | duration | target req/s | planned avg req/s | achieved req/s | p50 | p95 | p99 | max | errors | limits |",
  );
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
  for (const s of figures.stages) {
    const broken = crossedIn(figures, `{stage:${s.name}}`);
    lines.push(
      `| ${s.name} | ${s.seconds} s | ${int(s.targetRate)} | ${int(s.plannedRate)} | ${int(s.achievedRate)} | ${ms(s.p50Ms)} | ` +
        `${ms(s.p95Ms)} | ${ms(s.p99Ms)} | ${ms(s.maxMs)} | ${pct(s.errorRate)} | ${broken.length ? `✗ ${broken.join(", ")}` : "✓"} |`,
    );
  }
  lines.push("", "## Processes during the run", "");
  lines.push("| process | CPU (cores) | peak RSS |", "|---|---:|---:|");
  for (const p of summary.usage.processes) lines.push(`| ${p.name} | ${p.cpuCores.toFixed(2)} | ${p.peakRssMb} MB |`);
  lines.push(
    "",
    `Load average (1 min) during the run: mean ${summary.usage.loadAverage.mean}, max ${summary.usage.loadAverage.max.toFixed(2)} ` +
      `on ${summary.machine.cpus} × ${summary.machine.cpuModel}, ${summary.machine.memoryGb} GB; Node ${summary.machine.node}, ` +
      `k6 ${summary.machine.k6}. Settings: LOAD_SCALE=${summary.settings.loadScale}, LOAD_RATE_SCALE=${summary.settings.loadRateScale}, ` +
      `batches ${pct(summary.settings.batchShare)} of requests × ${summary.settings.batchSize} events. ` +
      `Run ${summary.startedAt} → ${summary.finishedAt}.`,
  );
  lines.push("", "Files: `summary.json`, `k6-report.html` (k6 web dashboard export), `k6-summary.json`, `k6-console.log`.", "");
  return lines.join("\n");
}
