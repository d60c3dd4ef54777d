import type { Message, MessageInitShape } from "@bufbuild/protobuf";
import { AppError } from "@sluice/http";
import type { Event, PublishEventsRequest, PublishEventsResponseSchema, Value } from "@sluice/proto";
import type { BatchResult } from "../ingest-service";

type Json = Record<string, unknown>;

/**
 * Unknown fields (a newer client's, or a typo'd schema) become keys named `#<field number>`, so the
 * strict event schema rejects them as it rejects unknown JSON fields: "unknown field" at their path.
 */
function withUnknownFields(message: Message, json: Json): Json {
  for (const field of message.$unknown ?? []) json[`#${field.no}`] = true;
  return json;
}

/** Copies the fields that are set; proto3 `optional` leaves unset fields undefined. */
function defined(fields: Json): Json {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

/** A Value with no kind set becomes null, which the schema refuses like a JSON null. */
function propertyValue(value: Value): string | number | boolean | null {
  return value.kind.case === undefined ? null : value.kind.value;
}

function properties(map: { [key: string]: Value }): Json | undefined {
  const entries = Object.entries(map);
  return entries.length === 0 ? undefined : Object.fromEntries(entries.map(([key, value]) => [key, propertyValue(value)]));
}

/**
 * The canonical JSON event a proto Event stands for, to be validated by the same schema and service as
 * an HTTP body. Empty event_id means "assign one"; empty required strings stay empty so the schema names
 * them; empty repeated fields and maps are left out, as a JSON client would.
 */
export function toEventInput(event: Event): Json {
  const json: Json = defined({
    event_id: event.eventId === "" ? undefined : event.eventId,
    event_name: event.eventName,
    user_id: event.userId,
    timestamp: event.timestamp.case === "timestampMs" ? Number(event.timestamp.value) : event.timestamp.value,
    channel: event.channel,
    campaign_id: event.campaignId,
    session_id: event.sessionId,
    anonymous_id: event.anonymousId,
    tags: event.tags.length === 0 ? undefined : event.tags,
    metadata: properties(event.metadata),
    user_properties: properties(event.userProperties),
    device:
      event.device &&
      withUnknownFields(
        event.device,
        defined({
          category: event.device.category,
          brand: event.device.brand,
          model: event.device.model,
          os: event.device.os,
          os_version: event.device.osVersion,
          browser: event.device.browser,
          browser_version: event.device.browserVersion,
          language: event.device.language,
          hostname: event.device.hostname,
        }),
      ),
    app: event.app && withUnknownFields(event.app, defined({ id: event.app.id, version: event.app.version })),
    items:
      event.items.length === 0
        ? undefined
        : event.items.map((item) =>
            withUnknownFields(
              item,
              defined({
                id: item.id,
                name: item.name,
                brand: item.brand,
                variant: item.variant,
                price: item.price,
                quantity: item.quantity === undefined ? undefined : Number(item.quantity),
              }),
            ),
          ),
  });
  return withUnknownFields(event, json);
}

/** The batch envelope a PublishEventsRequest stands for, for the same envelope schema as HTTP. */
export function toBatchInput(request: PublishEventsRequest): Json {
  return withUnknownFields(
    request,
    defined({
      events: request.events.map(toEventInput),
      sent_at: request.sentAtMs === undefined ? undefined : Number(request.sentAtMs),
    }),
  );
}

/** Refuses unknown fields on a request that has no schema of its own (PublishEventRequest). */
export function rejectUnknownFields(message: Message): void {
  const unknown = message.$unknown ?? [];
  if (unknown.length > 0) {
    throw new AppError(
      "VALIDATION_FAILED",
      "the request has unknown fields",
      unknown.map((field) => ({ path: `#${field.no}`, message: "unknown field" })),
    );
  }
}

/** The batch result as PublishEventsResponse: empty ids for rejected events, rejections by index. */
export function toBatchResponse(result: BatchResult): MessageInitShape<typeof PublishEventsResponseSchema> {
  return {
    accepted: result.accepted,
    eventIds: result.eventIds.map((id) => id ?? ""),
    rejected: result.rejected.map((rejection) => ({
      index: rejection.index,
      code: rejection.error.code,
      message: rejection.error.message,
      details: rejection.error.details.map((d) => ({ path: d.path, message: d.message })),
    })),
  };
}
