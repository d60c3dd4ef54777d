import { type Admin, type ITopicConfig, Kafka, logLevel } from "kafkajs";
import type { Logger } from "pino";

export type { Admin, Consumer, Producer } from "kafkajs";
export { CompressionTypes, Kafka } from "kafkajs";
export { retryInBackground } from "./retry";

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** Per-request and connection timeouts; low values make an unreachable broker fail fast. */
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  retries?: number;
}

const LEVELS: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

/** Creates a kafkajs client that logs through pino (kafkajs info chatter is demoted to debug). */
export function createKafka(settings: KafkaSettings, logger: Logger): Kafka {
  const child = logger.child({ component: "kafkajs" });
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    connectionTimeout: settings.connectionTimeoutMs ?? 3000,
    requestTimeout: settings.requestTimeoutMs ?? 10_000,
    retry: { retries: settings.retries ?? 5, initialRetryTime: 100, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...extra } = log;
        const target = LEVELS[level] === "info" ? "debug" : (LEVELS[level] ?? "debug");
        child[target](extra, message);
      },
  });
}

export interface TopicLayout {
  events: string;
  dlq: string;
  campaigns: string;
  partitions: number;
  retentionMs?: number;
}

/** The topics Sluice needs: the event stream, its dead-letter topic, and the compacted campaign registry. */
export function topicConfigs(layout: TopicLayout): ITopicConfig[] {
  const retention = layout.retentionMs === undefined ? [] : [{ name: "retention.ms", value: String(layout.retentionMs) }];
  return [
    { topic: layout.events, numPartitions: layout.partitions, replicationFactor: 1, configEntries: retention },
    { topic: layout.dlq, numPartitions: layout.partitions, replicationFactor: 1, configEntries: retention },
    {
      topic: layout.campaigns,
      numPartitions: 1,
      replicationFactor: 1,
      configEntries: [{ name: "cleanup.policy", value: "compact" }],
    },
  ];
}

/** Creates the missing topics and leaves existing ones as they are; safe to run any number of times. */
export async function ensureTopics(admin: Admin, topics: ITopicConfig[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return [];
  await admin.createTopics({ topics: missing, waitForLeaders: true });
  return missing.map((t) => t.topic);
}
