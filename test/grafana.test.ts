import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { dashboardExpressions, exposedNames, labelSelectors, matches, metricNames, samples } from "./promql";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DASHBOARDS = `${ROOT}deploy/grafana/dashboards`;
const readYaml = (path: string) => parse(readFileSync(`${ROOT}${path}`, "utf8"));

describe("metricNames (PromQL)", () => {
  it("finds selectors and skips functions, grouping labels, matchers, ranges and numbers", () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{app="ingest", route=~"/events.*"}[$__rate_interval])))',
      ),
    ).toEqual(["http_request_duration_seconds_bucket"]);
    expect(metricNames("sum(max by (topic, partition) (sluice_worker_consumer_lag))")).toEqual(["sluice_worker_consumer_lag"]);
    expect(metricNames("a_total / on(instance) group_left(app) b_info * 1e3 + c offset 5m")).toEqual(["a_total", "b_info", "c"]);
    expect(metricNames('up{job="x"} == bool 1 or absent(nothing_here)')).toEqual(["up", "nothing_here"]);
  });
});

describe("exposedNames", () => {
  it("expands histograms and reads sample names", () => {
    const names = exposedNames(
      [
        "# HELP h_seconds h",
        "# TYPE h_seconds histogram",
        'h_seconds_bucket{le="0.1"} 1',
        "# TYPE c_total counter",
        "# TYPE g gauge",
        'g{app="x"} 3',
      ].join("\n"),
    );
    expect([...names].sort()).toEqual(["c_total", "g", "h_seconds", "h_seconds_bucket", "h_seconds_count", "h_seconds_sum"]);
  });
});

describe("labelSelectors / samples / matches", () => {
  it("finds literal selectors and matches them against exposition samples as PromQL would", () => {
    const selectors = labelSelectors('rate(h_bucket{app="ingest", route=~"/events.*"}[1m]) + x{a="$var"}');
    expect(selectors).toEqual([
      {
        name: "h_bucket",
        matchers: [
          { label: "app", op: "=", value: "ingest" },
          { label: "route", op: "=~", value: "/events.*" },
        ],
      },
    ]);
    const [sample, other] = samples(
      'h_bucket{le="0.1",route="/events/batch",app="ingest"} 1\nh_bucket{route="/x/events",app="ingest"} 2\n',
    );
    const matchers = selectors[0]?.matchers ?? [];
    expect(sample?.labels).toEqual({ le: "0.1", route: "/events/batch", app: "ingest" });
    expect(matches(sample?.labels ?? {}, matchers)).toBe(true);
    expect(matches(other?.labels ?? {}, matchers)).toBe(false);
    expect(matches({ app: "query" }, [{ label: "app", op: "!=", value: "ingest" }])).toBe(true);
    expect(matches({ app: "query" }, [{ label: "app", op: "!~", value: "q.*" }])).toBe(false);
  });
});

describe("Grafana provisioning", () => {
  const dashboardFiles = readdirSync(DASHBOARDS).filter((f) => f.endsWith(".json"));
  const datasources = readYaml("deploy/grafana/provisioning/datasources/prometheus.yml") as {
    datasources: { uid: string; type: string; url: string }[];
  };

  it("provisions the Prometheus of the compose stack under a fixed uid", () => {
    expect(datasources.datasources).toEqual([
      expect.objectContaining({ uid: "prometheus", type: "prometheus", url: "http://prometheus:9090" }),
    ]);
  });

  it("loads the dashboards from the folder docker-compose.yml mounts", () => {
    const providers = readYaml("deploy/grafana/provisioning/dashboards/sluice.yml") as {
      providers: { type: string; options: { path: string } }[];
    };
    const compose = readFileSync(`${ROOT}docker-compose.yml`, "utf8");
    for (const provider of providers.providers) {
      expect(provider.type).toBe("file");
      expect(compose).toContain(`./deploy/grafana/dashboards:${provider.options.path}:ro`);
    }
    expect(dashboardFiles).toContain("sluice.json");
  });

  for (const file of dashboardFiles) {
    describe(file, () => {
      const dashboard = JSON.parse(readFileSync(`${DASHBOARDS}/${file}`, "utf8")) as {
        uid: string;
        title: string;
        panels: { type: string; title: string; datasource?: { uid?: string }; targets?: { expr?: string }[] }[];
      };
      const expressions = dashboardExpressions(dashboard);

      it("parses, has a stable uid, and every data panel queries the provisioned Prometheus", () => {
        expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
        const dataPanels = dashboard.panels.filter((p) => p.type !== "row");
        expect(dataPanels.length).toBeGreaterThan(0);
        for (const panel of dataPanels) {
          expect(panel.datasource?.uid, panel.title).toBe(datasources.datasources[0]?.uid);
          expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
          for (const target of panel.targets ?? []) expect(target.expr, panel.title).toBeTruthy();
        }
      });

      it("covers what the issue asks for: ingest rate, p99, consumer lag, insert latency, DLQ", () => {
        const all = expressions.map((e) => e.expr).join("\n");
        expect(all).toContain("ingest_events_accepted_total");
        expect(all).toMatch(/histogram_quantile\(0\.99, [^\n]*http_request_duration_seconds_bucket\{app="ingest"/);
        expect(all).toContain("sluice_worker_consumer_lag");
        expect(all).toContain("sluice_worker_insert_duration_seconds_bucket");
        expect(all).toContain("sluice_worker_dead_letters_total");
      });

      it("selects at least one metric in every expression", () => {
        for (const { panel, expr } of expressions) expect(metricNames(expr).length, `${panel}: ${expr}`).toBeGreaterThan(0);
      });
    });
  }
});
