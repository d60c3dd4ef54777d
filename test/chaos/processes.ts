import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** One of the apps running as a child process, as in production (`node --import tsx apps/<app>/src/main.ts`). */
export interface AppProcess {
  name: string;
  child: ChildProcess;
  url: string;
  /** Resolves with the exit code (null when killed by a signal) and when it happened. */
  exited: Promise<{ code: number | null; at: number }>;
}

/** Starts an app's entry point with `env` on top of this process's environment; output goes to `logFile`. */
export function spawnApp(app: "ingest" | "worker", port: number, env: Record<string, string>, logFile: string): AppProcess {
  const child = spawn(process.execPath, ["--import", "tsx", `apps/${app}/src/main.ts`], {
    cwd: REPO,
    env: { ...process.env, ...env, SERVER_HOST: "127.0.0.1", SERVER_PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = createWriteStream(logFile, { flags: "a" });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once("exit", (code) => resolve({ code, at: Date.now() })),
  );
  return { name: app, child, url: `http://127.0.0.1:${port}`, exited };
}

/** The app's /ready answer: its status and body, or why there was none. */
export async function readiness(app: AppProcess): Promise<{ ready: boolean; report: string }> {
  try {
    const res = await fetch(`${app.url}/ready`, { signal: AbortSignal.timeout(2000) });
    return { ready: res.status === 200, report: `${res.status} ${await res.text()}` };
  } catch (error) {
    return { ready: false, report: error instanceof Error ? error.message : String(error) };
  }
}

/** Whether the app answers /ready with 200. */
export async function isReady(app: AppProcess): Promise<boolean> {
  return (await readiness(app)).ready;
}

/** Whether the process has exited. */
export function gone(app: AppProcess): boolean {
  return app.child.exitCode !== null || app.child.signalCode !== null;
}

/**
 * Starts an app on a free port and waits until it serves HTTP (/health). Another process on this busy
 * machine may grab the port between `freePort()` and `listen`, so an app that exits early is started
 * again on a new port.
 */
export async function launch(start: (port: number) => AppProcess, freePort: () => Promise<number>): Promise<AppProcess> {
  for (let attempt = 1; ; attempt++) {
    const app = start(await freePort());
    const healthy = async () => {
      if (gone(app)) throw new Error(`${app.name} exited with ${app.child.exitCode ?? app.child.signalCode}`);
      const res = await fetch(`${app.url}/health`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return res?.status === 200;
    };
    try {
      await waitFor(`${app.name} serving /health`, healthy, 60_000, 100, true);
      return app;
    } catch (error) {
      if (attempt >= 3 || !gone(app)) throw error;
    }
  }
}

/**
 * Polls `probe` every `intervalMs` until it is true; returns when, or throws after `timeoutMs`. With
 * `rethrow`, an error thrown by the probe ends the wait at once instead of counting as "not yet".
 */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
  rethrow = false,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch((error) => (rethrow ? Promise.reject(error) : false))) return Date.now();
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Sends `signal` unless the process is gone, and waits for it to exit. */
export async function stopApp(app: AppProcess, signal: NodeJS.Signals): Promise<{ code: number | null; at: number }> {
  if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill(signal);
  return app.exited;
}
