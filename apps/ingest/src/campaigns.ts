import type { ValidatedEvent } from "@sluice/events";
import type { ErrorDetail } from "@sluice/http";

/** The campaign registry as the ingest app sees it: which metadata keys a known campaign requires. */
export interface CampaignRules {
  /** The keys an event naming `campaignId` must carry in `metadata`, or undefined for an unknown campaign. */
  requiredMetadata(campaignId: string): readonly string[] | undefined;
}

/** Rules that know no campaign, so no event is held to any requirement. */
export const noCampaignRules: CampaignRules = { requiredMetadata: () => undefined };

/** Details naming each metadata key a known campaign requires but the event lacks; empty when it complies. */
export function unmetCampaignRequirements(rules: CampaignRules, event: ValidatedEvent): ErrorDetail[] {
  if (event.campaign_id === undefined) return [];
  const required = rules.requiredMetadata(event.campaign_id);
  if (required === undefined || required.length === 0) return [];
  const metadata = event.metadata ?? {};
  return required
    .filter((key) => !Object.hasOwn(metadata, key))
    .map((key) => ({ path: `metadata.${key}`, message: `required by campaign ${event.campaign_id}` }));
}
