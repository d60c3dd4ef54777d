import { CampaignRegistry } from "@sluice/campaigns";
import { loadConfigOrExit } from "@sluice/config";
import { startGrpcServer } from "@sluice/grpc";
import { onTerminationSignal, Readiness, runShutdown, startHttpServer } from "@sluice/http";
import { createKafka, retryInBackground } from "@sluice/kafka";
import { createLogger } from "@sluice/logger";
import { createRegistry, startMetricsServer } from "@sluice/metrics";
import { createApp, createIngestCore, createIngestFastLane } from "./app";
import { createThreadedBatchReader } from "./batch-reader";
import type { NodeBindings } from "./body";
import { startBrokerProbe } from "./broker-probe";
import { ingestEnvSchema } from "./config";
import { createIngestGrpc } from "./grpc/server";
import { createKafkaPublisher } from "./kafka-publisher";
import { createLaneProducer } from "./lane-producer";

const config = loadConfigOrExit(ingestEnvSchema, process.env);
const logger = createLogger({ name: "ingest", level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
if (config.INGEST_API_KEYS.length === 0) logger.warn("INGEST_API_KEYS is empty: the ingest API accepts unauthenticated requests");
const registry = createRegistry("ingest");
const readiness = new Readiness();

const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID }, logger);
const producers = Array.from({ length: config.PRODUCE_LANES }, () =>
  createLaneProducer({
    brokers: config.KAFKA_BROKERS,
    clientId: config.KAFKA_CLIENT_ID,
    produceTimeoutMs: config.PRODUCE_TIMEOUT_MS,
    logger,
  }),
);
const admin = kafka.admin();
const campaigns = new CampaignRegistry({
  kafka,
  topic: config.KAFKA_CAMPAIGNS_TOPIC,
  logger,
  groupPrefix: "sluice-ingest-campaigns",
});

// The app starts while the broker is down (503s, /ready 503) and connects as soon as it can.
const background = new AbortController();
producers.forEach((producer, lane) => {
  retryInBackground(`producer ${lane}`, () => producer.connect(), { logger, signal: background.signal, initialDelayMs: 250 });
});
retryInBackground("admin", () => admin.connect(), { logger, signal: background.signal, initialDelayMs: 250 });
campaigns.startInBackground({ timeoutMs: config.CAMPAIGNS_READY_TIMEOUT_MS, signal: background.signal });
const probe = startBrokerProbe(admin, config.KAFKA_TOPIC, config.BROKER_PROBE_INTERVAL_MS, logger);
readiness.register("kafka", () => probe.check());
readiness.register("campaigns", () => ({
  ok: campaigns.ready,
  detail: campaigns.ready ? undefined : "catching up with the campaigns topic",
}));
const publisher = createKafkaPublisher({
  producers,
  topic: config.KAFKA_TOPIC,
  batchSize: config.PRODUCE_BATCH_SIZE,
  lingerMs: config.PRODUCE_LINGER_MS,
  maxFlushBytes: config.PRODUCE_MAX_FLUSH_BYTES,
  maxInFlight: config.MAX_IN_FLIGHT,
  timeoutMs: config.PRODUCE_TIMEOUT_MS,
  registry,
  logger,
});

const batchReader = createThreadedBatchReader({
  threads: config.BATCH_READ_THREADS,
  maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS,
  logger,
});

// One core for both faces: the same validation, produce path, counters and rate-limit buckets.
const core = createIngestCore({ registry, config, publisher, campaigns, batchReader });
const appDeps = { logger, registry, readiness, config, publisher, campaigns, core };
const app = createApp(appDeps);
const http = await startHttpServer((request, env) => app.fetch(request, env as NodeBindings), {
  port: config.SERVER_PORT,
  host: config.SERVER_HOST,
  requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
  fastLane: createIngestFastLane(appDeps),
});
const grpc = await startGrpcServer({
  ...createIngestGrpc({ logger, registry, readiness, config, core }),
  port: config.GRPC_PORT,
  host: config.SERVER_HOST,
});
const metrics = await startMetricsServer(registry, config.METRICS_PORT, config.SERVER_HOST);
logger.info({ port: http.port, grpcPort: grpc.port, metricsPort: metrics.port, topic: config.KAFKA_TOPIC }, "ingest listening");

onTerminationSignal((signal) => {
  logger.info({ signal }, "shutting down");
  void runShutdown(
    [
      { name: "readiness", run: () => readiness.startDraining() },
      { name: "http", run: () => Promise.all([http.close(), grpc.close()]).then(() => undefined) },
      { name: "batch reader", run: () => batchReader.close() },
      { name: "publisher", run: () => publisher.close() },
      { name: "background", run: () => background.abort() },
      { name: "campaign registry", run: () => campaigns.stop() },
      { name: "producers", run: () => Promise.all(producers.map((producer) => producer.disconnect())).then(() => undefined) },
      { name: "probe", run: () => probe.stop() },
      { name: "admin", run: () => admin.disconnect() },
      { name: "metrics", run: () => metrics.close() },
    ],
    config.SHUTDOWN_TIMEOUT_MS,
    logger,
  ).then(() => process.exit(0));
});
