import { createClickHouse } from "@sluice/clickhouse";
import { clickhouseEnv, clickhouseUrl, kafkaEnv, loadConfigOrExit, positiveInt } from "@sluice/config";
import { createKafka } from "@sluice/kafka";
import { createLogger } from "@sluice/logger";
import { z } from "zod";
import { replayDeadLetters } from "../replay";

// `make replay-dlq`: re-publishes dead letters not yet replayed to the event topic, then exits.
const config = loadConfigOrExit(
  z.object({
    ...kafkaEnv,
    ...clickhouseEnv,
    REPLAY_GROUP_ID: z.string().min(1).default("sluice-dlq-replay"),
    REPLAY_TIMEOUT_MS: positiveInt(60_000),
  }),
  process.env,
);
const logger = createLogger({ name: "replay-dlq", level: "info" });
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: "sluice-replay-dlq" }, logger);
const db = createClickHouse({
  url: clickhouseUrl(config),
  database: config.CLICKHOUSE_DATABASE,
  username: config.CLICKHOUSE_USERNAME,
  password: config.CLICKHOUSE_PASSWORD,
});
try {
  const result = await replayDeadLetters({
    kafka,
    db,
    logger,
    dlqTopic: config.KAFKA_DLQ_TOPIC,
    eventsTopic: config.KAFKA_TOPIC,
    groupId: config.REPLAY_GROUP_ID,
    timeoutMs: config.REPLAY_TIMEOUT_MS,
  });
  process.stdout.write(
    `replayed ${result.replayed} dead letters from ${config.KAFKA_DLQ_TOPIC} to ${config.KAFKA_TOPIC}` +
      (result.skipped ? ` (${result.skipped} unreadable entries skipped)\n` : "\n"),
  );
} finally {
  await db.close();
}
