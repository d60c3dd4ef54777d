import { LIMITS } from "@sluice/events";
import { z } from "zod";

/** Bounds of a campaign definition; `campaign_id` matches the event field's limit. */
export const CAMPAIGN_LIMITS = {
  campaignId: LIMITS.campaignId,
  name: 256,
  requiredMetadata: LIMITS.metadataKeys,
  keyLength: LIMITS.propertyKeyLength,
} as const;

/** What a client sends to create or replace a campaign. */
export const campaignInputSchema = z
  .object({
    campaign_id: z.string().min(1).max(CAMPAIGN_LIMITS.campaignId),
    name: z.string().min(1).max(CAMPAIGN_LIMITS.name),
    required_metadata: z
      .array(z.string().min(1).max(CAMPAIGN_LIMITS.keyLength))
      .max(CAMPAIGN_LIMITS.requiredMetadata)
      .refine((keys) => new Set(keys).size === keys.length, { message: "keys must be unique" })
      .default([]),
  })
  .strict();

export type CampaignInput = z.input<typeof campaignInputSchema>;

/** A campaign as published on the compacted topic and served by the API. */
export const campaignSchema = z.object({
  campaign_id: z.string().min(1).max(CAMPAIGN_LIMITS.campaignId),
  name: z.string().min(1).max(CAMPAIGN_LIMITS.name),
  required_metadata: z.array(z.string().min(1).max(CAMPAIGN_LIMITS.keyLength)).max(CAMPAIGN_LIMITS.requiredMetadata),
  updated_at: z.number().int().nonnegative(),
});

export type Campaign = z.infer<typeof campaignSchema>;

/** The rule the ingest app applies: which metadata keys an event naming a campaign must carry. */
export interface CampaignRules {
  /** The required keys of a known campaign, or undefined for an unknown one (accepted as is). */
  requiredMetadata(campaignId: string): readonly string[] | undefined;
}

/** Decodes one record value from the campaigns topic; undefined for a tombstone or a value that is not a campaign. */
export function decodeCampaign(value: Buffer | string | null | undefined): Campaign | undefined {
  if (value === null || value === undefined || value.length === 0) return undefined;
  try {
    const parsed = campaignSchema.safeParse(JSON.parse(value.toString()));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
