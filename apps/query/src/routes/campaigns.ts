import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { CAMPAIGN_LIMITS, type Campaign, type CampaignSink, campaignInputSchema } from "@sluice/campaigns";
import { AppError } from "@sluice/http";
import type { Logger } from "pino";
import type { CampaignReader } from "../app";
import { errorResponses } from "./schemas";

const CampaignSchema = z
  .object({
    campaign_id: z.string(),
    name: z.string(),
    required_metadata: z.array(z.string()),
    updated_at: z.number().openapi({ description: "epoch milliseconds of the last write" }),
  })
  .openapi("Campaign");

const json = (schema: z.ZodType, description: string) => ({ description, content: { "application/json": { schema } } });

const create = createRoute({
  method: "post",
  path: "/campaigns",
  summary: "Create or replace a campaign",
  description:
    "Published to the compacted campaigns topic (acknowledged by all in-sync replicas). From then on the ingest app answers " +
    "422 for an event naming this campaign whose metadata lacks a required key.",
  request: { body: { content: { "application/json": { schema: campaignInputSchema } }, required: true } },
  responses: {
    201: json(CampaignSchema, "created"),
    200: json(CampaignSchema, "replaced an existing campaign"),
    ...errorResponses(400, 401, 403, 503),
  },
});

const list = createRoute({
  method: "get",
  path: "/campaigns",
  summary: "Every campaign, ordered by id",
  responses: { 200: json(z.object({ data: z.array(CampaignSchema) }), "all campaigns"), ...errorResponses(401) },
});

const one = createRoute({
  method: "get",
  path: "/campaigns/{campaign_id}",
  summary: "One campaign",
  request: {
    params: z.object({
      campaign_id: z
        .string()
        .min(1)
        .max(CAMPAIGN_LIMITS.campaignId)
        .openapi({ param: { name: "campaign_id", in: "path" } }),
    }),
  },
  responses: { 200: json(CampaignSchema, "the campaign"), ...errorResponses(400, 401, 404) },
});

/** Registers `POST /campaigns`, `GET /campaigns` and `GET /campaigns/{campaign_id}`. */
export function registerCampaigns(
  app: OpenAPIHono,
  deps: { campaigns: CampaignReader; publisher: CampaignSink; logger: Logger },
) {
  app.openapi(create, async (c) => {
    const input = c.req.valid("json");
    const existed = deps.campaigns.get(input.campaign_id) !== undefined;
    let campaign: Campaign;
    try {
      campaign = await deps.publisher.publish(input);
    } catch (error) {
      deps.logger.warn({ err: error }, "publishing a campaign failed");
      throw new AppError("UNAVAILABLE", "the campaign could not be published; retry", [], 1);
    }
    deps.campaigns.apply(campaign);
    return c.json(campaign, existed ? 200 : 201);
  });
  app.openapi(list, (c) => c.json({ data: deps.campaigns.list() }, 200));
  app.openapi(one, (c) => {
    const campaign = deps.campaigns.get(c.req.valid("param").campaign_id);
    if (campaign === undefined) throw new AppError("NOT_FOUND", "no campaign with this id");
    return c.json(campaign, 200);
  });
}
