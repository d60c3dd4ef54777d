import type { Logger } from "pino";

/**
 * Runs `task` until it succeeds or `signal` aborts, waiting between attempts (doubling up to
 * `maxDelayMs`), so an app starts and answers /health and /ready 503 while the broker is still down.
 */
export function retryInBackground(
  name: string,
  task: () => Promise<void>,
  options: { logger: Logger; signal: AbortSignal; initialDelayMs?: number; maxDelayMs?: number },
): void {
  let delay = options.initialDelayMs ?? 500;
  const attempt = async (): Promise<void> => {
    while (!options.signal.aborted) {
      try {
        await task();
        return;
      } catch (error) {
        if (options.signal.aborted) return;
        options.logger.warn({ err: error, retryInMs: delay }, `${name} failed to start; retrying`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, options.maxDelayMs ?? 10_000);
      }
    }
  };
  void attempt();
}
