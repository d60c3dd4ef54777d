import type { Logger } from "pino";

export interface ShutdownStep {
  name: string;
  run: () => Promise<void> | void;
}

/**
 * Runs shutdown steps in order under a hard deadline; if the deadline passes, the process exits
 * with code 1 so an orchestrator never waits on a stuck drain.
 */
export async function runShutdown(steps: ShutdownStep[], deadlineMs: number, logger: Logger, exit = process.exit): Promise<void> {
  const timer = setTimeout(() => {
    logger.error({ deadlineMs }, "shutdown deadline exceeded; exiting");
    exit(1);
  }, deadlineMs);
  timer.unref();
  for (const step of steps) {
    try {
      await step.run();
      logger.debug({ step: step.name }, "shutdown step done");
    } catch (error) {
      logger.error({ err: error, step: step.name }, "shutdown step failed");
    }
  }
  clearTimeout(timer);
}

/** Calls `onSignal` once on the first SIGTERM or SIGINT. */
export function onTerminationSignal(onSignal: (signal: NodeJS.Signals) => void): void {
  let received = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (received) return;
      received = true;
      onSignal(signal);
    });
  }
}
