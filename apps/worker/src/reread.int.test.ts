import { createTestTopic, testKafka, uniqueName } from "@sluice/testing";
import { describe, expect, it } from "vitest";
import { createMessageReader } from "./reread";

const kafka = testKafka("reread-int");

describe("message reader (real broker)", () => {
  it("reads messages back by position with their exact key and value, in the order asked", async () => {
    const topic = await createTestTopic(kafka, "reread", 2);
    const producer = kafka.producer();
    await producer.connect();
    const sent = [
      { partition: 0, key: Buffer.from("user-1"), value: Buffer.from('{"n":0}') },
      { partition: 0, key: null, value: Buffer.from([0xff, 0x00, 0x7b]) },
      { partition: 0, key: Buffer.from("user-1"), value: Buffer.from('{"n":2}') },
      { partition: 1, key: Buffer.from("user-2"), value: Buffer.from('{"n":"ünï"}') },
    ];
    try {
      for (const message of sent) await producer.send({ topic, acks: -1, messages: [message] });
    } finally {
      await producer.disconnect();
    }
    const reread = createMessageReader(kafka, { groupPrefix: uniqueName("reread"), timeoutMs: 20_000 });
    const positions = [
      { topic, partition: 1, offset: "0" },
      { topic, partition: 0, offset: "2" },
      { topic, partition: 0, offset: "1" },
    ];
    expect(await reread(positions)).toEqual([
      { ...positions[0], key: sent[3]?.key, value: sent[3]?.value },
      { ...positions[1], key: sent[2]?.key, value: sent[2]?.value },
      { ...positions[2], key: null, value: sent[1]?.value },
    ]);
    expect(await reread([])).toEqual([]);
  }, 60_000);

  it("answers a deleted position with null key and value at once, rejects one it cannot read in time, and leaves no group", async () => {
    const topic = await createTestTopic(kafka, "reread-missing", 1);
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: [0, 1, 2].map((n) => ({ key: "k", value: `v${n}` })) });
    } finally {
      await producer.disconnect();
    }
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Retention's effect: the partition's first offset moves to 2 (kafkajs needs the topic's metadata loaded first).
      await admin.fetchTopicMetadata({ topics: [topic] });
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: "2" }] });
      const prefix = uniqueName("reread");
      const reread = createMessageReader(kafka, { groupPrefix: prefix, timeoutMs: 4_000 });
      const started = Date.now();
      expect(await reread([{ topic, partition: 0, offset: "0" }])).toEqual([
        { topic, partition: 0, offset: "0", key: null, value: null },
      ]);
      expect(Date.now() - started).toBeLessThan(4_000);
      const [deleted, kept] = await reread([
        { topic, partition: 0, offset: "1" },
        { topic, partition: 0, offset: "2" },
      ]);
      expect(deleted).toEqual({ topic, partition: 0, offset: "1", key: null, value: null });
      expect(kept).toEqual({ topic, partition: 0, offset: "2", key: Buffer.from("k"), value: Buffer.from("v2") });
      // Kafka has offset 2 but not 3 yet: the caller is told to try again, not handed a null.
      await expect(reread([{ topic, partition: 0, offset: "3" }])).rejects.toThrow(/read 0 of 1 messages/);
      const { groups } = await admin.listGroups();
      expect(groups.filter(({ groupId }) => groupId.startsWith(prefix))).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  }, 60_000);
});
