import { createClickHouse, raw } from "@sluice/clickhouse";
import { createKafka } from "@sluice/kafka";
import { describe, expect, it } from "vitest";
import { testLogger } from "./index";
import { startPrivateClickHouse, startPrivateKafka } from "./private-services";

describe("private services for disruptive tests", () => {
  it("starts, stops and restarts a Kafka broker of its own", async () => {
    const broker = await startPrivateKafka();
    try {
      const admin = createKafka({ brokers: [broker.address], clientId: "private", retries: 0 }, testLogger).admin();
      await admin.connect();
      expect(await admin.listTopics()).toEqual(expect.arrayContaining(["events", "events.dlq", "campaigns"]));
      await admin.disconnect();
      await broker.stop();
      await expect(admin.connect()).rejects.toThrow();
      await broker.start();
      await admin.connect();
      expect(await admin.listTopics()).toContain("events");
      await admin.disconnect();
    } finally {
      await broker.destroy();
    }
  }, 120_000);

  it("starts and stops a ClickHouse server of its own", async () => {
    const server = await startPrivateClickHouse();
    const db = createClickHouse({ url: server.address, database: "default", username: "default", password: "" });
    try {
      expect(await db.query(raw("SELECT 1 AS one"))).toEqual([{ one: 1 }]);
      await server.stop();
      await expect(db.query(raw("SELECT 1"))).rejects.toThrow();
    } finally {
      await db.close();
      await server.destroy();
    }
  }, 120_000);
});
