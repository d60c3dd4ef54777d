import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { type Consumer, type Kafka, retryInBackground } from "@sluice/kafka";
import type { Logger } from "pino";
import { type Campaign, type CampaignRules, decodeCampaign } from "./schema";
import { CampaignStore } from "./store";

export interface CampaignRegistryOptions {
  kafka: Kafka;
  topic: string;
  logger: Logger;
  /** Prefix of the per-process consumer group; each process reads the whole topic itself. */
  groupPrefix?: string;
}

/**
 * Tails the compacted campaigns topic from the beginning into memory. Every process uses a group id
 * of its own and never commits offsets, so it always replays the full (compacted) history and the
 * broker forgets the group once it leaves. Ready once it has read up to the high watermark it saw at
 * start; afterwards it keeps applying new records as they arrive.
 */
export class CampaignRegistry implements CampaignRules {
  private readonly store = new CampaignStore();
  private consumer: Consumer | undefined;
  private readonly pending = new Map<number, bigint>();
  private caughtUp = false;
  private failed: Error | undefined;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly options: CampaignRegistryOptions) {}

  /**
   * Starts tailing and resolves once the registry has caught up with the topic; rejects after
   * `timeoutMs`. After a rejection, call `stop()` before starting again.
   */
  async start(timeoutMs = 30_000): Promise<void> {
    const { kafka, topic, logger } = this.options;
    this.pending.clear();
    this.failed = undefined;
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
        if (BigInt(high) > BigInt(low)) this.pending.set(partition, BigInt(high));
      }
    } finally {
      await admin.disconnect();
    }
    const groupId = `${this.options.groupPrefix ?? "sluice-campaigns"}-${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
    // After a broker restart the consumer rejoins under a new member id and the coordinator waits for the
    // old one's session to lapse; a short session keeps the registry (and so /ready) back within seconds.
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, (event) => {
      const error = event.payload.error;
      this.failed = error;
      logger.error({ err: error, restart: event.payload.restart }, "campaign registry consumer crashed");
    });
    // kafkajs restarts the consumer after a retriable crash (a broker restart, say); once it has rejoined
    // it reads again, so the registry is ready again instead of reporting the old crash forever.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (this.failed !== undefined) logger.info({ topic }, "campaign registry consumer rejoined after a crash");
      this.failed = undefined;
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const key = message.key?.toString();
          if (key === undefined) continue;
          const campaign = decodeCampaign(message.value);
          if (campaign) this.store.put(campaign);
          else if (message.value === null) this.store.delete(key);
          else logger.warn({ key, offset: message.offset }, "ignoring a campaigns record that is not a campaign");
        }
        this.advance(batch.partition, BigInt(batch.lastOffset()) + 1n);
      },
    });
    this.checkCaughtUp();
    await this.waitUntilCaughtUp(timeoutMs);
    logger.info({ campaigns: this.store.size, topic }, "campaign registry caught up");
  }

  private advance(partition: number, next: bigint): void {
    const target = this.pending.get(partition);
    if (target !== undefined && next >= target) this.pending.delete(partition);
    this.checkCaughtUp();
  }

  private checkCaughtUp(): void {
    if (this.caughtUp || this.pending.size > 0) return;
    this.caughtUp = true;
    for (const wake of this.waiters.splice(0)) wake();
  }

  private waitUntilCaughtUp(timeoutMs: number): Promise<void> {
    if (this.caughtUp) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`campaign registry did not catch up within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** True once the history has been read and the consumer has not crashed. */
  get ready(): boolean {
    return this.caughtUp && this.failed === undefined;
  }

  /** Applies a campaign the caller has just published, so its own reads see it before the topic echoes it back. */
  apply(campaign: Campaign): void {
    const current = this.store.get(campaign.campaign_id);
    if (current === undefined || current.updated_at <= campaign.updated_at) this.store.put(campaign);
  }

  /** The campaign with this id, if known. */
  get(campaignId: string): Campaign | undefined {
    return this.store.get(campaignId);
  }

  /** Every known campaign ordered by id. */
  list(): Campaign[] {
    return this.store.list();
  }

  /** The required metadata keys of a known campaign; undefined for an unknown one. */
  requiredMetadata(campaignId: string): readonly string[] | undefined {
    return this.store.requiredMetadata(campaignId);
  }

  /**
   * Starts tailing in the background, retrying (after a clean stop) until it has caught up or
   * `signal` aborts, so an app serves while the broker is still unreachable.
   */
  startInBackground(options: { timeoutMs: number; signal: AbortSignal }): void {
    retryInBackground(
      "campaign registry",
      async () => {
        try {
          await this.start(options.timeoutMs);
        } catch (error) {
          await this.stop();
          throw error;
        }
      },
      { logger: this.options.logger, signal: options.signal },
    );
  }

  /** Stops tailing; the registry keeps answering from what it has. */
  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }
}
