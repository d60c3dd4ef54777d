import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Counter, Histogram, LATENCY_BUCKETS, type Registry } from "@sluice/metrics";
import type { Logger } from "pino";

export interface ObserveOptions {
  registry: Registry;
  logger: Logger;
  /** Share of successful calls logged at info (all of them at debug); failures are always logged. */
  accessLogSampleRate: number;
}

/**
 * Counts every call by service, method and status code (`grpc_server_handled_total`), times it
 * (`grpc_server_handling_seconds`; for streams, until the response starts) and writes the access log.
 * Must be the outermost interceptor so it sees the status the client gets.
 */
export function observeInterceptor(options: ObserveOptions): Interceptor {
  const { logger } = options;
  const handled = new Counter({
    name: "grpc_server_handled_total",
    help: "gRPC calls completed, by service, method and status code",
    labelNames: ["grpc_service", "grpc_method", "grpc_code"] as const,
    registers: [options.registry],
  });
  const duration = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Time to answer a gRPC call (for streams, until the response starts)",
    labelNames: ["grpc_service", "grpc_method"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [options.registry],
  });
  return (next) => async (req) => {
    const started = performance.now();
    const labels = { grpc_service: req.service.typeName, grpc_method: req.method.name };
    let code = Code[Code.Unknown];
    try {
      const res = await next(req);
      code = "OK";
      return res;
    } catch (error) {
      code = Code[error instanceof ConnectError ? error.code : Code.Unknown];
      throw error;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      handled.inc({ ...labels, grpc_code: code });
      duration.observe(labels, seconds);
      const level = code === "OK" ? (Math.random() < options.accessLogSampleRate ? "info" : "debug") : "info";
      if (logger.isLevelEnabled(level)) {
        logger[level](
          { procedure: `${labels.grpc_service}/${labels.grpc_method}`, code, ms: Math.round(seconds * 100_000) / 100 },
          "rpc",
        );
      }
    }
  };
}
