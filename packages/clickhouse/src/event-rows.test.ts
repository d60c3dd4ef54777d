import type { EventMessage } from "@sluice/events";
import { describe, expect, it } from "vitest";
import { fromEventRow, toEventRow } from "./event-rows";

const full: EventMessage = {
  event_id: "0190a0b0-0000-7000-8000-000000000001",
  event_name: "purchase",
  user_id: "u-1",
  timestamp: 1_795_000_000_123,
  channel: "mobile",
  campaign_id: "black-friday",
  session_id: "s-1",
  anonymous_id: "a-1",
  tags: ["vip", "beta"],
  metadata: { plan: "pro", amount: 19.99, seats: 3, trial: false, gift: true },
  user_properties: { country: "DE", age: 41, subscribed: true },
  device: { category: "phone", os: "ios", os_version: "18.1", language: "de-DE" },
  app: { id: "shop", version: "5.2.0" },
  items: [{ id: "sku-1", name: "Shoe", price: 59.5, quantity: 2 }],
  received_at: 1_795_000_000_200,
  sent_at: 1_795_000_000_150,
};

describe("event rows", () => {
  it("round-trips every field, keeping metadata types", () => {
    const row = toEventRow(full, { topic: "events", partition: 2, offset: "41" });
    expect(row.metadata_number_keys).toEqual(["amount", "seats"]);
    expect(row.metadata_bool_values).toEqual([0, 1]);
    expect(row.timestamp).toBe(1_795_000_000);
    expect(fromEventRow(row)).toEqual(full);
  });

  it("leaves absent optional fields out when reading back", () => {
    const minimal: EventMessage = {
      event_id: full.event_id,
      event_name: "x",
      user_id: "u",
      timestamp: 1_795_000_000_000,
      received_at: 1,
    };
    const row = toEventRow(minimal, { topic: "events", partition: 0, offset: "0" });
    expect(row.channel).toBe("");
    expect(fromEventRow(row)).toEqual({ ...minimal, tags: [], metadata: {}, user_properties: {} });
  });
});
