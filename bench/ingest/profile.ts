// `pnpm exec tsx bench/ingest/profile.ts [single|batch|bare|no-broker] [seconds]`: one bench-ingest case
// under `node --cpu-prof`, then the CPU each process used per request (app, Kafka, load generator; the
// app's split into user/system and threads) and where the app's CPU went during the load (self time by
// module and by function). `no-broker` is the ingest HTTP app with a publisher that acknowledges at once.
// PROFILE=0 skips the profiler; KEEP_PROFILE=1 keeps the .cpuprofile (for Chrome DevTools); APP_ROOT runs the app of another checkout (say, a `git archive` of an
// older commit with its own node_modules links) to compare before and after.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestTopic, freePort, testKafka } from "@sluice/testing";
import { appNodeFlags } from "../node-flags";
import { BATCH_SIZE, batchBodies, cpuSeconds, peakRssMb, singleBodies, stop, waitForPort, wrkLoad } from "./common";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MODES = ["single", "batch", "bare", "no-broker"] as const;
const mode = MODES.find((m) => m === process.argv[2]) ?? "single";
const seconds = Number(process.argv[3] ?? 8);
const profiling = process.env.PROFILE !== "0";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function moduleOf(url: string, functionName: string): string {
  if (url === "") return `(${functionName})`;
  const pkg = /node_modules\/\.pnpm\/([^/]+)\//.exec(url)?.[1];
  if (pkg !== undefined) return pkg.replace(/@[\d.]+(_.*)?$/, "");
  return url.replace(/^file:\/\/.*?\/(apps|packages|bench)\//, "$1/");
}

/** Self time by module and by function, over the samples of the load only (the profile also covers start-up). */
function report(profile: Profile): void {
  const times: number[] = [];
  let t = 0;
  for (const delta of profile.timeDeltas) {
    t += delta;
    times.push(t);
  }
  const end = t - 300_000;
  const start = end - (seconds - 0.6) * 1_000_000;
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    const at = times[i] ?? 0;
    if (at >= start && at <= end) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  for (const node of profile.nodes) {
    const time = self.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || "(anonymous)"} ${url.split("/").slice(-2).join("/")}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + time);
    const module = moduleOf(url, functionName);
    byModule.set(module, (byModule.get(module) ?? 0) + time);
  }
  for (const [title, map, n] of [
    ["self time by module", byModule, 25],
    ["self time by function", byFunction, 40],
  ] as const) {
    process.stdout.write(`\n${title}\n`);
    for (const [key, time] of [...map.entries()].sort((x, y) => y[1] - x[1]).slice(0, n)) {
      process.stdout.write(`${((time / total) * 100).toFixed(1).padStart(5)}%  ${key}\n`);
    }
  }
}

/** User and system CPU seconds per thread name of one process. */
function threads(pid: number): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const [user, system] = out.get(name) ?? [0, 0];
    out.set(name, [user + Number(fields[11]) / 100, system + Number(fields[12]) / 100]);
  }
  return out;
}

const kafka = testKafka("sluice-profile");
const topic = await createTestTopic(kafka, "profile-ingest", 6);
const dir = mkdtempSync(join(tmpdir(), "sluice-profile-"));
const port = await freePort();
const appRoot = process.env.APP_ROOT ?? ROOT;
const script = {
  single: ["apps/ingest/src/main.ts"],
  batch: ["apps/ingest/src/main.ts"],
  bare: [join(ROOT, "bench/ingest/bare-server.ts"), String(port)],
  "no-broker": [join(ROOT, "bench/ingest/no-broker-server.ts"), String(port)],
}[mode];
const flags = profiling ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
const appFlags = mode === "bare" ? [] : appNodeFlags(appRoot);
const child = spawn(process.execPath, [...appFlags, ...flags, "--import", "tsx", ...script], {
  cwd: appRoot,
  stdio: ["ignore", "ignore", "inherit"],
  env: {
    ...process.env,
    NODE_ENV: "development",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    SERVER_HOST: "127.0.0.1",
    SERVER_PORT: String(port),
    METRICS_PORT: String(await freePort()),
    GRPC_PORT: String(await freePort()),
    KAFKA_TOPIC: topic,
  },
});
try {
  await waitForPort(child, `http://127.0.0.1:${port}/health`);
  const pid = child.pid as number;
  const kafkaPidFile = join(ROOT, ".local/run/kafka.pid");
  const kafkaPid = existsSync(kafkaPidFile) ? Number(readFileSync(kafkaPidFile, "utf8").trim()) : undefined;
  const before = {
    app: cpuSeconds(pid),
    threads: threads(pid),
    kafka: kafkaPid ? cpuSeconds(kafkaPid) : 0,
  };
  const bodies = mode === "batch" ? batchBodies : singleBodies;
  const result = await wrkLoad(
    `http://127.0.0.1:${port}${mode === "batch" ? "/events/batch" : "/events"}`,
    bodies,
    mode === "batch" ? 32 : 50,
    seconds,
  );
  const requests = Math.max(1, result.requests);
  const us = (cpu: number) => `${((cpu * 1e6) / requests).toFixed(0)} µs`;
  const perEvent = mode === "batch" ? BATCH_SIZE : 1;
  process.stdout.write(
    `${mode}: ${Math.round(result.requestsPerSec)} req/s (${Math.round(result.requestsPerSec * perEvent)} events/s), ` +
      `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, non-2xx ${result.non2xx}\n` +
      `CPU per request: app ${us(cpuSeconds(pid) - before.app)}, Kafka ${us(kafkaPid ? cpuSeconds(kafkaPid) - before.kafka : 0)}, ` +
      `load generator ${us(result.loadGeneratorCpuS)}; app peak RSS ${peakRssMb(pid)} MB\n`,
  );
  const after = threads(pid);
  const rows = [...after.entries()]
    .map(([name, [user, system]]) => {
      const [u0, s0] = before.threads.get(name) ?? [0, 0];
      return { name, user: user - u0, system: system - s0 };
    })
    .filter((row) => row.user + row.system > 0)
    .map((row) => `${row.name} ${us(row.user)} user + ${us(row.system)} system`);
  process.stdout.write(`app threads: ${rows.join(", ")}\n`);
} finally {
  await stop(child);
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
}
const file = readdirSync(dir).find((name) => name.endsWith(".cpuprofile"));
if (file !== undefined) report(JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile);
else if (profiling) process.stdout.write("no profile was written\n");
if (process.env.KEEP_PROFILE === "1") process.stdout.write(`profile kept in ${dir}\n`);
else rmSync(dir, { recursive: true, force: true });
