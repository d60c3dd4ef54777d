import { describe, expect, it } from "vitest";
import { campaignInputSchema, decodeCampaign } from "./schema";
import { CampaignStore, missingMetadata } from "./store";

const spring = { campaign_id: "spring", name: "Spring sale", required_metadata: ["coupon", "plan"], updated_at: 1 };

describe("campaign store", () => {
  it("answers required keys for known campaigns and undefined for unknown ones", () => {
    const store = new CampaignStore();
    store.put(spring);
    expect(store.requiredMetadata("spring")).toEqual(["coupon", "plan"]);
    expect(store.requiredMetadata("other")).toBeUndefined();
    store.delete("spring");
    expect(store.get("spring")).toBeUndefined();
  });

  it("lists campaigns ordered by id, the last write per id winning", () => {
    const store = new CampaignStore();
    store.put({ ...spring, campaign_id: "b" });
    store.put({ ...spring, campaign_id: "a" });
    store.put({ ...spring, campaign_id: "b", name: "renamed" });
    expect(store.list().map((c) => [c.campaign_id, c.name])).toEqual([
      ["a", "Spring sale"],
      ["b", "renamed"],
    ]);
  });

  it("names the missing metadata keys of an event", () => {
    const store = new CampaignStore();
    store.put(spring);
    expect(missingMetadata(store, "spring", { coupon: "X" })).toEqual(["plan"]);
    expect(missingMetadata(store, "spring", { coupon: "X", plan: false })).toEqual([]);
    expect(missingMetadata(store, "unknown", {})).toEqual([]);
    expect(missingMetadata(store, undefined, undefined)).toEqual([]);
    expect(missingMetadata(store, "spring", undefined)).toEqual(["coupon", "plan"]);
  });
});

describe("campaign schema", () => {
  it("enforces the limits and rejects unknown fields", () => {
    const ok = campaignInputSchema.safeParse({ campaign_id: "c", name: "n" });
    expect(ok.success && ok.data.required_metadata).toEqual([]);
    const cases: unknown[] = [
      { campaign_id: "x".repeat(129), name: "n" },
      { campaign_id: "", name: "n" },
      { campaign_id: "c", name: "n", required_metadata: Array.from({ length: 65 }, (_, i) => `k${i}`) },
      { campaign_id: "c", name: "n", required_metadata: ["a", "a"] },
      { campaign_id: "c", name: "n", extra: 1 },
    ];
    for (const input of cases) expect(campaignInputSchema.safeParse(input).success).toBe(false);
    expect(campaignInputSchema.safeParse({ campaign_id: "x".repeat(128), name: "n" }).success).toBe(true);
  });

  it("decodes topic records, treating tombstones and junk as no campaign", () => {
    expect(decodeCampaign(JSON.stringify(spring))).toEqual(spring);
    expect(decodeCampaign(null)).toBeUndefined();
    expect(decodeCampaign("not json")).toBeUndefined();
    expect(decodeCampaign('{"campaign_id":"x"}')).toBeUndefined();
  });
});
