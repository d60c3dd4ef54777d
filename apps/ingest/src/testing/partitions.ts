import { Partitioners, type PartitionMetadata } from "kafkajs";

/** The partition kafkajs's DefaultPartitioner (what ingest used, and what campaigns still use) picks for a key. */
export function kafkajsPartition(key: string, partitions: number): number {
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  return Partitioners.DefaultPartitioner()({ topic: "events", partitionMetadata, message: { key, value: null } });
}
