import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StoredEvent } from "@sluice/clickhouse";
import type { Properties } from "@sluice/events";
import { type FailedEventSchema, GroupBy, type StoredEventSchema, type ValueSchema } from "@sluice/proto";
import type { FailedEvent } from "../queries/events";
import type { GroupBy as GroupByName } from "../queries/metrics";

function toValue(value: string | number | boolean): MessageInitShape<typeof ValueSchema> {
  if (typeof value === "string") return { kind: { case: "stringValue", value } };
  if (typeof value === "number") return { kind: { case: "numberValue", value } };
  return { kind: { case: "boolValue", value } };
}

function toValues(properties: Properties): Record<string, MessageInitShape<typeof ValueSchema>> {
  return Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, toValue(value)]));
}

/** A stored event as sluice.v1.StoredEvent: the same fields GET /events/{id} answers with. */
export function toStoredEventMessage(event: StoredEvent): MessageInitShape<typeof StoredEventSchema> {
  const device = event.device;
  return {
    event: {
      eventId: event.event_id,
      eventName: event.event_name,
      userId: event.user_id,
      timestamp: { case: "timestampMs", value: BigInt(event.timestamp) },
      channel: event.channel,
      campaignId: event.campaign_id,
      sessionId: event.session_id,
      anonymousId: event.anonymous_id,
      tags: event.tags,
      metadata: toValues(event.metadata),
      userProperties: toValues(event.user_properties),
      device: device && {
        category: device.category,
        brand: device.brand,
        model: device.model,
        os: device.os,
        osVersion: device.os_version,
        browser: device.browser,
        browserVersion: device.browser_version,
        language: device.language,
        hostname: device.hostname,
      },
      app: event.app,
      items: (event.items ?? []).map((item) => ({
        ...item,
        quantity: item.quantity === undefined ? undefined : BigInt(item.quantity),
      })),
    },
    receivedAtMs: BigInt(event.received_at),
    sentAtMs: event.sent_at === undefined ? undefined : BigInt(event.sent_at),
  };
}

/** A dead-letter record as sluice.v1.FailedEvent. */
export function toFailedEventMessage(failed: FailedEvent): MessageInitShape<typeof FailedEventSchema> {
  return {
    eventId: failed.event_id,
    reason: failed.reason,
    details: failed.details,
    payload: failed.payload,
    failedAt: failed.failed_at,
    deadLetterStatus: failed.dead_letter_status,
    kafkaTopic: failed.kafka.topic,
    kafkaPartition: failed.kafka.partition,
    kafkaOffset: failed.kafka.offset,
  };
}

const GROUP_BY_NAMES: Record<GroupBy, GroupByName | undefined> = {
  [GroupBy.UNSPECIFIED]: undefined,
  [GroupBy.HOUR]: "hour",
  [GroupBy.DAY]: "day",
  [GroupBy.CHANNEL]: "channel",
  [GroupBy.CAMPAIGN]: "campaign",
};

/** The group_by parameter a GroupBy stands for; unspecified takes the HTTP default, an unknown number stays invalid. */
export function groupByName(groupBy: GroupBy): string | undefined {
  return groupBy in GROUP_BY_NAMES ? GROUP_BY_NAMES[groupBy] : `unknown (${groupBy})`;
}

/** The GroupBy of a group_by name. */
export function groupByEnum(name: GroupByName): GroupBy {
  const entry = Object.entries(GROUP_BY_NAMES).find(([, value]) => value === name);
  return entry === undefined ? GroupBy.UNSPECIFIED : (Number(entry[0]) as GroupBy);
}
