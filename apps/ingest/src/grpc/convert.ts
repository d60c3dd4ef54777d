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

/** Sets the field when it is set; proto3 `optional` leaves unset fields undefined. */
function put(json: Json, key: string, value: unknown): void {
  if (value !== undefined) json[key] = value;
}

/** A Value with no kind set becomes null, which the schema refuses like a JSON null. */
function propertyValue(value: Value): string | number | boolean | null {
  return value.kind.case === undefined ? null : value.kind.value;
}

function properties(map: { [key: string]: Value }): Json | undefined {
  let json: Json | undefined;
  for (const key in map) {
    json ??= {};
    json[key] = propertyValue(map[key] as Value);
  }
  return json;
}

/**
 * The canonical JSON event a proto Event stands for, to be validated by the same schema and service as
 * an HTTP body. Empty event_id means "assign one"; empty required strings stay empty so the schema names
 * them; empty repeated fields and maps are left out, as a JSON client would.
 */
export function toEventInput(event: Event): Json {
  const json: Json = { event_name: event.eventName, user_id: event.userId };
  if (event.eventId !== "") json.event_id = event.eventId;
  const { timestamp } = event;
  if (timestamp.case !== undefined) json.timestamp = timestamp.case === "timestampMs" ? Number(timestamp.value) : timestamp.value;
  put(json, "channel", event.channel);
  put(json, "campaign_id", event.campaignId);
  put(json, "session_id", event.sessionId);
  put(json, "anonymous_id", event.anonymousId);
  if (event.tags.length > 0) json.tags = event.tags;
  put(json, "metadata", properties(event.metadata));
  put(json, "user_properties", properties(event.userProperties));
  const { device, app } = event;
  if (device !== undefined) {
    const out: Json = {};
    put(out, "category", device.category);
    put(out, "brand", device.brand);
    put(out, "model", device.model);
    put(out, "os", device.os);
    put(out, "os_version", device.osVersion);
    put(out, "browser", device.browser);
    put(out, "browser_version", device.browserVersion);
    put(out, "language", device.language);
    put(out, "hostname", device.hostname);
    json.device = withUnknownFields(device, out);
  }
  if (app !== undefined) {
    const out: Json = {};
    put(out, "id", app.id);
    put(out, "version", app.version);
    json.app = withUnknownFields(app, out);
  }
  if (event.items.length > 0) {
    json.items = event.items.map((item) => {
      const out: Json = {};
      put(out, "id", item.id);
      put(out, "name", item.name);
      put(out, "brand", item.brand);
      put(out, "variant", item.variant);
      put(out, "price", item.price);
      if (item.quantity !== undefined) out.quantity = Number(item.quantity);
      return withUnknownFields(item, out);
    });
  }
  return withUnknownFields(event, json);
}

/** The batch envelope a PublishEventsRequest stands for, for the same envelope schema as HTTP. */
export function toBatchInput(request: PublishEventsRequest): Json {
  const json: Json = { events: request.events.map(toEventInput) };
  if (request.sentAtMs !== undefined) json.sent_at = Number(request.sentAtMs);
  return withUnknownFields(request, json);
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
