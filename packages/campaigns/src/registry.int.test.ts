import { testKafka, testLogger, uniqueName } from "@sluice/testing";
import { afterAll, describe, expect, it } from "vitest";
import { createCampaignPublisher } from "./publisher";
import { CampaignRegistry } from "./registry";

const kafka = testKafka("campaigns-test");
const topics: string[] = [];

async function compactedTopic(): Promise<string> {
  const topic = uniqueName("campaigns").replaceAll("_", "-");
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: "cleanup.policy", value: "compact" }] }],
    waitForLeaders: true,
  });
  await admin.disconnect();
  topics.push(topic);
  return topic;
}

describe("campaign registry on the real broker", () => {
  const producer = kafka.producer();
  const registries: CampaignRegistry[] = [];
  afterAll(async () => {
    await Promise.all(registries.map((r) => r.stop()));
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics });
    await admin.disconnect();
  });

  function registry(topic: string): CampaignRegistry {
    const created = new CampaignRegistry({ kafka, topic, logger: testLogger, groupPrefix: "campaigns-test" });
    registries.push(created);
    return created;
  }

  it("is ready at once on an empty topic, then sees campaigns published later", async () => {
    const topic = await compactedTopic();
    await producer.connect();
    const tail = registry(topic);
    await tail.start(20_000);
    expect(tail.ready).toBe(true);
    expect(tail.list()).toEqual([]);
    await createCampaignPublisher(producer, topic).publish({ campaign_id: "late", name: "Late", required_metadata: ["k"] });
    await expect.poll(() => tail.requiredMetadata("late"), { timeout: 15_000 }).toEqual(["k"]);
  });

  it("replays the history on start: last write per id wins, tombstones delete, junk is skipped", async () => {
    const topic = await compactedTopic();
    await producer.connect();
    const publisher = createCampaignPublisher(producer, topic);
    await publisher.publish({ campaign_id: "spring", name: "Spring v1", required_metadata: ["coupon"] });
    await publisher.publish({ campaign_id: "gone", name: "Gone", required_metadata: [] });
    await producer.send({ topic, acks: -1, messages: [{ key: "junk", value: "not json" }] });
    await publisher.publish({ campaign_id: "spring", name: "Spring v2", required_metadata: ["coupon", "plan"] });
    await producer.send({ topic, acks: -1, messages: [{ key: "gone", value: null }] });

    const tail = registry(topic);
    await tail.start(20_000);
    expect(tail.ready).toBe(true);
    expect(tail.list().map((c) => c.campaign_id)).toEqual(["spring"]);
    expect(tail.get("spring")?.name).toBe("Spring v2");
    expect(tail.requiredMetadata("spring")).toEqual(["coupon", "plan"]);
    expect(tail.requiredMetadata("gone")).toBeUndefined();
    expect(tail.requiredMetadata("junk")).toBeUndefined();
  });
});
