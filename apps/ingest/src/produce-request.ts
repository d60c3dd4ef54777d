import { createRequire } from "node:module";
import {
  createAPI,
  groupByProperty,
  crc32c as libraryCrc32c,
  produceV9,
  produceV10,
  produceV11,
  UserError,
  Writer,
} from "@platformatic/kafka";

// @platformatic/kafka builds a produce request out of a handful of small buffers per record (one per
// field, through BigInt arithmetic), which costs ~4.5 µs a record: more than validating and serializing
// the event. This builds the same bytes (Produce v9–v11, record batch v2) in one buffer, sized up front.
// Requests with compression, a transaction or record headers, which the ingest lanes never send, are
// left to the library's own encoder. This encoder throws UserErrors, which the library does not retry:
// it retries any other error, without end for the lanes, and an encoding bug would hold a lane for good.

/**
 * CRC32C through @node-rs/crc32 (Rust), as the library computes it, but without its copy of the bytes;
 * the library's own (WebAssembly) where that native module has no build for the platform.
 */
function loadCrc32c(): (bytes: Buffer) => number {
  try {
    const native = createRequire(import.meta.url)("@node-rs/crc32") as { crc32c(input: Uint8Array): number };
    return (bytes) => native.crc32c(bytes);
  } catch {
    return (bytes) => libraryCrc32c(bytes);
  }
}
const crc32c = loadCrc32c();

/** A message as the producer hands it to the produce API, after serialization and partitioning. */
export interface ProduceMessage {
  topic: string;
  partition?: number;
  key?: Buffer | null;
  value?: Buffer | null;
  headers?: Map<unknown, unknown>;
  timestamp?: bigint | number;
}

/** The options the producer passes with each produce request. */
export interface ProduceOptions {
  compression?: string;
  producerId?: bigint;
  producerEpoch?: number;
  sequences?: { getWithDefault(key: string, fallback: number): number };
  transactionalId?: string | null;
  partitionLeaderEpoch?: number;
}

type CreateRequest = (acks: number, timeout: number, topicData: ProduceMessage[], options?: ProduceOptions) => Writer;

const LIBRARY = { 9: produceV9, 10: produceV10, 11: produceV11 } as const;
/** Produce versions whose request layout this encoder writes (flexible versions; 9–11 differ only in responses). */
export const FAST_PRODUCE_VERSIONS = [9, 10, 11] as const;

// Record batch v2 header after the length field: leader epoch 4, magic 1, crc 4, attributes 2,
// last offset delta 4, first timestamp 8, max timestamp 8, producer id 8, epoch 2, base sequence 4, count 4.
const BATCH_HEADER_AFTER_LENGTH = 49;
const BATCH_HEADER = 8 + 4 + BATCH_HEADER_AFTER_LENGTH;
const CRC_FROM = 8 + 4 + 4 + 1 + 4;

const zigzag = (n: number) => ((n << 1) ^ (n >> 31)) >>> 0;

function uvarintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  return 5;
}

function writeUvarint(buffer: Buffer, at: number, n: number): number {
  let value = n;
  let position = at;
  while (value >= 0x80) {
    buffer[position++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buffer[position++] = value;
  return position;
}

/** Size of a zigzag varlong; record timestamp deltas are small, so a Number holds them exactly. */
function varlongSize(n: number): number {
  let value = n < 0 ? -2 * n - 1 : 2 * n;
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size += 1;
  }
  return size;
}

function writeVarlong(buffer: Buffer, at: number, n: number): number {
  let value = n < 0 ? -2 * n - 1 : 2 * n;
  let position = at;
  while (value >= 0x80) {
    buffer[position++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buffer[position++] = value;
  return position;
}

const bytesSize = (bytes: Buffer | null | undefined) => (bytes == null ? 1 : uvarintSize(zigzag(bytes.length)) + bytes.length);

function writeBytes(buffer: Buffer, at: number, bytes: Buffer | null | undefined): number {
  if (bytes == null) {
    buffer[at] = 1;
    return at + 1;
  }
  const position = writeUvarint(buffer, at, zigzag(bytes.length));
  bytes.copy(buffer, position);
  return position + bytes.length;
}

/**
 * The sequence numbers of an idempotent producer's record sets, per partition, counted for one producer
 * id and epoch: a new id or epoch starts every partition at 0 again, as the broker expects.
 */
export class SequenceBook {
  private producerId: bigint | undefined;
  private producerEpoch = -1;
  private readonly next = new Map<string, number>();

  /** The base sequence of the next batch of `partitionKey` ("topic:partition") under a producer id and epoch. */
  baseSequence(producerId: bigint, producerEpoch: number, partitionKey: string): number {
    if (producerId !== this.producerId || producerEpoch !== this.producerEpoch) {
      this.producerId = producerId;
      this.producerEpoch = producerEpoch;
      this.next.clear();
    }
    return this.next.get(partitionKey) ?? 0;
  }

  /** Counts `records` acknowledged records of `partitionKey` under a producer id and epoch; wraps after 2^31 - 1 as the broker does. */
  advance(producerId: bigint, producerEpoch: number, partitionKey: string, records: number): void {
    if (producerId !== this.producerId || producerEpoch !== this.producerEpoch) return;
    const current = this.next.get(partitionKey) ?? 0;
    this.next.set(partitionKey, current > INT32_MAX - records ? records - (INT32_MAX - current) - 1 : current + records);
  }
}

const INT32_MAX = 2 ** 31 - 1;

/** Records of one partition encoded ahead of the request, which a produce message stands in for. */
interface RecordSet {
  count: number;
  book: SequenceBook;
}

/** Record sets by the buffer of their encoded records, which is the value of the message standing in for them. */
const RECORD_SETS = new WeakMap<Buffer, RecordSet>();

/** A key and value to encode into a record set. */
export interface RecordInput {
  key: Buffer;
  value: Buffer;
}

/**
 * One produce message that stands for all `records` of one partition: their v2 records encoded in one
 * buffer now (timestamp delta 0 each), the batch header written when the request is, with the base
 * sequence `book` holds for the producer id of that moment. The producer library then handles one
 * message per partition instead of one per record; a retry of the request writes the same bytes.
 */
export function recordSetMessage(
  topic: string,
  partition: number,
  records: readonly RecordInput[],
  book: SequenceBook,
  timestamp: bigint,
): { topic: string; partition: number; value: Buffer; timestamp: bigint } {
  let size = 0;
  for (let i = 0; i < records.length; i += 1) {
    const record = records[i] as RecordInput;
    const recordSize = 3 + uvarintSize(zigzag(i)) + bytesSize(record.key) + bytesSize(record.value);
    size += uvarintSize(zigzag(recordSize)) + recordSize;
  }
  const bytes = Buffer.allocUnsafe(size);
  let position = 0;
  for (let i = 0; i < records.length; i += 1) {
    const record = records[i] as RecordInput;
    const recordSize = 3 + uvarintSize(zigzag(i)) + bytesSize(record.key) + bytesSize(record.value);
    position = writeUvarint(bytes, position, zigzag(recordSize));
    bytes[position++] = 0;
    bytes[position++] = 0;
    position = writeUvarint(bytes, position, zigzag(i));
    position = writeBytes(bytes, position, record.key);
    position = writeBytes(bytes, position, record.value);
    bytes[position++] = 0;
  }
  RECORD_SETS.set(bytes, { count: records.length, book });
  return { topic, partition, value: bytes, timestamp };
}

const recordSetOf = (message: ProduceMessage) => (message.value == null ? undefined : RECORD_SETS.get(message.value));

/** Whether a request needs an encoder feature this one does not have. */
function unsupported(topicData: ProduceMessage[], options: ProduceOptions): boolean {
  if ((options.compression ?? "none") !== "none" || options.transactionalId != null) return true;
  for (const message of topicData) if (message.headers !== undefined && message.headers.size > 0) return true;
  return false;
}

interface PartitionBatch {
  partition: string;
  messages: ProduceMessage[];
  /** Each record's length before its length prefix. */
  recordSizes: number[];
  /** Bytes of the record batch (header included). */
  size: number;
  deltas: number[];
  first: bigint;
  max: bigint;
}

function planBatch(partition: string, messages: ProduceMessage[], now: bigint): PartitionBatch {
  const head = messages[0] as ProduceMessage;
  const set = recordSetOf(head);
  if (set !== undefined || messages.some((message) => recordSetOf(message) !== undefined)) {
    if (set === undefined || messages.length !== 1) throw new UserError("a record set must be its partition's only message");
    const timestamp = BigInt(head.timestamp ?? now);
    return {
      partition,
      messages,
      recordSizes: [],
      size: BATCH_HEADER + (head.value as Buffer).length,
      deltas: [],
      first: timestamp,
      max: timestamp,
    };
  }
  const first = BigInt(head.timestamp ?? now);
  let max = first;
  const recordSizes: number[] = [];
  const deltas: number[] = [];
  let size = BATCH_HEADER;
  for (let i = 0; i < messages.length; i += 1) {
    const message = messages[i] as ProduceMessage;
    let timestamp = message.timestamp ?? now;
    if (typeof timestamp === "number") timestamp = BigInt(timestamp);
    message.timestamp = timestamp;
    if (timestamp > max) max = timestamp;
    const delta = timestamp === first ? 0 : Number(timestamp - first);
    deltas.push(delta);
    const recordSize = 1 + varlongSize(delta) + uvarintSize(zigzag(i)) + bytesSize(message.key) + bytesSize(message.value) + 1;
    recordSizes.push(recordSize);
    size += uvarintSize(zigzag(recordSize)) + recordSize;
  }
  return { partition, messages, recordSizes, size, deltas, first, max };
}

function writeBatch(buffer: Buffer, at: number, batch: PartitionBatch, options: ProduceOptions): number {
  const { messages } = batch;
  const head = messages[0] as ProduceMessage;
  const set = recordSetOf(head);
  const partitionKey = `${head.topic}:${head.partition}`;
  const sequence =
    set === undefined
      ? (options.sequences?.getWithDefault(partitionKey, 0) ?? 0)
      : set.book.baseSequence(options.producerId ?? -1n, options.producerEpoch ?? 0, partitionKey);
  const count = set === undefined ? messages.length : set.count;
  buffer.writeBigInt64BE(0n, at);
  buffer.writeInt32BE(batch.size - 12, at + 8);
  buffer.writeInt32BE(options.partitionLeaderEpoch ?? 0, at + 12);
  buffer.writeInt8(2, at + 16);
  buffer.writeInt16BE(0, at + 21);
  buffer.writeInt32BE(count - 1, at + 23);
  buffer.writeBigInt64BE(batch.first, at + 27);
  buffer.writeBigInt64BE(batch.max, at + 35);
  buffer.writeBigInt64BE(options.producerId ?? -1n, at + 43);
  buffer.writeInt16BE(options.producerEpoch ?? 0, at + 51);
  buffer.writeInt32BE(sequence, at + 53);
  buffer.writeInt32BE(count, at + 57);
  let position = at + BATCH_HEADER;
  if (set !== undefined) {
    position += (head.value as Buffer).copy(buffer, position);
  } else {
    for (let i = 0; i < messages.length; i += 1) {
      const message = messages[i] as ProduceMessage;
      position = writeUvarint(buffer, position, zigzag(batch.recordSizes[i] as number));
      buffer[position++] = 0;
      position = writeVarlong(buffer, position, batch.deltas[i] as number);
      position = writeUvarint(buffer, position, zigzag(i));
      position = writeBytes(buffer, position, message.key);
      position = writeBytes(buffer, position, message.value);
      buffer[position++] = 0;
    }
  }
  const crcStart = at + CRC_FROM;
  buffer.writeUInt32BE(crc32c(buffer.subarray(crcStart, position)) >>> 0, at + 17);
  return position;
}

/**
 * The produce request body the library would build for `topicData` (same bytes), written into one
 * buffer. Mutates the messages as the library does (default partition 0, timestamp `now`).
 */
export function encodeProduceRequest(
  acks: number,
  timeout: number,
  topicData: ProduceMessage[],
  options: ProduceOptions = {},
): Buffer {
  const now = BigInt(Date.now());
  for (const message of topicData) {
    message.partition ??= 0;
    message.timestamp ??= now;
  }
  const topics = groupByProperty(topicData, "topic") as [string, ProduceMessage[]][];
  const plan = topics.map(([topic, messages]) => ({
    name: Buffer.from(topic, "utf8"),
    batches: (groupByProperty(messages, "partition") as [string, ProduceMessage[]][]).map(([partition, group]) =>
      planBatch(partition, group, now),
    ),
  }));
  let size = 1 + 2 + 4 + uvarintSize(plan.length + 1) + 1;
  for (const topic of plan) {
    size += uvarintSize(topic.name.length + 1) + topic.name.length + uvarintSize(topic.batches.length + 1) + 1;
    for (const batch of topic.batches) size += 4 + uvarintSize(batch.size + 1) + batch.size + 1;
  }
  const buffer = Buffer.allocUnsafe(size);
  buffer[0] = 0;
  buffer.writeInt16BE(acks, 1);
  buffer.writeInt32BE(timeout, 3);
  let position = writeUvarint(buffer, 7, plan.length + 1);
  for (const topic of plan) {
    position = writeUvarint(buffer, position, topic.name.length + 1);
    topic.name.copy(buffer, position);
    position += topic.name.length;
    position = writeUvarint(buffer, position, topic.batches.length + 1);
    for (const batch of topic.batches) {
      buffer.writeInt32BE(Number(batch.partition), position);
      position = writeUvarint(buffer, position + 4, batch.size + 1);
      position = writeBatch(buffer, position, batch, options);
      buffer[position++] = 0;
    }
    buffer[position++] = 0;
  }
  buffer[position++] = 0;
  if (position !== size) throw new UserError(`produce request encoding wrote ${position} of ${size} bytes`);
  return buffer;
}

function fastCreateRequest(library: CreateRequest): CreateRequest {
  return (acks, timeout, topicData, options = {}) => {
    if (unsupported(topicData, options)) {
      if (topicData.some((message) => recordSetOf(message) !== undefined)) {
        throw new UserError("record sets are only written uncompressed, outside transactions, without headers");
      }
      return library(acks, timeout, topicData, options);
    }
    const writer = Writer.create().append(encodeProduceRequest(acks, timeout, topicData, options));
    // acks=0 (no response) is never used by the lanes, but the connection reads this flag like the library sets it.
    if (acks === 0) writer.context.noResponse = true;
    return writer;
  };
}

/** The Produce API of `version` with the one-buffer encoder and the library's response parser. */
export function fastProduceApi(version: (typeof FAST_PRODUCE_VERSIONS)[number]): ReturnType<typeof createAPI> {
  const library = LIBRARY[version];
  return createAPI(
    0,
    version,
    fastCreateRequest(library.createRequest as unknown as CreateRequest),
    library.parseResponse as never,
  );
}
