import { type ClickHouse, sql } from "@sluice/clickhouse";
import type { Producer } from "@sluice/kafka";
import { type DeadLetter, payloadOf } from "./decode";

/** What a message on the dead-letter topic carries: the reason, where it came from and its original bytes. */
export interface DeadLetterMessage {
  reason: string;
  details: string;
  event_id: string;
  source_topic: string;
  source_partition: number;
  source_offset: string;
  failed_at: number;
  /** The original message value, base64, so replay re-publishes exactly what the producer sent. */
  payload_base64: string;
  /** The original message key, base64, or null. */
  key_base64: string | null;
}

export interface DeadLetterWriter {
  /**
   * Publishes each dead letter to the DLQ topic (acks=all) and records it in `events_dead_letter`,
   * skipping offsets already recorded there, so a redelivered poison message is recorded once.
   * The topic is at-least-once (a crash between the two steps republishes); the table is exactly-once.
   */
  write(dead: readonly DeadLetter[]): Promise<void>;
}

export interface DeadLetterDeps {
  db: ClickHouse;
  producer: Producer;
  dlqTopic: string;
  now?: () => number;
}

/** Serialises a dead letter for the DLQ topic. */
export function toDeadLetterMessage(dead: DeadLetter, failedAt: number): DeadLetterMessage {
  return {
    reason: dead.reason,
    details: dead.details,
    event_id: dead.eventId,
    source_topic: dead.message.topic,
    source_partition: dead.message.partition,
    source_offset: dead.message.offset,
    failed_at: failedAt,
    payload_base64: payloadOf(dead.message).toString("base64"),
    key_base64: dead.message.key ? dead.message.key.toString("base64") : null,
  };
}

async function recordedOffsets(db: ClickHouse, dead: readonly DeadLetter[]): Promise<Set<string>> {
  const found = new Set<string>();
  const byPartition = new Map<string, DeadLetter[]>();
  for (const item of dead) {
    const key = `${item.message.topic}\u0000${item.message.partition}`;
    byPartition.set(key, [...(byPartition.get(key) ?? []), item]);
  }
  for (const items of byPartition.values()) {
    const first = items[0];
    if (!first) continue;
    const offsets = items.map((item) => Number(item.message.offset));
    const rows = await db.query<{ recorded_offset: string }>(
      sql`SELECT toString(kafka_offset) AS recorded_offset FROM events_dead_letter
          WHERE kafka_topic = ${first.message.topic} AND kafka_partition = ${first.message.partition}
            AND kafka_offset IN ${offsets}`,
    );
    for (const row of rows) found.add(`${first.message.topic}\u0000${first.message.partition}\u0000${row.recorded_offset}`);
  }
  return found;
}

/** Creates the writer that sends poison messages to the DLQ topic and the `events_dead_letter` table. */
export function createDeadLetterWriter(deps: DeadLetterDeps): DeadLetterWriter {
  const now = deps.now ?? Date.now;
  return {
    async write(dead) {
      if (dead.length === 0) return;
      const recorded = await recordedOffsets(deps.db, dead);
      const fresh = dead.filter(
        (item) => !recorded.has(`${item.message.topic}\u0000${item.message.partition}\u0000${item.message.offset}`),
      );
      if (fresh.length === 0) return;
      const failedAt = now();
      await deps.producer.send({
        topic: deps.dlqTopic,
        acks: -1,
        messages: fresh.map((item) => ({
          key: item.message.key,
          value: JSON.stringify(toDeadLetterMessage(item, failedAt)),
          headers: { reason: item.reason },
        })),
      });
      await deps.db.insert(
        "events_dead_letter",
        fresh.map((item) => ({
          event_id: item.eventId,
          kafka_topic: item.message.topic,
          kafka_partition: item.message.partition,
          kafka_offset: item.message.offset,
          reason: item.reason,
          details: item.details,
          payload: payloadOf(item.message).toString("utf8"),
          status: "failed",
          failed_at: Math.floor(failedAt / 1000),
        })),
      );
    },
  };
}
