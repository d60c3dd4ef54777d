import { fileURLToPath } from "node:url";
import { type ClickHouse, createClickHouse, ensureDatabase, identifier, loadMigrations, migrate, sql } from "@sluice/clickhouse";
import { createKafka, type Kafka } from "@sluice/kafka";
import { createLogger } from "@sluice/logger";
import { isStaleTestName, uniqueName } from "./names";

export { isStaleTestName, uniqueName } from "./names";
export * from "./private-services";

// Integration tests reach the services `make services` started; these variables let CI point elsewhere.
// This package is test-only, so reading process.env here is not app configuration.
const env = process.env;

/** Where the real services listen during integration tests. */
export const services = {
  kafkaBrokers: (env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
  clickhouseUrl: env.CLICKHOUSE_URL ?? `http://127.0.0.1:${env.CLICKHOUSE_HTTP_PORT ?? "8123"}`,
};

/** The repo's migrations folder. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../../clickhouse/migrations", import.meta.url));

/** A silent logger for tests. */
export const testLogger = createLogger({ name: "test", level: env.TEST_LOG_LEVEL ?? "silent" });

/** A kafkajs client for the test broker. */
export function testKafka(clientId = "sluice-test"): Kafka {
  return createKafka({ brokers: services.kafkaBrokers, clientId }, testLogger);
}

/** Creates a fresh topic and returns its name. */
export async function createTestTopic(kafka: Kafka, prefix = "test", partitions = 3): Promise<string> {
  const topic = uniqueName(prefix).replaceAll("_", "-");
  const admin = kafka.admin();
  await admin.connect();
  try {
    // A broker that has just started may answer "does not host this topic-partition" while leaders
    // are elected; retry until the topic exists and its metadata names a leader for every partition.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
        const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
        const ready = metadata.topics[0]?.partitions.filter((p) => p.leader >= 0).length === partitions;
        if (ready) break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`topic ${topic} has no leaders after 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await admin.disconnect();
  }
  return topic;
}

/**
 * Deletes the topics earlier test runs made and left (a killed run skips its cleanup, and most
 * files keep theirs for inspection); each leftover partition slows the broker's next start.
 */
export async function deleteStaleTestTopics(kafka: Kafka, maxAgeMs: number): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const now = Date.now();
    const stale = (await admin.listTopics()).filter((topic) => isStaleTestName(topic, now, maxAgeMs));
    if (stale.length > 0) await admin.deleteTopics({ topics: stale, timeout: 60_000 });
    return stale;
  } finally {
    await admin.disconnect();
  }
}

export interface TestDatabase {
  name: string;
  db: ClickHouse;
  /** Drops the database and closes the client. */
  drop(): Promise<void>;
}

/** Creates a throw-away ClickHouse database, optionally with the repo's migrations applied. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = uniqueName("sluice_test");
  const connection = { url: services.clickhouseUrl, username: "default", password: "" };
  const server = createClickHouse({ ...connection, database: "default" });
  await ensureDatabase(server, name);
  const db = createClickHouse({ ...connection, database: name });
  if (options.migrate) await migrate(db, await loadMigrations(MIGRATIONS_DIR));
  return {
    name,
    db,
    async drop() {
      await db.close();
      await server.command(sql`DROP DATABASE IF EXISTS ${identifier(name)}`);
      await server.close();
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Collects unhandled promise rejections for the rest of the test file and fails the file if any
 * occurred; call once at the top level of a test file that must never leak a rejection.
 */
export function failOnUnhandledRejections(afterAll: (fn: () => void) => void, expectNone: (reasons: unknown[]) => void): void {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  afterAll(() => {
    process.off("unhandledRejection", onUnhandled);
    expectNone(unhandled);
  });
}
