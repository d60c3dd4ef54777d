import { csv, kafkaEnv, loadConfigOrExit, positiveInt } from "@sluice/config";
import { createLogger } from "@sluice/logger";
import { z } from "zod";
import { createKafka, ensureTopics, topicConfigs } from "../index";

// Waits for the broker to answer metadata requests, then creates Sluice's topics if missing.
const config = loadConfigOrExit(
  z.object({
    ...kafkaEnv,
    KAFKA_BROKERS: csv("127.0.0.1:9092"),
    KAFKA_PARTITIONS: positiveInt(6),
    /** retention.ms of the event and dead-letter topics; unset keeps the broker's default. */
    KAFKA_RETENTION_MS: z.coerce.number().int().min(-1).optional(),
    KAFKA_WAIT_MS: positiveInt(60_000),
  }),
  process.env,
);
const logger = createLogger({ name: "ensure-topics", level: "warn" });
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: "sluice-setup", retries: 0 }, logger);
const deadline = Date.now() + config.KAFKA_WAIT_MS;

for (;;) {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const created = await ensureTopics(
      admin,
      topicConfigs({
        events: config.KAFKA_TOPIC,
        dlq: config.KAFKA_DLQ_TOPIC,
        campaigns: config.KAFKA_CAMPAIGNS_TOPIC,
        partitions: config.KAFKA_PARTITIONS,
        retentionMs: config.KAFKA_RETENTION_MS,
      }),
    );
    if (created.length > 0) process.stdout.write(`created topics: ${created.join(", ")}\n`);
    await admin.disconnect();
    break;
  } catch (error) {
    await admin.disconnect().catch(() => undefined);
    if (Date.now() > deadline) {
      process.stderr.write(`broker not ready: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
