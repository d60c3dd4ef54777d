import { Reader, readRecordsBatch } from "@platformatic/kafka";

/** One partition's record batch in a produce request. */
export interface ProducedBatch {
  topic: string;
  partition: number;
  batch: ReturnType<typeof readRecordsBatch>;
}

/** The record batches of a Produce v9–v11 request body (flexible versions), in request order. */
export function readProduceRequest(body: Buffer): ProducedBatch[] {
  const reader = Reader.from(body);
  reader.readNullableString();
  reader.readInt16();
  reader.readInt32();
  const out: ProducedBatch[] = [];
  const topics = reader.readUnsignedVarInt() - 1;
  for (let t = 0; t < topics; t += 1) {
    const topic = reader.readString();
    const partitions = reader.readUnsignedVarInt() - 1;
    for (let p = 0; p < partitions; p += 1) {
      const partition = reader.readInt32();
      const length = reader.readUnsignedVarInt() - 1;
      const batch = readRecordsBatch(Reader.from(body.subarray(reader.position, reader.position + length)));
      reader.skip(length);
      reader.readTaggedFields();
      out.push({ topic, partition, batch });
    }
    reader.readTaggedFields();
  }
  reader.readTaggedFields();
  if (reader.remaining !== 0) throw new Error(`${reader.remaining} bytes after the produce request`);
  return out;
}
