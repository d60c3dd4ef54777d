import { loadConfigOrExit } from "@sluice/config";
import { onTerminationSignal, Readiness, runShutdown, startHttpServer } from "@sluice/http";
import { createLogger } from "@sluice/logger";
import { createRegistry, startMetricsServer } from "@sluice/metrics";
import { createApp } from "./app";
import { queryEnvSchema } from "./config";

const config = loadConfigOrExit(queryEnvSchema, process.env);
const logger = createLogger({ name: "query", level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
const registry = createRegistry("query");
const readiness = new Readiness();

const app = createApp({ logger, registry, readiness });
const http = await startHttpServer(app.fetch, { port: config.SERVER_PORT, host: config.SERVER_HOST });
const metrics = await startMetricsServer(registry, config.METRICS_PORT, config.SERVER_HOST);
logger.info({ port: http.port, metricsPort: metrics.port }, "query listening");

onTerminationSignal((signal) => {
  logger.info({ signal }, "shutting down");
  void runShutdown(
    [
      { name: "readiness", run: () => readiness.startDraining() },
      { name: "http", run: () => http.close() },
      { name: "metrics", run: () => metrics.close() },
    ],
    config.SHUTDOWN_TIMEOUT_MS,
    logger,
  ).then(() => process.exit(0));
});
