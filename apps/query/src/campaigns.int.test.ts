import { CampaignRegistry, createCampaignPublisher } from "@sluice/campaigns";
import { testKafka, testLogger, uniqueName } from "@sluice/testing";
import { afterAll, describe, expect, it } from "vitest";
import { buildTestApp as buildIngestApp } from "../../ingest/src/testing/fakes";
import { buildTestApp } from "./testing";

const kafka = testKafka("query-campaigns-test");

describe("campaigns end to end: query app → compacted topic → ingest app", () => {
  const topic = uniqueName("campaigns-e2e").replaceAll("_", "-");
  const producer = kafka.producer();
  const registries: CampaignRegistry[] = [];
  afterAll(async () => {
    await Promise.all(registries.map((r) => r.stop()));
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  });

  it("an event naming a campaign created through the query API without a required key gets 422 from ingest", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: "cleanup.policy", value: "compact" }] }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    await producer.connect();
    const [queryRegistry, ingestRegistry] = [0, 1].map(
      () => new CampaignRegistry({ kafka, topic, logger: testLogger, groupPrefix: "query-campaigns-test" }),
    ) as [CampaignRegistry, CampaignRegistry];
    registries.push(queryRegistry, ingestRegistry);
    await Promise.all([queryRegistry.start(20_000), ingestRegistry.start(20_000)]);

    const query = buildTestApp({ campaigns: queryRegistry, publisher: createCampaignPublisher(producer, topic) }).app;
    const ingest = buildIngestApp({ campaigns: ingestRegistry }).app;
    const created = await query.request("/campaigns", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ campaign_id: "spring-sale", name: "Spring sale", required_metadata: ["coupon", "source"] }),
    });
    expect(created.status).toBe(201);
    // Read-your-writes on the query side, before the topic echoes the record back.
    expect((await query.request("/campaigns/spring-sale")).status).toBe(200);

    await expect.poll(() => ingestRegistry.requiredMetadata("spring-sale"), { timeout: 15_000 }).toEqual(["coupon", "source"]);
    const send = (event: Record<string, unknown>) =>
      ingest.request("/events", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ event_name: "purchase", user_id: "u1", timestamp: Date.now(), ...event }),
      });
    const refused = await send({ campaign_id: "spring-sale", metadata: { source: "mail" } });
    expect(refused.status).toBe(422);
    const body = (await refused.json()) as { error: { code: string; details: { path: string }[] } };
    expect(body.error.code).toBe("CAMPAIGN_REQUIREMENTS_UNMET");
    expect(body.error.details.map((d) => d.path)).toEqual(["metadata.coupon"]);
    expect((await send({ campaign_id: "spring-sale", metadata: { source: "mail", coupon: "X" } })).status).toBe(202);
    expect((await send({ campaign_id: "unknown-campaign" })).status).toBe(202);

    // A registry started later replays the compacted history and agrees.
    const late = new CampaignRegistry({ kafka, topic, logger: testLogger, groupPrefix: "query-campaigns-test" });
    registries.push(late);
    await late.start(20_000);
    expect(late.get("spring-sale")?.name).toBe("Spring sale");
    const listed = (await (await query.request("/campaigns")).json()) as { data: { campaign_id: string }[] };
    expect(listed.data.map((c) => c.campaign_id)).toEqual(["spring-sale"]);
  });
});
