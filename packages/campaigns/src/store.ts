import type { Campaign, CampaignRules } from "./schema";

/** The in-memory campaign table the registry fills from the topic; last write per id wins. */
export class CampaignStore implements CampaignRules {
  private readonly campaigns = new Map<string, Campaign>();

  /** Stores or replaces a campaign. */
  put(campaign: Campaign): void {
    this.campaigns.set(campaign.campaign_id, campaign);
  }

  /** Forgets a campaign (a tombstone on the compacted topic). */
  delete(campaignId: string): void {
    this.campaigns.delete(campaignId);
  }

  /** The campaign with this id, if known. */
  get(campaignId: string): Campaign | undefined {
    return this.campaigns.get(campaignId);
  }

  /** Every known campaign ordered by id. */
  list(): Campaign[] {
    return [...this.campaigns.values()].sort((a, b) =>
      a.campaign_id < b.campaign_id ? -1 : a.campaign_id > b.campaign_id ? 1 : 0,
    );
  }

  /** The required metadata keys of a known campaign; undefined for an unknown one. */
  requiredMetadata(campaignId: string): readonly string[] | undefined {
    return this.campaigns.get(campaignId)?.required_metadata;
  }

  get size(): number {
    return this.campaigns.size;
  }
}

/** The required keys an event's metadata lacks for its campaign; empty when the campaign is unknown or satisfied. */
export function missingMetadata(
  rules: CampaignRules,
  campaignId: string | undefined,
  metadata: Record<string, unknown> | undefined,
): string[] {
  if (campaignId === undefined) return [];
  const required = rules.requiredMetadata(campaignId) ?? [];
  return required.filter((key) => !Object.hasOwn(metadata ?? {}, key));
}
