import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ingestEnvSchema } from "../apps/ingest/src/config";
import { queryEnvSchema } from "../apps/query/src/config";
import { workerEnvSchema } from "../apps/worker/src/config";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LOCAL_COMPOSE = `${ROOT}.local/bin/docker-compose`;
const PROFILES = [[], ["observability"], ["test"]] as const;
const INTERPOLATED = new Set(
  [...readFileSync(`${ROOT}docker-compose.yml`, "utf8").matchAll(/\$\{(\w+)/g)].map(([, name]) => name ?? ""),
);

/** `docker compose` when the plugin exists, else the binary scripts/ensure-compose.sh built. */
function compose(args: string[], env: Record<string, string> = {}): string {
  // --env-file /dev/null: a developer's own .env must not change what is tested either.
  const withEnv = ["--env-file", "/dev/null", ...args];
  const command = existsSync(LOCAL_COMPOSE) ? [LOCAL_COMPOSE, ...withEnv] : ["docker", "compose", ...withEnv];
  const [bin, ...rest] = command as [string, ...string[]];
  // The file's own defaults are under test, so the caller's values of the variables it reads must not leak in.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !INTERPOLATED.has(key)));
  return execFileSync(bin, rest, { cwd: ROOT, encoding: "utf8", env: { ...clean, ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

interface Service {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[];
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  ports?: { published?: string; target: number; host_ip?: string }[];
  healthcheck?: { test?: string[]; disable?: boolean };
  deploy?: { replicas?: number; resources?: { limits?: { cpus?: number; memory?: string } } };
  volumes?: { type: string; source: string; target: string }[];
  working_dir?: string;
}

function config(profiles: readonly string[] = [], env: Record<string, string> = {}): { services: Record<string, Service> } {
  return JSON.parse(compose([...profiles.flatMap((p) => ["--profile", p]), "config", "--format", "json"], env));
}

const all = config(["observability", "test"]);
const service = (name: string, from = all) => {
  const found = from.services[name];
  if (!found) throw new Error(`no service ${name}`);
  return found;
};

describe("docker-compose.yml", () => {
  for (const profiles of PROFILES) {
    it(`parses: docker compose ${profiles.map((p) => `--profile ${p} `).join("")}config -q`, () => {
      expect(() => compose([...profiles.flatMap((p) => ["--profile", p]), "config", "-q"])).not.toThrow();
    });
  }

  it("runs the pipeline by default and keeps Prometheus, Grafana and k6 behind their profiles", () => {
    const pipeline = ["redpanda", "console", "topics", "clickhouse", "migrate", "ingest", "ingest-lb", "worker", "query"];
    expect(Object.keys(config().services).sort()).toEqual([...pipeline].sort());
    expect(Object.keys(config(["observability"]).services).sort()).toEqual([...pipeline, "prometheus", "grafana"].sort());
    expect(Object.keys(config(["test"]).services).sort()).toEqual([...pipeline, "k6"].sort());
  });

  it("starts the apps only once their dependencies are healthy and the one-shot setup has finished", () => {
    const dependsOn = (name: string) =>
      Object.fromEntries(Object.entries(service(name).depends_on ?? {}).map(([dep, { condition }]) => [dep, condition]));
    expect(dependsOn("topics")).toEqual({ redpanda: "service_healthy" });
    expect(dependsOn("migrate")).toEqual({ clickhouse: "service_healthy" });
    expect(dependsOn("ingest")).toEqual({ redpanda: "service_healthy", topics: "service_completed_successfully" });
    const full = {
      redpanda: "service_healthy",
      clickhouse: "service_healthy",
      topics: "service_completed_successfully",
      migrate: "service_completed_successfully",
    };
    expect(dependsOn("worker")).toEqual(full);
    expect(dependsOn("query")).toEqual(full);
    expect(dependsOn("ingest-lb")).toEqual({ ingest: "service_healthy" });
    expect(dependsOn("k6")).toEqual({ "ingest-lb": "service_healthy", worker: "service_healthy", query: "service_healthy" });
    expect(dependsOn("grafana")).toEqual({ prometheus: "service_healthy" });
    for (const name of Object.values(all.services).flatMap((s) => Object.keys(s.depends_on ?? {}))) {
      const dep = service(name);
      const oneShot = ["topics", "migrate"].includes(name);
      // The app images bring their own HEALTHCHECK; every other awaited service declares one here.
      if (!oneShot && !dep.build) expect(dep.healthcheck?.test, name).toBeDefined();
    }
  });

  it("builds each app from its Dockerfile target; topics and migrate reuse the worker image", () => {
    for (const app of ["ingest", "worker", "query"]) {
      expect(service(app).build?.target).toBe(app);
      expect(service(app).image).toBe(`sluice/${app}:local`);
    }
    for (const setup of ["topics", "migrate"]) {
      expect(service(setup).build?.target).toBe("worker");
      expect(service(setup).image).toBe(service("worker").image);
      // The worker image's HEALTHCHECK asks the worker app, which a one-shot never starts.
      expect(service(setup).healthcheck).toEqual({ disable: true });
    }
    const cli = (name: string) => service(name).command?.at(-1) ?? "";
    expect(cli("topics")).toBe("node_modules/@sluice/kafka/src/cli/ensure-topics.ts");
    expect(cli("migrate")).toBe("node_modules/@sluice/clickhouse/src/cli/migrate.ts");
    // `pnpm deploy --prod` puts the worker's production dependencies, these two packages among them, in
    // the image's node_modules, so the CLIs exist at those paths.
    const worker = JSON.parse(readFileSync(`${ROOT}apps/worker/package.json`, "utf8")) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(worker.dependencies)).toEqual(expect.arrayContaining(["@sluice/kafka", "@sluice/clickhouse"]));
    expect(existsSync(`${ROOT}packages/kafka/src/cli/ensure-topics.ts`)).toBe(true);
    expect(existsSync(`${ROOT}packages/clickhouse/src/cli/migrate.ts`)).toBe(true);
  });

  it("pins every third-party image to a version and names no registry host", () => {
    const images = Object.values(all.services)
      .filter((s) => !s.build)
      .map((s) => s.image ?? "");
    expect(images).toEqual(expect.arrayContaining(["clickhouse/clickhouse-server:25.8", "grafana/k6:1.8.1"]));
    for (const image of images) {
      expect(image).toMatch(/^[a-z0-9._/-]+:v?\d[\w.-]*$/);
      // A first path part with a dot or a port would be a registry host (nginx:1.28-alpine has no path).
      if (image.includes("/")) expect(image.split("/")[0]).not.toMatch(/[.:]/);
    }
    const k6Version = /^VERSION=v(.+)$/m.exec(readFileSync(`${ROOT}scripts/ensure-k6.sh`, "utf8"))?.[1];
    expect(service("k6").image).toBe(`grafana/k6:${k6Version}`);
  });

  it("scales horizontally: replicas as settings, no host port on ingest or worker, ingest behind the load balancer", () => {
    expect(service("ingest").ports ?? []).toEqual([]);
    expect(service("worker").ports ?? []).toEqual([]);
    expect(service("ingest-lb").ports).toEqual([
      expect.objectContaining({ published: "8080", target: 8080 }),
      expect.objectContaining({ published: "50051", target: 50051 }),
    ]);
    expect(service("query").ports).toEqual([
      expect.objectContaining({ published: "8081", target: 8081 }),
      expect.objectContaining({ published: "50052", target: 50052 }),
    ]);
    expect(service("ingest").deploy?.replicas).toBe(1);
    const scaled = config([], { INGEST_REPLICAS: "3", WORKER_REPLICAS: "6" });
    expect(service("ingest", scaled).deploy?.replicas).toBe(3);
    expect(service("worker", scaled).deploy?.replicas).toBe(6);
    // One Node process uses about one core: each replica is capped so that sizing by replica count holds.
    for (const app of ["ingest", "worker", "query"]) expect(service(app).deploy?.resources?.limits?.cpus, app).toBe(1);
    expect(service("worker", config([], { WORKER_MEMORY: "3G" })).deploy?.resources?.limits?.memory).toBe(String(3 * 1024 ** 3));
    const lb = readFileSync(`${ROOT}deploy/nginx/ingest-lb.conf`, "utf8");
    expect(lb).toMatch(/resolver 127\.0\.0\.11/);
    expect(lb).toContain("http://ingest:8080");
    expect(lb).toContain("grpc://ingest:50051");
  });

  it("takes partitions and retention as settings of the topics service", () => {
    expect(service("topics").environment).toMatchObject({ KAFKA_PARTITIONS: "6", KAFKA_RETENTION_MS: "604800000" });
    const custom = config([], { KAFKA_PARTITIONS: "24", KAFKA_RETENTION_MS: "86400000" });
    expect(service("topics", custom).environment).toMatchObject({ KAFKA_PARTITIONS: "24", KAFKA_RETENTION_MS: "86400000" });
  });

  it("gives every app a configuration its schema accepts, with the broker and ClickHouse of the stack", () => {
    const schemas = { ingest: ingestEnvSchema, worker: workerEnvSchema, query: queryEnvSchema };
    for (const [app, schema] of Object.entries(schemas)) {
      const env = Object.fromEntries(Object.entries(service(app).environment ?? {}).map(([k, v]) => [k, v ?? ""]));
      const parsed = schema.safeParse(env);
      expect(parsed.error?.issues ?? [], app).toEqual([]);
      expect(env.NODE_ENV).toBe("production");
      expect(env.KAFKA_BROKERS).toBe("redpanda:9092");
    }
    expect(service("worker").environment?.CLICKHOUSE_URL).toBe("http://clickhouse:8123");
  });

  it("mounts only files that exist", () => {
    for (const [name, s] of Object.entries(all.services)) {
      for (const volume of s.volumes ?? []) {
        if (volume.type === "bind") expect(existsSync(volume.source), `${name}: ${volume.source}`).toBe(true);
      }
    }
  });

  it("runs loadtest/script.js in k6 against the load balancer and the query app", () => {
    const k6 = service("k6");
    expect(k6.command).toEqual(["run", "script.js"]);
    expect(k6.volumes?.[0]).toMatchObject({ source: `${ROOT}loadtest`, target: k6.working_dir });
    expect(existsSync(`${ROOT}loadtest/script.js`)).toBe(true);
    expect(k6.environment).toMatchObject({ INGEST_URL: "http://ingest-lb:8080", QUERY_URL: "http://query:8081" });
  });
});

describe("deploy/prometheus/prometheus.yml", () => {
  const prometheus = parse(readFileSync(`${ROOT}deploy/prometheus/prometheus.yml`, "utf8")) as {
    scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; type: string; port: number }[] }[];
  };

  it("scrapes every replica of every app on the app's METRICS_PORT", () => {
    const metricsPorts = {
      ingest: ingestEnvSchema.parse({}).METRICS_PORT,
      worker: workerEnvSchema.parse({}).METRICS_PORT,
      query: queryEnvSchema.parse({}).METRICS_PORT,
    };
    for (const [app, port] of Object.entries(metricsPorts)) {
      const job = prometheus.scrape_configs.find((j) => j.job_name === app);
      expect(job?.dns_sd_configs, app).toEqual([expect.objectContaining({ names: [app], type: "A", port })]);
      expect(service(app).environment?.METRICS_PORT ?? String(port)).toBe(String(port));
    }
  });
});
