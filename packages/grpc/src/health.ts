import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type { Readiness } from "@sluice/http";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@sluice/proto/health";

export interface HealthOptions {
  readiness: Readiness;
  /** Fully-qualified services the server serves; "" (the server as a whole) is always known. */
  services: readonly string[];
  /** How often Watch re-checks readiness. */
  watchIntervalMs?: number;
}

/**
 * Serves grpc.health.v1.Health from the app's readiness: SERVING while every readiness check passes,
 * NOT_SERVING otherwise (a broker or ClickHouse outage, or shutting down). Check answers NOT_FOUND for an
 * unknown service. Watch sends the status at once and on every change; it ends (OK) once the app
 * drains, so clients re-attach to another instance.
 */
export function registerHealth(router: ConnectRouter, options: HealthOptions): void {
  const known = new Set(["", ...options.services]);
  const interval = options.watchIntervalMs ?? 1000;
  const status = async () => ((await options.readiness.report()).ready ? Status.SERVING : Status.NOT_SERVING);
  router.service(Health, {
    async check(req) {
      if (!known.has(req.service)) throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
      return { status: await status() };
    },
    async *watch(req, context) {
      let last: Status | undefined;
      while (!context.signal.aborted) {
        const current = known.has(req.service) ? await status() : Status.SERVICE_UNKNOWN;
        if (current !== last) yield { status: current };
        last = current;
        if (options.readiness.isDraining) return;
        await sleep(interval, undefined, { signal: context.signal }).catch(() => undefined);
      }
    },
  });
}
