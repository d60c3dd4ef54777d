/** One reported figure; `value2` holds a second figure of the same row (p99 beside p50). */
export interface Figure {
  area: string;
  figure: string;
  value: number;
  value2?: number;
  unit: string;
  /** The reference this figure is held against (the fastest possible), or null when there is none. */
  ceiling: number | null;
  ceilingName: string;
}

export interface BenchStep {
  ok: boolean;
  seconds: number;
  data?: unknown;
  error?: string;
}

/** What `make bench` writes to bench/results/<timestamp>.json. */
export interface BenchReport {
  at: string;
  finishedAt?: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; kernel: string; node: string };
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
  steps: Record<string, BenchStep>;
  figures: Figure[];
  chart?: string;
}

/** The p-th percentile (nearest rank) of ascending `sorted`, rounded to 0.01; 0 when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[index] ?? 0) * 100) / 100;
}

/** value / ceiling, e.g. 0.28 of the ceiling's throughput or 3.5 times its latency; null without a ceiling. */
export function ratio(figure: Figure): number | null {
  if (figure.ceiling === null || figure.ceiling === 0) return null;
  return Math.round((figure.value / figure.ceiling) * 1000) / 1000;
}

const fmt = (value: number) => (Number.isInteger(value) ? value.toLocaleString("en-US") : value.toFixed(value < 10 ? 2 : 1));

/** The markdown report: one table of every figure, its ceiling and the ratio, then the steps. */
export function renderBenchMarkdown(report: BenchReport): string {
  const lines = [`# make bench — ${report.at}`, ""];
  const m = report.machine;
  lines.push(
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, Linux ${m.kernel}, Node ${m.node}; everything co-located ` +
      `(Kafka, ClickHouse, the apps and the load generator share the cores). Load average at start ` +
      `${report.loadAverageAtStart.join(" / ")}, at the end ${(report.loadAverageAtEnd ?? []).join(" / ")}.`,
    "",
    "Ratio = figure ÷ ceiling: for throughput the share of the ceiling reached, for latency and time how many times the ceiling's.",
    "",
    "| area | figure | value | ceiling | ratio |",
    "|---|---|---:|---|---:|",
  );
  for (const f of report.figures) {
    const value = `${fmt(f.value)}${f.value2 === undefined ? "" : ` / ${fmt(f.value2)}`} ${f.unit}`;
    const ceiling = f.ceiling === null ? "—" : `${fmt(f.ceiling)} ${f.unit} (${f.ceilingName})`;
    const r = ratio(f);
    lines.push(`| ${f.area} | ${f.figure} | ${value} | ${ceiling} | ${r === null ? "—" : r.toFixed(2)} |`);
  }
  lines.push("", "## Steps", "", "| step | result | seconds |", "|---|---|---:|");
  for (const [name, step] of Object.entries(report.steps)) {
    const file = (step.data as { file?: string } | undefined)?.file;
    lines.push(
      `| ${name} | ${step.ok ? `ok${file ? ` (${file})` : ""}` : `**FAILED**: ${step.error ?? ""}`} | ${step.seconds} |`,
    );
  }
  if (report.chart) lines.push("", `![request latency over time](./${report.chart})`);
  lines.push("");
  return lines.join("\n");
}
