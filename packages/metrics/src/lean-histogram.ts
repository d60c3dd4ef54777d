import type { Registry } from "prom-client";

interface Series {
  labels: Record<string, string>;
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
  exemplar?: null;
  sharedLabels?: Record<string, string>;
}

/** What a registry reads from a metric: prom-client's shape for a histogram. */
interface Exposition {
  name: string;
  help: string;
  type: "histogram";
  aggregator: "sum";
  values: Value[];
}

/**
 * A histogram whose label sets are resolved once: `series(labels)` returns the function that observes
 * into that label set, and each observation is then a bucket search and three additions. prom-client's
 * Histogram validates and hashes the labels on every observation, which costs the ingest hot path a
 * few µs a request. Registers on the registries like a prom-client metric, with the same exposition.
 */
export class LeanHistogram<Label extends string> {
  readonly type = "histogram" as const;
  readonly aggregator = "sum" as const;
  private readonly bounds: readonly number[];
  private byKey = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly Label[],
    buckets: readonly number[],
    registers: Registry[],
  ) {
    this.bounds = [...buckets].sort((a, b) => a - b);
    for (const registry of registers) registry.registerMetric(this as never);
  }

  /** The observer of one label set; keep it and call it for each observation. */
  series(labels: Record<Label, string>): (value: number) => void {
    const key = this.labelNames.map((name) => labels[name]).join("\u0000");
    const copy: Record<string, string> = {};
    for (const name of this.labelNames) copy[name] = labels[name];
    const bounds = this.bounds;
    let series: Series | undefined;
    return (value) => {
      if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
      // A reset drops every series, as prom-client's does; the next observation starts it again.
      if (series === undefined || this.byKey.get(key) !== series) {
        series = this.byKey.get(key) ?? { labels: copy, counts: new Array(bounds.length + 1).fill(0), sum: 0, count: 0 };
        this.byKey.set(key, series);
      }
      let i = 0;
      while (i < bounds.length && value > (bounds[i] as number)) i += 1;
      series.counts[i] = (series.counts[i] as number) + 1;
      series.sum += value;
      series.count += 1;
    };
  }

  /** The values in prom-client's exposition form: labels apart from the series' shared labels. */
  getForPromString(): Exposition {
    const values: Value[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const series of this.byKey.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.counts[i] as number;
        values.push({
          labels: { le: bound },
          value: cumulative,
          metricName: bucketName,
          exemplar: null,
          sharedLabels: series.labels,
        });
      });
      values.push({
        labels: { le: "+Inf" },
        value: series.count,
        metricName: bucketName,
        exemplar: null,
        sharedLabels: series.labels,
      });
      values.push({ labels: {}, value: series.sum, metricName: `${this.name}_sum`, sharedLabels: series.labels });
      values.push({ labels: {}, value: series.count, metricName: `${this.name}_count`, sharedLabels: series.labels });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The values with every label on each value, as prom-client's get() gives them (JSON, cluster merges). */
  async get(): Promise<Exposition> {
    const metric = this.getForPromString();
    return {
      ...metric,
      values: metric.values.map(({ sharedLabels, ...value }) => ({ ...value, labels: { ...value.labels, ...sharedLabels } })),
    };
  }

  /** Drops every series, as prom-client's reset() does. */
  reset(): void {
    this.byKey = new Map();
  }
}
