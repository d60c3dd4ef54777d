import type { Kafka, Producer } from "@sluice/kafka";
import { Partitioners } from "kafkajs";
import type { z } from "zod";
import type { Campaign, campaignInputSchema } from "./schema";

export type ValidCampaignInput = z.output<typeof campaignInputSchema>;

/** Anything that can publish a campaign; the query app depends on this, tests hand in a fake. */
export interface CampaignSink {
  /** Publishes the campaign and resolves with the stored record once the broker acknowledged it. */
  publish(input: ValidCampaignInput): Promise<Campaign>;
}

/** Publishes campaigns to the compacted topic keyed by campaign_id, acknowledged by all in-sync replicas. */
export function createCampaignPublisher(producer: Producer, topic: string, now: () => number = Date.now): CampaignSink {
  return {
    async publish(input) {
      const campaign: Campaign = { ...input, updated_at: now() };
      await producer.send({
        topic,
        acks: -1,
        messages: [{ key: campaign.campaign_id, value: JSON.stringify(campaign) }],
      });
      return campaign;
    },
  };
}

/** A producer for the campaigns topic (the topic is never auto-created; it must be compacted). */
export function createCampaignProducer(kafka: Kafka): Producer {
  return kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
}
