import { type API, type Callback, kGetApi, Producer } from "@platformatic/kafka";
import type { Logger } from "pino";
import { FAST_PRODUCE_VERSIONS, fastProduceApi, type RecordInput, recordSetMessage, SequenceBook } from "./produce-request";

/** The producer of one publisher lane. */
export interface LaneProducer {
  /** Resolves once the producer has its producer id (so the first request does not wait for it). */
  connect(): Promise<void>;
  /**
   * One produce request of records to `topic`, each on the partition of its key (user_id): resolves once
   * all in-sync replicas acknowledged every record; rejects when the producer gave up.
   */
  sendBatch(topic: string, records: readonly RecordInput[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface LaneProducerSettings {
  brokers: string[];
  clientId: string;
  /** How long the broker may wait for the in-sync replicas before it answers a produce request. */
  produceTimeoutMs: number;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  logger?: Logger;
}

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** The Java client's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) over a key's bytes, as a signed int32. */
export function murmur2(data: Buffer): number {
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data.readInt32LE(i);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= (data[whole + 2] as number) << 16;
    if (rest >= 2) h ^= (data[whole + 1] as number) << 8;
    h ^= data[whole] as number;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The Java client's (and kafkajs's DefaultPartitioner's) partition hash of a key, before the modulo
 * by the partition count that the producer applies: a user's events land where they always did.
 */
export function javaPartitionHash(key: Buffer | undefined): number {
  return key === undefined ? 0 : murmur2(key) & 0x7fffffff;
}

/** The calls a lane makes on its @platformatic/kafka producer. */
export type IdempotentClient = Pick<
  Producer,
  "initIdempotentProducer" | "send" | "close" | "metadata" | "producerId" | "producerEpoch"
> & {
  /** Whether the broker's Produce version is one the one-buffer encoder writes (see LaneClient). */
  writesRecordSets(): Promise<boolean>;
};

/** A lane's records of one partition. */
interface PartitionRecords {
  partition: number;
  records: RecordInput[];
}

/** The records grouped by the partition of their key (the Java client's choice) among `partitions`. */
function byPartition(records: readonly RecordInput[], partitions: number): PartitionRecords[] {
  const groups: PartitionRecords[] = [];
  const slots: (PartitionRecords | undefined)[] = new Array(partitions);
  for (const record of records) {
    const partition = javaPartitionHash(record.key) % partitions;
    let group = slots[partition];
    if (group === undefined) {
      group = { partition, records: [] };
      slots[partition] = group;
      groups.push(group);
    }
    group.records.push(record);
  }
  return groups;
}

/**
 * A lane producer over an idempotent @platformatic/kafka producer, which retries a failed request,
 * with the same sequence numbers, until the broker acknowledges it. When it gives up instead (a
 * timeout, a non-retriable error), the next request first fetches a new producer id: the library
 * would otherwise reuse the abandoned request's sequence numbers, and should the broker have written
 * that request after all, it would take an equally long next request for a duplicate, drop it and
 * acknowledge it.
 *
 * Where the broker takes the one-buffer encoder's Produce versions, each partition's records go as one
 * record set (produce-request.ts): the library's per-message work (validation, partitioning, grouping)
 * is then done once per partition. The lane counts those record sets' sequence numbers itself.
 */
export function toLaneProducer(client: IdempotentClient): LaneProducer {
  let needsNewId = false;
  let writesRecordSets: boolean | undefined;
  const book = new SequenceBook();

  /** One record-set message per partition of `topic` its records fall on. */
  async function recordSets(topic: string, records: readonly RecordInput[]) {
    const metadata = await client.metadata({ topics: [topic] });
    const partitions = metadata.topics.get(topic)?.partitionsCount ?? 0;
    if (partitions === 0) throw new Error(`topic ${topic} has no partitions`);
    const groups = byPartition(records, partitions);
    const timestamp = BigInt(Date.now());
    return groups.map((group) => ({ group, message: recordSetMessage(topic, group.partition, group.records, book, timestamp) }));
  }

  return {
    async connect() {
      await client.initIdempotentProducer({});
    },

    async sendBatch(topic, records) {
      if (needsNewId) {
        await client.initIdempotentProducer({});
        needsNewId = false;
      }
      writesRecordSets ??= await client.writesRecordSets();
      const sets = writesRecordSets ? await recordSets(topic, records) : undefined;
      try {
        await client.send({
          messages: sets?.map(({ message }) => message) ?? records.map(({ key, value }) => ({ topic, key, value })),
        });
      } catch (error) {
        // Only a request that went out can have been written; nothing before it needs a new id.
        needsNewId = true;
        throw error;
      }
      const { producerId, producerEpoch } = client;
      if (sets === undefined || producerId === undefined || producerEpoch === undefined) return;
      for (const { group } of sets) book.advance(producerId, producerEpoch, `${topic}:${group.partition}`, group.records.length);
    },

    async disconnect() {
      await client.close(true);
    },
  };
}

const FAST_APIS = new Map<number, API<unknown[], unknown>>(
  FAST_PRODUCE_VERSIONS.map((version) => [version, fastProduceApi(version) as API<unknown[], unknown>]),
);

/**
 * The library's producer with its Produce API swapped for the one-buffer request encoder (see
 * produce-request.ts) whenever the broker speaks a version it writes; everything else is the library's.
 */
export class LaneClient extends Producer {
  override [kGetApi]<RequestArguments extends Array<unknown>, ResponseType>(
    name: string,
    callback: Callback<API<RequestArguments, ResponseType>>,
  ): void {
    super[kGetApi]<RequestArguments, ResponseType>(name, (error, api) => {
      const fast = name === "Produce" && api !== undefined ? FAST_APIS.get(api.version) : undefined;
      callback(error, (fast ?? api) as API<RequestArguments, ResponseType>);
    });
  }

  /** Whether produce requests go through the one-buffer encoder, which alone writes record sets. */
  writesRecordSets(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      super[kGetApi]("Produce", (error, api) =>
        error ? reject(error) : resolve(api !== undefined && FAST_APIS.has(api.version)),
      );
    });
  }
}

/**
 * The ingest lane producer: @platformatic/kafka, whose record encoding costs a fraction of kafkajs's,
 * idempotent (one request in flight per producer, acks=all), partitioning keys as the Java client does.
 */
export function createLaneProducer(settings: LaneProducerSettings): LaneProducer {
  const producer = new LaneClient({
    clientId: settings.clientId,
    bootstrapBrokers: settings.brokers,
    idempotent: true,
    retries: Number.MAX_SAFE_INTEGER,
    retryDelay: (_client, _operation, attempt) => Math.min(100 * 2 ** Math.min(attempt - 1, 4), 1000),
    timeout: settings.produceTimeoutMs,
    connectTimeout: settings.connectTimeoutMs ?? 3000,
    requestTimeout: settings.requestTimeoutMs ?? 10_000,
    autocreateTopics: false,
    partitioner: (_message, key) => javaPartitionHash(key),
  });
  const logger = settings.logger;
  if (logger !== undefined) {
    producer.on("client:performWithRetry:retry", (operation: string, attempt: number) => {
      if (attempt === 0) logger.warn({ operation }, "kafka request failed; retrying");
    });
  }
  return toLaneProducer(producer);
}
