import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readDockerfile } from "./dockerfile";

// hadolint lints the file; the rules the issue sets for the images are also checked on the parsed
// Dockerfile, so they hold whatever hadolint's defaults become.
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LOCAL_HADOLINT = `${ROOT}.local/bin/hadolint`;
const APPS = ["ingest", "worker", "query"] as const;

const dockerfile = readDockerfile(`${ROOT}Dockerfile`);
const { effective, lineage, runs, stage: stageNamed, resolveImage } = dockerfile;

describe("Dockerfile", () => {
  it("passes hadolint (scripts/ensure-hadolint.sh installs it; make test-unit runs that first)", () => {
    const result = spawnSync(existsSync(LOCAL_HADOLINT) ? LOCAL_HADOLINT : "hadolint", ["--no-color", "Dockerfile"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(result.error, "hadolint is missing: run scripts/ensure-hadolint.sh").toBeUndefined();
    expect(`${result.stdout}${result.stderr}`).toBe("");
    expect(result.status).toBe(0);
  });

  it("is multi-stage: the apps' images copy a pnpm deploy output from a build stage", () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(3);
    for (const app of APPS) {
      const copies = stageNamed(app).instructions.filter((i) => i.keyword === "COPY" && i.args.startsWith("--from=build"));
      expect(copies.map((c) => c.args)).toContain(`--from=build /out/${app} /app`);
    }
    const deploy = runs("build").join(" ");
    for (const app of APPS) expect(deploy).toContain(app);
    expect(deploy).toMatch(/pnpm --filter "@sluice\/\$\{app\}" --prod deploy/);
  });

  it("installs from the lockfile only, production dependencies only, with a pinned pnpm", () => {
    const build = runs("build").join("\n");
    const packageJson = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { packageManager: string };
    const pnpmVersion = packageJson.packageManager.replace(/^pnpm@/, "");
    expect(build).toContain(`pnpm@${pnpmVersion}`);
    expect(build).toMatch(/pnpm install [^\n]*--frozen-lockfile/);
    expect(build).toMatch(/pnpm install [^\n]*--prod/);
    expect(build).toMatch(/pnpm fetch --prod/);
  });

  it("pins every base image to an explicit version (no latest, no bare name) and names no registry host", () => {
    for (const stage of dockerfile.stages) {
      if (dockerfile.stages.some((s) => s.name === stage.from)) continue;
      const image = resolveImage(stage.from);
      expect(image).toMatch(/^[a-z0-9._/-]+:[\w.-]+$/);
      expect(image).not.toMatch(/:latest$/);
      const firstPart = image.split("/")[0] ?? "";
      expect(image.includes("/") && /[.:]/.test(firstPart)).toBe(false);
    }
  });

  for (const app of APPS) {
    describe(`target ${app}`, () => {
      it("runs as a non-root user", () => {
        const user = effective(app, "USER");
        expect(user).toBeDefined();
        expect(user?.split(":")[0]).not.toMatch(/^(root|0)$/);
      });

      it("has tini as PID 1 (so SIGTERM reaches Node), installed from Debian at a pinned version", () => {
        expect(JSON.parse(effective(app, "ENTRYPOINT") ?? "null")).toEqual(["/usr/bin/tini", "--"]);
        const installs = lineage(app)
          .flatMap((s) => s.instructions)
          .filter((i) => i.keyword === "RUN")
          .map((i) => i.args)
          .join(" ");
        expect(installs).toMatch(/apt-get install [^&]*--no-install-recommends[^&]*'tini=[\d.]+-[^']*'/);
        expect(installs).toContain("rm -rf /var/lib/apt/lists/*");
      });

      it("starts Node in exec form (the process tini signals is node itself)", () => {
        // With the app's own flags (apps/<app>/node-options), as scripts/apps.sh and the benches give them.
        const flagsFile = `${ROOT}apps/${app}/node-options`;
        const flags = existsSync(flagsFile) ? readFileSync(flagsFile, "utf8").trim().split(/\s+/) : [];
        expect(JSON.parse(effective(app, "CMD") ?? "null")).toEqual(["node", ...flags, "--import", "tsx", "src/main.ts"]);
        // `--import tsx` needs tsx among the production dependencies that `pnpm deploy --prod` keeps.
        const manifest = JSON.parse(readFileSync(`${ROOT}apps/${app}/package.json`, "utf8")) as {
          dependencies: Record<string, string>;
        };
        expect(manifest.dependencies.tsx).toBeDefined();
      });

      it("has a HEALTHCHECK that asks the app's /health with node (no curl in the image)", () => {
        const healthcheck = effective(app, "HEALTHCHECK") ?? "";
        expect(healthcheck).toMatch(/--interval=\d+s/);
        const command = JSON.parse(healthcheck.slice(healthcheck.indexOf("CMD") + 3));
        expect(command).toEqual(["node", "/usr/local/lib/sluice/healthcheck.mjs"]);
        const copied = lineage(app)
          .flatMap((s) => s.instructions)
          .some((i) => i.keyword === "COPY" && i.args === "deploy/docker/healthcheck.mjs /usr/local/lib/sluice/healthcheck.mjs");
        expect(copied).toBe(true);
      });

      it("declares the app's default ports (HTTP, metrics and gRPC where the app serves it) and sets NODE_ENV=production", () => {
        const env = lineage(app)
          .flatMap((s) => s.instructions)
          .filter((i) => i.keyword === "ENV")
          .map((i) => i.args)
          .join(" ");
        expect(env).toContain("NODE_ENV=production");
        const serverPort = /SERVER_PORT=(\d+)/.exec(env)?.[1];
        const metricsPort = /METRICS_PORT=(\d+)/.exec(env)?.[1];
        const grpcPort = /GRPC_PORT=(\d+)/.exec(env)?.[1];
        expect(effective(app, "EXPOSE")?.split(/\s+/)).toEqual([serverPort, metricsPort, grpcPort].filter(Boolean));
        expect(grpcPort).toBe({ ingest: "50051", query: "50052", worker: undefined }[app]);
      });
    });
  }

  it("ships the migrations in the worker image with MIGRATIONS_DIR pointing at them", () => {
    const worker = stageNamed("worker").instructions;
    expect(worker.some((i) => i.keyword === "COPY" && i.args === "clickhouse/migrations /app/migrations")).toBe(true);
    expect(worker.some((i) => i.keyword === "ENV" && i.args.includes("MIGRATIONS_DIR=/app/migrations"))).toBe(true);
  });

  it("caps the worker's heap and keeps its GC on one thread (apps/worker/node-options, in its CMD above)", () => {
    const options = readFileSync(`${ROOT}apps/worker/node-options`, "utf8").trim();
    expect(options).toMatch(/--max-old-space-size=\d+/);
    expect(options).toContain("--single-threaded-gc");
  });

  it("keeps node_modules, .local and .git out of the build context but nothing the Dockerfile copies", () => {
    const ignored = readFileSync(`${ROOT}.dockerignore`, "utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.length > 0 && !line.startsWith("#"));
    expect(ignored).toEqual(expect.arrayContaining(["**/node_modules", ".local", ".git"]));
    const sources = dockerfile.stages
      .flatMap((stage) => stage.instructions)
      .filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from"))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(["pnpm-lock.yaml", "packages", "apps", "clickhouse/migrations"]));
    for (const source of sources) {
      for (const pattern of ignored) {
        const plain = pattern.replace(/^\*\*\//, "");
        expect(source === plain || source.startsWith(`${plain}/`), `${source} is ignored by ${pattern}`).toBe(false);
      }
    }
  });

  it("leaves no package manager in the runtime images", () => {
    const runtime = runs("runtime").join(" ");
    expect(runtime).toContain("rm -rf /usr/local/lib/node_modules/npm");
    expect(runtime).toContain("/usr/local/bin/corepack");
  });
});
