import type { ClickHouse } from "@sluice/clickhouse";
import type { Kafka } from "@sluice/kafka";
import { Partitioners } from "kafkajs";
import type { Logger } from "pino";
import type { DeadLetterMessage } from "./dead-letters";

export interface ReplayDeps {
  kafka: Kafka;
  db: ClickHouse;
  logger: Logger;
  dlqTopic: string;
  eventsTopic: string;
  /** The replay's own consumer group: its committed offsets remember what was already replayed. */
  groupId: string;
  /** Gives up (and commits what was done) after this long. */
  timeoutMs: number;
}

export interface ReplayResult {
  replayed: number;
  skipped: number;
}

/**
 * A DLQ message's letter when it has bytes to re-publish; undefined for anything else, including a
 * letter without a payload (an empty message, or a rejected row whose message could not be read back):
 * re-publishing nothing would only come back as invalid JSON.
 */
export function replayableLetter(value: Buffer | null): DeadLetterMessage | undefined {
  try {
    const parsed = JSON.parse(value?.toString("utf8") ?? "") as Partial<DeadLetterMessage>;
    return typeof parsed.payload_base64 === "string" && parsed.payload_base64 !== "" && typeof parsed.source_topic === "string"
      ? (parsed as DeadLetterMessage)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Re-publishes the original bytes of every dead letter not yet replayed to the event topic, and marks
 * each in `events_dead_letter` as `replayed`. Bounded: it reads up to the DLQ's end as of the start
 * and stops there. Offsets of the replay group are committed after each batch is published, so a
 * second run starts where the first stopped (a crash mid-batch may republish that batch; the
 * worker's event_id de-duplication absorbs it).
 */
export async function replayDeadLetters(deps: ReplayDeps): Promise<ReplayResult> {
  const admin = deps.kafka.admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  const committed = new Map<number, bigint>();
  try {
    for (const { partition, high } of await admin.fetchTopicOffsets(deps.dlqTopic)) ends.set(partition, BigInt(high));
    const [group] = await admin.fetchOffsets({ groupId: deps.groupId, topics: [deps.dlqTopic] });
    for (const { partition, offset } of group?.partitions ?? []) committed.set(partition, BigInt(offset));
  } finally {
    await admin.disconnect();
  }
  const pending = new Set([...ends].filter(([partition, end]) => (committed.get(partition) ?? 0n) < end).map(([p]) => p));
  const result: ReplayResult = { replayed: 0, skipped: 0 };
  if (pending.size === 0) return result;

  const producer = deps.kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = deps.kafka.consumer({ groupId: deps.groupId, maxWaitTimeInMs: 200 });
  await producer.connect();
  await consumer.connect();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const timer = setTimeout(() => {
    deps.logger.warn({ pending: [...pending] }, "replay timed out before reaching the end of the DLQ");
    finish();
  }, deps.timeoutMs);
  try {
    await consumer.subscribe({ topic: deps.dlqTopic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch }) => {
        const end = ends.get(batch.partition) ?? 0n;
        const messages = batch.messages.filter((message) => BigInt(message.offset) < end);
        if (messages.length === 0) return;
        const letters = messages.map((message) => ({ message, letter: replayableLetter(message.value) }));
        const valid = letters.flatMap(({ letter }) => (letter ? [letter] : []));
        result.skipped += letters.length - valid.length;
        if (valid.length > 0) {
          await producer.send({
            topic: deps.eventsTopic,
            acks: -1,
            messages: valid.map((letter) => ({
              key: letter.key_base64 === null ? null : Buffer.from(letter.key_base64, "base64"),
              value: Buffer.from(letter.payload_base64, "base64"),
            })),
          });
          const now = Math.floor(Date.now() / 1000);
          await deps.db.insert(
            "events_dead_letter",
            valid.map((letter) => ({
              event_id: letter.event_id,
              kafka_topic: letter.source_topic,
              kafka_partition: letter.source_partition,
              kafka_offset: letter.source_offset,
              reason: letter.reason,
              details: letter.details,
              payload: Buffer.from(letter.payload_base64, "base64").toString("utf8"),
              status: "replayed",
              // ReplacingMergeTree(failed_at) keeps the newest version: the replay time makes this row win.
              failed_at: Math.max(now, Math.floor(letter.failed_at / 1000) + 1),
            })),
          );
          result.replayed += valid.length;
        }
        const last = messages[messages.length - 1];
        if (last) {
          const next = BigInt(last.offset) + 1n;
          await consumer.commitOffsets([{ topic: deps.dlqTopic, partition: batch.partition, offset: next.toString() }]);
          if (next >= end) pending.delete(batch.partition);
        }
        if (pending.size === 0) finish();
      },
    });
    await finished;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    await producer.disconnect();
  }
  return result;
}
