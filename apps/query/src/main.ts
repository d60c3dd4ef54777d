import { CampaignRegistry, createCampaignProducer, createCampaignPublisher } from "@sluice/campaigns";
import { createClickHouse } from "@sluice/clickhouse";
import { clickhouseUrl, loadConfigOrExit } from "@sluice/config";
import { startGrpcServer } from "@sluice/grpc";
import { onTerminationSignal, Readiness, runShutdown, startHttpServer } from "@sluice/http";
import { createKafka, retryInBackground } from "@sluice/kafka";
import { createLogger } from "@sluice/logger";
import { createRegistry, startMetricsServer } from "@sluice/metrics";
import { createApp } from "./app";
import { queryEnvSchema } from "./config";
import { createQueryGrpc } from "./grpc/server";
import { createMetricsCache } from "./services/metrics-cache";

const config = loadConfigOrExit(queryEnvSchema, process.env);
const logger = createLogger({ name: "query", level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
const registry = createRegistry("query");
const readiness = new Readiness();
if (config.QUERY_API_KEYS.length === 0 && config.QUERY_ADMIN_API_KEYS.length === 0) {
  logger.warn(
    { authDisabled: config.AUTH_DISABLED },
    "QUERY_API_KEYS and QUERY_ADMIN_API_KEYS are empty: the query API answers without a key",
  );
}

const db = createClickHouse({
  url: clickhouseUrl(config),
  database: config.CLICKHOUSE_DATABASE,
  username: config.CLICKHOUSE_USERNAME,
  password: config.CLICKHOUSE_PASSWORD,
  requestTimeoutMs: config.CLICKHOUSE_REQUEST_TIMEOUT_MS,
});
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-query` }, logger);
const producer = createCampaignProducer(kafka);
const campaigns = new CampaignRegistry({
  kafka,
  topic: config.KAFKA_CAMPAIGNS_TOPIC,
  logger,
  groupPrefix: "sluice-query-campaigns",
});

readiness.register("clickhouse", async () => ({ ok: await db.ping() }));
readiness.register("campaigns", () => ({
  ok: campaigns.ready,
  detail: campaigns.ready ? undefined : "catching up with the campaigns topic",
}));

// Kafka only backs the campaign routes: metrics and search serve while it is still connecting.
const background = new AbortController();
retryInBackground("campaigns producer", () => producer.connect(), { logger, signal: background.signal });
campaigns.startInBackground({ timeoutMs: config.CAMPAIGNS_READY_TIMEOUT_MS, signal: background.signal });

// One cache for HTTP and gRPC: both answer the same GetMetrics.
const metricsCache =
  config.METRICS_CACHE_MAX_GROUPS > 0 ? createMetricsCache({ maxGroups: config.METRICS_CACHE_MAX_GROUPS, registry }) : undefined;
const app = createApp({
  logger,
  registry,
  readiness,
  db,
  campaigns,
  publisher: createCampaignPublisher(producer, config.KAFKA_CAMPAIGNS_TOPIC),
  apiKeys: config.AUTH_DISABLED ? [] : config.QUERY_API_KEYS,
  adminApiKeys: config.AUTH_DISABLED ? [] : config.QUERY_ADMIN_API_KEYS,
  metricsCache,
});
const http = await startHttpServer((request) => app.fetch(request), {
  port: config.SERVER_PORT,
  host: config.SERVER_HOST,
  requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
});
// QueryService only reads, so read-only and admin keys both may call it.
const grpc = await startGrpcServer({
  ...createQueryGrpc({
    logger,
    registry,
    readiness,
    db,
    apiKeys: config.AUTH_DISABLED ? [] : [...config.QUERY_API_KEYS, ...config.QUERY_ADMIN_API_KEYS],
    metricsCache,
  }),
  port: config.GRPC_PORT,
  host: config.SERVER_HOST,
});
const metrics = await startMetricsServer(registry, config.METRICS_PORT, config.SERVER_HOST);
logger.info({ port: http.port, grpcPort: grpc.port, metricsPort: metrics.port }, "query listening");

onTerminationSignal((signal) => {
  logger.info({ signal }, "shutting down");
  void runShutdown(
    [
      { name: "readiness", run: () => readiness.startDraining() },
      { name: "http", run: () => Promise.all([http.close(), grpc.close()]).then(() => undefined) },
      { name: "background", run: () => background.abort() },
      { name: "campaign registry", run: () => campaigns.stop() },
      { name: "producer", run: () => producer.disconnect() },
      { name: "clickhouse", run: () => db.close() },
      { name: "metrics", run: () => metrics.close() },
    ],
    config.SHUTDOWN_TIMEOUT_MS,
    logger,
  ).then(() => process.exit(0));
});
