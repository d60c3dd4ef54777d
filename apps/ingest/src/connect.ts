import type { Logger } from "pino";

/**
 * Connects a kafkajs client in the background, retrying with capped backoff, so the app starts (and
 * answers /health, /ready 503 and 503 to events) while the broker is still down.
 */
export function connectInBackground(client: { connect(): Promise<void> }, name: string, logger: Logger): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const attempt = (delayMs: number): void => {
    client.connect().then(
      () => logger.debug({ client: name }, "connected to the broker"),
      (error: unknown) => {
        if (stopped) return;
        logger.warn({ err: error, client: name, retryInMs: delayMs }, "cannot connect to the broker; retrying");
        timer = setTimeout(() => attempt(Math.min(delayMs * 2, 5000)), delayMs);
      },
    );
  };
  attempt(250);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
