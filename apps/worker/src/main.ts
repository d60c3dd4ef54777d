import { createClickHouse, createTabSeparatedInserter, EVENT_COLUMNS } from "@sluice/clickhouse";
import { clickhouseUrl, loadConfigOrExit } from "@sluice/config";
import { onTerminationSignal, Readiness, runShutdown, startHttpServer } from "@sluice/http";
import { createKafka } from "@sluice/kafka";
import { createLogger } from "@sluice/logger";
import { createRegistry, startMetricsServer } from "@sluice/metrics";
import { Partitioners } from "kafkajs";
import { createApp } from "./app";
import { workerEnvSchema } from "./config";
import { createEventConsumer } from "./consumer";
import { createDeadLetterWriter } from "./dead-letters";
import { insertBody } from "./decode";
import { createWorkerMetrics } from "./metrics";
import { registerWorkerReadiness } from "./readiness";
import { createViewRepair } from "./repair";
import { createMessageReader } from "./reread";
import { createSink } from "./sink";
import { createViewStore, VIEWS } from "./views";

const config = loadConfigOrExit(workerEnvSchema, process.env);
const logger = createLogger({ name: "worker", level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
const registry = createRegistry("worker");
const metrics = createWorkerMetrics(registry);
const readiness = new Readiness();
const hardStop = new AbortController();

const clickhouseSettings = {
  url: clickhouseUrl(config),
  database: config.CLICKHOUSE_DATABASE,
  username: config.CLICKHOUSE_USERNAME,
  password: config.CLICKHOUSE_PASSWORD,
  requestTimeoutMs: config.CLICKHOUSE_TIMEOUT_MS,
};
const db = createClickHouse(clickhouseSettings);
const inserter = createTabSeparatedInserter(clickhouseSettings);
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID }, logger);
const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();

const backoff = { initialMs: config.RETRY_INITIAL_MS, maxMs: config.RETRY_MAX_MS };
/** One read-back of rejected rows' messages (connect, group join, fetches); the sink tries a few times. */
const REREAD_TIMEOUT_MS = 30_000;
const sink = createSink({
  db,
  insertRows: (rows) => inserter.insert("events", EVENT_COLUMNS, insertBody(rows)),
  deadLetters: createDeadLetterWriter({ db, producer, dlqTopic: config.KAFKA_DLQ_TOPIC }),
  reread: createMessageReader(kafka, { groupPrefix: config.KAFKA_GROUP_ID, timeoutMs: REREAD_TIMEOUT_MS }),
  views: createViewRepair({ store: createViewStore(db), views: VIEWS, logger, metrics, signal: hardStop.signal }),
  logger,
  metrics,
  backoff,
  dedupWindow: config.DEDUP_WINDOW_PER_PARTITION,
  signal: hardStop.signal,
});
const consumer = createEventConsumer({
  kafka,
  sink,
  logger,
  metrics,
  topic: config.KAFKA_TOPIC,
  groupId: config.KAFKA_GROUP_ID,
  sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
  heartbeatIntervalMs: config.KAFKA_HEARTBEAT_INTERVAL_MS,
  batch: {
    maxRows: config.BATCH_MAX_ROWS,
    maxBytes: config.BATCH_MAX_BYTES,
    maxWaitMs: config.BATCH_MAX_WAIT_MS,
    maxBuffered: config.BUFFER_MAX_ROWS,
    maxBufferedBytes: config.BUFFER_MAX_BYTES,
  },
  backoff,
});
registerWorkerReadiness({ readiness, consumer, sink, db });

const app = createApp({ logger, registry, readiness });
const http = await startHttpServer(app.fetch, {
  port: config.SERVER_PORT,
  host: config.SERVER_HOST,
  requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
});
const metricsServer = await startMetricsServer(registry, config.METRICS_PORT, config.SERVER_HOST);
logger.info({ port: http.port, metricsPort: metricsServer.port, topic: config.KAFKA_TOPIC }, "worker listening");
try {
  await consumer.start();
} catch (error) {
  logger.fatal({ err: error, topic: config.KAFKA_TOPIC }, "could not start consuming");
  process.exit(1);
}

onTerminationSignal((signal) => {
  logger.info({ signal }, "shutting down");
  // Just before the hard deadline, stop retrying so the process exits with nothing committed past ClickHouse.
  setTimeout(() => hardStop.abort(), Math.max(0, config.SHUTDOWN_TIMEOUT_MS - 500)).unref();
  void runShutdown(
    [
      { name: "readiness", run: () => readiness.startDraining() },
      { name: "http", run: () => http.close() },
      { name: "consumer", run: () => consumer.stop() },
      { name: "producer", run: () => producer.disconnect() },
      { name: "clickhouse", run: () => Promise.all([db.close(), inserter.close()]).then(() => undefined) },
      { name: "metrics", run: () => metricsServer.close() },
    ],
    config.SHUTDOWN_TIMEOUT_MS,
    logger,
  ).then(() => process.exit(0));
});
