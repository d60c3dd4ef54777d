import { randomUUID } from "node:crypto";
import type { Kafka } from "@sluice/kafka";
import type { RawMessage } from "./decode";
import { sleep } from "./retry";

/** Where a consumed message sits in Kafka. */
export interface MessagePosition {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * Reads consumed messages back from Kafka, in the order of `positions`. A message Kafka no longer has
 * (deleted by retention), or could not give within the time limit, comes back with null key and value.
 */
export type MessageReader = (positions: readonly MessagePosition[]) => Promise<RawMessage[]>;

export interface MessageReaderOptions {
  /** Each read joins its own consumer group named `<prefix>.reread.<uuid>`; it never commits offsets. */
  groupPrefix: string;
  /** Gives up on the messages not read by then. */
  timeoutMs: number;
}

const keyOf = (topic: string, partition: number, offset: string) => `${topic}\u0000${partition}\u0000${offset}`;

/**
 * Reads messages back by position with a short-lived consumer that seeks to each partition's lowest
 * wanted offset. The worker needs this only for rows ClickHouse rejected although they passed the
 * schema, to dead-letter their original bytes: a buffered row keeps its line and not its message,
 * which was about half of the memory a row held.
 */
export function createMessageReader(kafka: Kafka, options: MessageReaderOptions): MessageReader {
  return async (positions) => {
    if (positions.length === 0) return [];
    const wanted = new Set(positions.map(({ topic, partition, offset }) => keyOf(topic, partition, offset)));
    const lowest = new Map<string, MessagePosition>();
    for (const position of positions) {
      const key = `${position.topic}\u0000${position.partition}`;
      const known = lowest.get(key);
      if (!known || BigInt(position.offset) < BigInt(known.offset)) lowest.set(key, position);
    }
    const found = new Map<string, RawMessage>();
    let allFound!: () => void;
    const done = new Promise<void>((resolve) => {
      allFound = resolve;
    });
    const consumer = kafka.consumer({ groupId: `${options.groupPrefix}.reread.${randomUUID()}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [...new Set(positions.map((position) => position.topic))] });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            const key = keyOf(batch.topic, batch.partition, message.offset);
            if (!wanted.has(key) || found.has(key)) continue;
            found.set(key, {
              topic: batch.topic,
              partition: batch.partition,
              offset: message.offset,
              key: message.key ? Buffer.from(message.key) : null,
              value: message.value ? Buffer.from(message.value) : null,
            });
          }
          if (found.size === wanted.size) allFound();
        },
      });
      // Seeks wait in kafkajs until the partition is assigned; partitions not sought start at the end.
      for (const { topic, partition, offset } of lowest.values()) consumer.seek({ topic, partition, offset });
      const timeout = new AbortController();
      await Promise.race([done, sleep(options.timeoutMs, timeout.signal)]);
      timeout.abort();
    } finally {
      await consumer.disconnect();
    }
    return positions.map(
      (position) =>
        found.get(keyOf(position.topic, position.partition, position.offset)) ?? { ...position, key: null, value: null },
    );
  };
}
