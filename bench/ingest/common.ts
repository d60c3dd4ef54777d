// What bench-ingest (run.ts) and its profiler (profile.ts) share: the request bodies, process start and
// stop, and the CPU a server process (and its children) used, read from /proc.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BATCH_SIZE = 100;

function sampleEvent(i: number): Record<string, unknown> {
  return {
    event_name: ["page_view", "signup", "purchase", "add_to_cart"][i % 4],
    user_id: `user-${i % 5000}`,
    timestamp: Date.now(),
    channel: "web",
    session_id: `s-${i % 900}`,
    tags: ["bench", "ingest"],
    metadata: { plan: "pro", seats: i % 10, trial: i % 2 === 0, path: `/pricing/${i % 50}` },
    device: { os: "iOS", os_version: "18.1", browser: "Safari" },
  };
}

/** 1000 one-event bodies and 50 bodies of BATCH_SIZE events, encoded once so the load generator only sends. */
export const singleBodies = Array.from({ length: 1000 }, (_, i) => JSON.stringify(sampleEvent(i)));
export const batchBodies = Array.from({ length: 50 }, (_, b) =>
  JSON.stringify({ events: Array.from({ length: BATCH_SIZE }, (_, i) => sampleEvent(b * BATCH_SIZE + i)) }),
);

/** Resolves once `url` answers below 500; fails if the process exits or 30 s pass. */
export async function waitForPort(child: ChildProcess, url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    const up = await fetch(url).then(
      (res) => res.status < 500,
      () => false,
    );
    if (up) return;
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** SIGTERM, then wait for the exit. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

function childrenOf(pid: number): number[] {
  const file = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
}

/** CPU seconds (user + system) used so far by a process and its direct children (cluster workers). */
export function cpuSeconds(pid: number): number {
  let total = 0;
  for (const p of [pid, ...childrenOf(pid)]) {
    const stat = readFileSync(`/proc/${p}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    total += (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return total;
}

/** A process's peak resident set size so far (VmHWM), in MB. */
export function peakRssMb(pid: number): number {
  const kb = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Math.round(Number(kb ?? 0) / 1024);
}

/** What one load run measured. */
export interface LoadResult {
  requests: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** CPU seconds (user + system) the load generator used. */
  loadGeneratorCpuS: number;
}

const CYCLE_SCRIPT = fileURLToPath(new URL("./cycle-bodies.lua", import.meta.url));

/**
 * POSTs `bodies` in turn to `url` for `durationS` over `connections` keep-alive connections, with wrk on
 * one thread (scripts/ensure-wrk.sh installs it). wrk spends ~15–30 µs of CPU a request where autocannon
 * spent 100–380 µs: on 2 cores, a load generator's CPU is taken from the server it measures.
 */
export async function wrkLoad(
  url: string,
  bodies: readonly string[],
  connections: number,
  durationS: number,
): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-wrk-"));
  const file = join(dir, "bodies.txt");
  writeFileSync(file, `${bodies.join("\n")}\n`);
  try {
    // `times` prints the shell's CPU and then its children's: wrk's own, which node cannot read after its exit.
    // A 10 s timeout (wrk's default is 2 s) keeps slow answers in the latency figures instead of dropping them.
    const command = 'wrk -t1 -c"$1" -d"$2"s --timeout 10s -s "$3" "$4" -- "$5"; status=$?; times; exit $status';
    const args = [String(connections), String(durationS), CYCLE_SCRIPT, url, file];
    const child = spawn("sh", ["-c", command, "wrk-load", ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    const json = /WRK_RESULT (\{.*\})/.exec(out)?.[1];
    if (code !== 0 || json === undefined) throw new Error(`wrk failed (exit ${code}): ${out.trim()}`);
    const figures = JSON.parse(json) as {
      requests: number;
      durationUs: number;
      p50Us: number;
      p99Us: number;
      non2xx: number;
      errors: number;
      timeouts: number;
    };
    const children = out.trim().split("\n").at(-1) ?? "";
    const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
    return {
      requests: figures.requests,
      requestsPerSec: figures.requests / (figures.durationUs / 1e6),
      p50Ms: figures.p50Us / 1000,
      p99Ms: figures.p99Us / 1000,
      non2xx: figures.non2xx,
      errors: figures.errors,
      timeouts: figures.timeouts,
      loadGeneratorCpuS: seconds,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
