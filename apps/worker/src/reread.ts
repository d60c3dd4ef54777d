import { randomUUID } from "node:crypto";
import type { Admin, Kafka } from "@sluice/kafka";
import type { RawMessage } from "./decode";

/** Where a consumed message sits in Kafka. */
export interface MessagePosition {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * Reads consumed messages back from Kafka, in the order of `positions`. A message Kafka no longer has
 * (below the partition's first offset: deleted by retention) comes back with null key and value; one
 * that Kafka has but that was not read in time makes the promise reject, so the caller can try again.
 */
export type MessageReader = (positions: readonly MessagePosition[]) => Promise<RawMessage[]>;

export interface MessageReaderOptions {
  /** Each read joins its own consumer group, `<prefix>.reread.<uuid>`, deleted when the read ends. */
  groupPrefix: string;
  /** The whole read (connect, group join, fetches) gives up after this long. */
  timeoutMs: number;
}

/** A map key for one topic partition. */
export const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
/** A map key for one message: its topic, partition and offset. */
export const positionKey = (topic: string, partition: number, offset: string) =>
  `${partitionKey(topic, partition)}\u0000${offset}`;

/**
 * Reads messages back by position with a short-lived consumer that seeks to each partition's lowest
 * wanted offset. The worker needs this only for rows ClickHouse rejected although they passed the
 * schema, to dead-letter their original bytes: a buffered row keeps its line and not its message,
 * which was about half of the memory a row held. Seeks are never below a partition's first offset
 * (kafkajs would reset such a partition to its end and commit that), and the group is deleted after
 * the read, so it leaves neither offsets nor a group behind.
 */
export function createMessageReader(kafka: Kafka, options: MessageReaderOptions): MessageReader {
  return async (positions) => {
    if (positions.length === 0) return [];
    const topics = [...new Set(positions.map((position) => position.topic))];
    const admin = kafka.admin();
    await admin.connect();
    try {
      const firstOffsets = new Map<string, bigint>();
      for (const topic of topics)
        for (const { partition, low } of await admin.fetchTopicOffsets(topic))
          firstOffsets.set(partitionKey(topic, partition), BigInt(low));
      const stored = positions.filter(
        ({ topic, partition, offset }) => BigInt(offset) >= (firstOffsets.get(partitionKey(topic, partition)) ?? 0n),
      );
      const found = stored.length > 0 ? await readStored(kafka, admin, topics, options, stored) : new Map<string, RawMessage>();
      return positions.map(
        ({ topic, partition, offset }) =>
          found.get(positionKey(topic, partition, offset)) ?? { topic, partition, offset, key: null, value: null },
      );
    } finally {
      await admin.disconnect();
    }
  };
}

/** Reads messages Kafka still has, all of them or rejects. */
async function readStored(
  kafka: Kafka,
  admin: Admin,
  topics: readonly string[],
  options: MessageReaderOptions,
  positions: readonly MessagePosition[],
): Promise<Map<string, RawMessage>> {
  const wanted = new Set(positions.map(({ topic, partition, offset }) => positionKey(topic, partition, offset)));
  const lowest = new Map<string, MessagePosition>();
  for (const position of positions) {
    const key = partitionKey(position.topic, position.partition);
    const known = lowest.get(key);
    if (!known || BigInt(position.offset) < BigInt(known.offset)) lowest.set(key, position);
  }
  const found = new Map<string, RawMessage>();
  const groupId = `${options.groupPrefix}.reread.${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  let settle!: (error?: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
  const timer = setTimeout(
    () => settle(new Error(`read ${found.size} of ${wanted.size} messages back from Kafka in ${options.timeoutMs} ms`)),
    options.timeoutMs,
  );
  // A crashed consumer restarts with a new group member that has forgotten the seeks: fail, and be retried.
  consumer.on(consumer.events.CRASH, ({ payload }) => settle(payload.error));
  try {
    const reading = (async () => {
      await consumer.connect();
      await consumer.subscribe({ topics: [...topics] });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            const key = positionKey(batch.topic, batch.partition, message.offset);
            if (!wanted.has(key) || found.has(key)) continue;
            found.set(key, {
              topic: batch.topic,
              partition: batch.partition,
              offset: message.offset,
              key: message.key ? Buffer.from(message.key) : null,
              value: message.value ? Buffer.from(message.value) : null,
            });
          }
          if (found.size === wanted.size) settle();
        },
      });
      // Partitions not sought start at their end and give nothing.
      for (const { topic, partition, offset } of lowest.values()) consumer.seek({ topic, partition, offset });
    })();
    reading.catch((error: unknown) => settle(error instanceof Error ? error : new Error(String(error))));
    await done;
    return found;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
}
