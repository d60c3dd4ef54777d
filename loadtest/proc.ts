// Reads a process's resident memory and CPU time from /proc (Linux), for load and bench reports.
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux build this runs on (getconf CLK_TCK). */
const CLK_TCK = 100;

/** Resident set size in MiB, or undefined when the process is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match?.[1] ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) the process has used so far, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** PIDs of the processes `make start` and `make services` record in <local>/run/<name>.pid, when alive. */
export function runningPids(localDir: string, names: readonly string[]): Record<string, number> {
  const pids: Record<string, number> = {};
  for (const name of names) {
    try {
      const pid = Number(readFileSync(join(localDir, "run", `${name}.pid`), "utf8").trim());
      if (pid > 0 && rssMb(pid) !== undefined) pids[name] = pid;
    } catch {
      // not started by the scripts
    }
  }
  return pids;
}

export interface ProcessUsage {
  name: string;
  pid: number;
  peakRssMb: number;
  /** Share of one core used over the sampled window (1 = a whole core). */
  cpuCores: number;
}

export interface Usage {
  processes: ProcessUsage[];
  /** The 1-minute load average: highest and mean of the samples. */
  loadAverage: { max: number; mean: number };
}

/** Samples RSS and CPU of named processes and the load average on an interval until `stop`. */
export function sampleProcesses(pids: Record<string, number>, intervalMs = 1000): { stop(): Usage } {
  const startCpu = new Map<string, number>();
  const peak = new Map<string, number>();
  // The last CPU reading of each process, so one that exits before `stop` still reports its usage.
  const lastCpu = new Map<string, number>();
  const loads: number[] = [];
  for (const [name, pid] of Object.entries(pids)) startCpu.set(name, cpuSeconds(pid) ?? 0);
  const started = Date.now();
  const sample = () => {
    loads.push(loadavg()[0] ?? 0);
    for (const [name, pid] of Object.entries(pids)) {
      peak.set(name, Math.max(peak.get(name) ?? 0, rssMb(pid) ?? 0));
      const cpu = cpuSeconds(pid);
      if (cpu !== undefined) lastCpu.set(name, cpu);
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      const processes = Object.entries(pids).map(([name, pid]) => ({
        name,
        pid,
        peakRssMb: Math.round(peak.get(name) ?? 0),
        cpuCores: Math.round((((lastCpu.get(name) ?? 0) - (startCpu.get(name) ?? 0)) / seconds) * 100) / 100,
      }));
      const mean = loads.reduce((sum, load) => sum + load, 0) / loads.length;
      return { processes, loadAverage: { max: Math.max(...loads), mean: Math.round(mean * 100) / 100 } };
    },
  };
}
