import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createTestDatabase,
  createTestTopic,
  eventually,
  freePort,
  services,
  type TestDatabase,
  testKafka,
  uniqueName,
} from "@sluice/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readDockerfile } from "./dockerfile";

// What `docker build` would put in the images, made without a Docker engine: the Dockerfile's build
// stage commands run as written (only the store and output paths moved into a temp folder) on a copy
// of the build context, then each app folder is started with its image's ENV, CMD and HEALTHCHECK,
// and the setup CLIs run with docker-compose.yml's commands, against the shared Kafka and ClickHouse.
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const APPS = ["ingest", "worker", "query"] as const;
type App = (typeof APPS)[number];

const dockerfile = readDockerfile(`${ROOT}Dockerfile`);
const compose = parse(readFileSync(`${ROOT}docker-compose.yml`, "utf8")) as { services: Record<string, { command: string[] }> };
const tmp = mkdtempSync(join(tmpdir(), "sluice-image-"));
const context = join(tmp, "src");
const out = join(tmp, "out");
const pnpmStore = dirname(execFileSync("pnpm", ["store", "path"], { encoding: "utf8" }).trim());

/** Copies like `COPY` under .dockerignore: no node_modules, no test files. */
function copyIntoContext(source: string, destination: string): void {
  cpSync(join(ROOT, source), destination, {
    recursive: true,
    filter: (path) => !path.split("/").includes("node_modules") && !path.endsWith(".test.ts"),
  });
}

/** The image's ENV of one app, with paths under /app moved to the app's folder. */
function imageEnv(app: App): Record<string, string> {
  const env: Record<string, string> = {};
  for (const stage of [...dockerfile.lineage(app)].reverse()) {
    for (const { keyword, args } of stage.instructions) {
      if (keyword !== "ENV") continue;
      // KEY=value pairs, a value in double quotes may hold spaces (KEY="a b").
      for (const [, key = "", quoted, bare = ""] of args.matchAll(/(\w+)=(?:"([^"]*)"|(\S*))/g)) {
        env[key] = (quoted ?? bare).replace(/^\/app(?=\/|$)/, join(out, app));
      }
    }
  }
  return env;
}

/** The HEALTHCHECK command of one app's image, with the copied script's path mapped back to the repo. */
function healthcheck(app: App): string[] {
  const instruction = dockerfile.effective(app, "HEALTHCHECK") ?? "";
  const command = JSON.parse(instruction.slice(instruction.indexOf("CMD") + 3)) as string[];
  const copies = dockerfile.lineage(app).flatMap((s) => s.instructions.filter((i) => i.keyword === "COPY"));
  return command.map((part) => {
    const copy = copies.find((c) => c.args.endsWith(` ${part}`));
    return copy ? join(ROOT, copy.args.split(/\s+/)[0] ?? "") : part;
  });
}

function run(command: string[], cwd: string, env: Record<string, string>, timeoutMs = 60_000): { code: number; output: string } {
  const [bin = "", ...args] = command;
  try {
    const output = execFileSync(bin === "node" ? process.execPath : bin, args, {
      cwd,
      env: { ...process.env, ...env },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs,
    });
    return { code: 0, output };
  } catch (error) {
    const failed = error as { status?: number; stdout?: string; stderr?: string };
    return { code: failed.status ?? -1, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
  }
}

let kafka: ReturnType<typeof testKafka>;
let database: TestDatabase;
let topics: string[] = [];
let settings: Record<string, string>;
const children = new Map<App, { child: ChildProcess; port: number; output: string[] }>();

beforeAll(async () => {
  kafka = testKafka("image-int");
  const [events, dlq, campaigns] = await Promise.all([
    createTestTopic(kafka, "image-events", 2),
    createTestTopic(kafka, "image-dlq", 1),
    createTestTopic(kafka, "image-campaigns", 1),
  ]);
  topics = [events, dlq, campaigns];
  database = await createTestDatabase();
  settings = {
    LOG_LEVEL: "warn",
    SERVER_HOST: "127.0.0.1",
    AUTH_DISABLED: "true",
    KAFKA_BROKERS: services.kafkaBrokers.join(","),
    KAFKA_TOPIC: events,
    KAFKA_DLQ_TOPIC: dlq,
    KAFKA_CAMPAIGNS_TOPIC: campaigns,
    KAFKA_GROUP_ID: uniqueName("image-worker"),
    CLICKHOUSE_URL: services.clickhouseUrl,
    CLICKHOUSE_DATABASE: database.name,
  };
}, 60_000);

afterAll(async () => {
  for (const { child } of children.values()) if (child.exitCode === null) child.kill("SIGKILL");
  await database?.drop();
  if (kafka && topics.length > 0) {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
  rmSync(tmp, { recursive: true, force: true });
}, 30_000);

describe("the images' contents, built and run without Docker", () => {
  it("the build stage's commands give each app a self-contained folder", () => {
    const build = dockerfile.stage("build");
    mkdirSync(context, { recursive: true });
    for (const { keyword, args } of build.instructions) {
      if (keyword !== "COPY") continue;
      const parts = args.split(/\s+/);
      const destination = parts.at(-1) ?? "";
      for (const source of parts.slice(0, -1)) {
        copyIntoContext(source, join(context, destination === "./" ? basename(source) : destination));
      }
    }
    const pnpmVersion = execFileSync("pnpm", ["--version"], { encoding: "utf8" }).trim();
    for (const command of dockerfile.runs("build")) {
      if (command.startsWith("npm install --global pnpm@")) {
        expect(command, "the image's pnpm is the one this machine runs").toBe(`npm install --global pnpm@${pnpmVersion}`);
        continue;
      }
      const script = command
        .replace(/--mount=\S+\s*/g, "")
        .replaceAll("/pnpm-store", pnpmStore)
        .replaceAll("/out/", `${out}/`);
      const result = run(["bash", "-c", script], context, { CI: "true" }, 240_000);
      expect(result.code, result.output.slice(-3000)).toBe(0);
    }
    for (const app of APPS) {
      const modules = join(out, app, "node_modules");
      expect(existsSync(join(out, app, "src/main.ts")), app).toBe(true);
      expect(existsSync(join(modules, "tsx")), app).toBe(true);
      expect(existsSync(join(modules, "@sluice/config/src/index.ts")), app).toBe(true);
      // A production install: none of the app's devDependencies (query has playwright-core).
      const manifest = JSON.parse(readFileSync(`${ROOT}apps/${app}/package.json`, "utf8")) as { devDependencies?: object };
      for (const dev of Object.keys(manifest.devDependencies ?? {}))
        expect(existsSync(join(modules, dev)), `${app}: ${dev}`).toBe(false);
      expect(readdirSync(join(out, app, "src"), { recursive: true }).filter((f) => String(f).endsWith(".test.ts"))).toEqual([]);
    }
    // The app stages' own COPYs from the build context (the worker's migrations).
    for (const app of APPS) {
      for (const { args } of dockerfile
        .stage(app)
        .instructions.filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from"))) {
        const [source = "", destination = ""] = args.split(/\s+/);
        copyIntoContext(source, destination.replace(/^\/app/, join(out, app)));
      }
    }
  }, 300_000);

  it("topics and migrate run from the worker image with docker-compose.yml's commands", () => {
    const worker = join(out, "worker");
    const env = { ...imageEnv("worker"), ...settings, KAFKA_PARTITIONS: "2" };
    const topicsRun = run(compose.services.topics?.command ?? [], worker, env);
    expect(topicsRun.code, topicsRun.output).toBe(0);
    const migrateRun = run(compose.services.migrate?.command ?? [], worker, env);
    expect(migrateRun.code, migrateRun.output).toBe(0);
    expect(migrateRun.output).toMatch(new RegExp(`^applied 1_events.* to ${database.name}$`, "m"));
  }, 120_000);

  it("each app starts with its image's ENV and CMD and passes its HEALTHCHECK", async () => {
    for (const app of APPS) {
      const [port, metricsPort] = [await freePort(), await freePort()];
      const [bin = "", ...args] = JSON.parse(dockerfile.effective(app, "CMD") ?? "[]") as string[];
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...imageEnv(app),
        ...settings,
        SERVER_PORT: String(port),
        METRICS_PORT: String(metricsPort),
        GRPC_PORT: String(await freePort()),
      };
      expect(env.NODE_ENV).toBe("production");
      const child = spawn(bin === "node" ? process.execPath : bin, args, {
        cwd: join(out, app),
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const output: string[] = [];
      child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
      child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
      children.set(app, { child, port, output });
    }
    for (const app of APPS) {
      const { port, output } = children.get(app) ?? { port: 0, output: [] };
      const check = healthcheck(app);
      await eventually(
        async () => (run(check, ROOT, { SERVER_PORT: String(port) }, 10_000).code === 0 ? true : undefined),
        30_000,
        250,
      ).catch((error) => {
        throw new Error(`${app} never passed its HEALTHCHECK: ${String(error)}\n${output.join("").slice(-2000)}`);
      });
      await eventually(async () => ((await fetch(`http://127.0.0.1:${port}/ready`)).ok ? true : undefined), 30_000, 250);
    }
  }, 90_000);

  it("an event goes from ingest through the worker to the query app", async () => {
    const port = (app: App) => children.get(app)?.port ?? 0;
    const response = await fetch(`http://127.0.0.1:${port("ingest")}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ event_name: "image_check", user_id: "u1", timestamp: Date.now() }),
    });
    expect(response.status).toBe(202);
    const { event_id } = (await response.json()) as { event_id: string };
    const stored = await eventually(async () => {
      const found = await fetch(`http://127.0.0.1:${port("query")}/events/${event_id}`);
      return found.ok ? ((await found.json()) as { status: string; event_name: string }) : undefined;
    }, 20_000);
    expect(stored).toMatchObject({ status: "stored", event_name: "image_check" });
  }, 30_000);

  it("SIGTERM stops every app cleanly (exit 0) within SHUTDOWN_TIMEOUT_MS", async () => {
    const exits = await Promise.all(
      APPS.map(async (app) => {
        const { child } = children.get(app) ?? {};
        if (!child) throw new Error(`${app} did not start`);
        const started = Date.now();
        const code = await new Promise<number | null>((resolve) => {
          child.once("exit", (exitCode) => resolve(exitCode));
          child.kill("SIGTERM");
        });
        return { app, code, ms: Date.now() - started };
      }),
    );
    for (const exit of exits) {
      expect(exit.code, exit.app).toBe(0);
      expect(exit.ms, exit.app).toBeLessThan(10_000);
    }
  }, 20_000);
});
