import { createTestTopic, testKafka, uniqueName } from "@sluice/testing";
import { afterAll, describe, expect, it } from "vitest";
import { ensureTopics, topicConfigs } from "./index";

const kafka = testKafka();

describe("real Kafka broker", () => {
  const admin = kafka.admin();
  afterAll(() => admin.disconnect());

  it("delivers a produced message to a consumer group on a fresh topic", async () => {
    const topic = await createTestTopic(kafka, "smoke", 1);
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: "user-1", value: '{"hello":"kafka"}' }] });
    await producer.disconnect();
    expect(meta?.errorCode).toBe(0);

    const consumer = kafka.consumer({ groupId: uniqueName("smoke-group") });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<{ key: string; value: string }>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => resolve({ key: String(message.key), value: String(message.value) }),
      });
    });
    await consumer.disconnect();
    expect(received).toEqual({ key: "user-1", value: '{"hello":"kafka"}' });
  });

  it("creates missing topics once and leaves them alone the second time", async () => {
    await admin.connect();
    const layout = { events: uniqueName("ev"), dlq: uniqueName("dlq"), campaigns: uniqueName("camp"), partitions: 2 };
    expect(await ensureTopics(admin, topicConfigs(layout))).toEqual([layout.events, layout.dlq, layout.campaigns]);
    expect(await ensureTopics(admin, topicConfigs(layout))).toEqual([]);
    const metadata = await admin.fetchTopicMetadata({ topics: [layout.events] });
    expect(metadata.topics[0]?.partitions).toHaveLength(2);
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: layout.campaigns, configNames: ["cleanup.policy"] }],
    });
    expect(configs.resources[0]?.configEntries[0]?.configValue).toBe("compact");
  });
});
