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

  it("answers null key and value for a position Kafka does not have, once its time is up", async () => {
    const topic = await createTestTopic(kafka, "reread-missing", 1);
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: [{ key: "k", value: "v" }] });
    } finally {
      await producer.disconnect();
    }
    const reread = createMessageReader(kafka, { groupPrefix: uniqueName("reread"), timeoutMs: 4_000 });
    const [present, missing] = await reread([
      { topic, partition: 0, offset: "0" },
      { topic, partition: 0, offset: "5" },
    ]);
    expect(present).toEqual({ topic, partition: 0, offset: "0", key: Buffer.from("k"), value: Buffer.from("v") });
    expect(missing).toEqual({ topic, partition: 0, offset: "5", key: null, value: null });
  }, 60_000);
});
