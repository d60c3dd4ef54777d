import { type Channel, DEVICE_FIELDS, type EventMessage, type Item, type Properties } from "@sluice/events";

/** Where a row came from in Kafka; the worker uses it to skip what is already stored. */
export interface KafkaPosition {
  topic: string;
  partition: number;
  offset: string;
}

/** One row of the `events` table as JSONEachRow sends and returns it (UInt64 columns come back as strings). */
export interface EventRow {
  event_id: string;
  event_name: string;
  user_id: string;
  timestamp: number | string;
  timestamp_ms: number | string;
  channel: string;
  campaign_id: string;
  session_id: string;
  anonymous_id: string;
  tags: string[];
  metadata_string_keys: string[];
  metadata_string_values: string[];
  metadata_number_keys: string[];
  metadata_number_values: number[];
  metadata_bool_keys: string[];
  metadata_bool_values: number[];
  user_properties_string_keys: string[];
  user_properties_string_values: string[];
  user_properties_number_keys: string[];
  user_properties_number_values: number[];
  user_properties_bool_keys: string[];
  user_properties_bool_values: number[];
  device_category: string;
  device_brand: string;
  device_model: string;
  device_os: string;
  device_os_version: string;
  device_browser: string;
  device_browser_version: string;
  device_language: string;
  device_hostname: string;
  app_id: string;
  app_version: string;
  items: string;
  sent_at_ms: number | string;
  received_at_ms: number | string;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: number | string;
}

/** The columns the worker writes, in table order (inserted_at is MATERIALIZED and never sent). */
export const EVENT_COLUMNS = [
  "event_id",
  "event_name",
  "user_id",
  "timestamp",
  "timestamp_ms",
  "channel",
  "campaign_id",
  "session_id",
  "anonymous_id",
  "tags",
  "metadata_string_keys",
  "metadata_string_values",
  "metadata_number_keys",
  "metadata_number_values",
  "metadata_bool_keys",
  "metadata_bool_values",
  "user_properties_string_keys",
  "user_properties_string_values",
  "user_properties_number_keys",
  "user_properties_number_values",
  "user_properties_bool_keys",
  "user_properties_bool_values",
  "device_category",
  "device_brand",
  "device_model",
  "device_os",
  "device_os_version",
  "device_browser",
  "device_browser_version",
  "device_language",
  "device_hostname",
  "app_id",
  "app_version",
  "items",
  "sent_at_ms",
  "received_at_ms",
  "kafka_topic",
  "kafka_partition",
  "kafka_offset",
] as const satisfies readonly (keyof EventRow)[];

interface TypedColumns {
  string_keys: string[];
  string_values: string[];
  number_keys: string[];
  number_values: number[];
  bool_keys: string[];
  bool_values: number[];
}

function splitByType(properties: Properties | undefined): TypedColumns {
  const columns: TypedColumns = {
    string_keys: [],
    string_values: [],
    number_keys: [],
    number_values: [],
    bool_keys: [],
    bool_values: [],
  };
  for (const [key, value] of Object.entries(properties ?? {})) {
    if (typeof value === "string") {
      columns.string_keys.push(key);
      columns.string_values.push(value);
    } else if (typeof value === "number") {
      columns.number_keys.push(key);
      columns.number_values.push(value);
    } else {
      columns.bool_keys.push(key);
      columns.bool_values.push(value ? 1 : 0);
    }
  }
  return columns;
}

function joinByType(keys: { s: string[]; n: string[]; b: string[] }, values: { s: string[]; n: number[]; b: number[] }) {
  const properties: Properties = {};
  keys.s.forEach((key, i) => {
    properties[key] = values.s[i] ?? "";
  });
  keys.n.forEach((key, i) => {
    properties[key] = Number(values.n[i] ?? 0);
  });
  keys.b.forEach((key, i) => {
    properties[key] = Number(values.b[i] ?? 0) === 1;
  });
  return properties;
}

/** Maps a Kafka event message and its position to an `events` row; every column is sent (see the 18.16 note on defaults). */
export function toEventRow(message: EventMessage, position: KafkaPosition): EventRow {
  const metadata = splitByType(message.metadata);
  const userProperties = splitByType(message.user_properties);
  const device = message.device ?? {};
  return {
    event_id: message.event_id,
    event_name: message.event_name,
    user_id: message.user_id,
    timestamp: Math.floor(message.timestamp / 1000),
    timestamp_ms: message.timestamp,
    channel: message.channel ?? "",
    campaign_id: message.campaign_id ?? "",
    session_id: message.session_id ?? "",
    anonymous_id: message.anonymous_id ?? "",
    tags: message.tags ?? [],
    metadata_string_keys: metadata.string_keys,
    metadata_string_values: metadata.string_values,
    metadata_number_keys: metadata.number_keys,
    metadata_number_values: metadata.number_values,
    metadata_bool_keys: metadata.bool_keys,
    metadata_bool_values: metadata.bool_values,
    user_properties_string_keys: userProperties.string_keys,
    user_properties_string_values: userProperties.string_values,
    user_properties_number_keys: userProperties.number_keys,
    user_properties_number_values: userProperties.number_values,
    user_properties_bool_keys: userProperties.bool_keys,
    user_properties_bool_values: userProperties.bool_values,
    device_category: device.category ?? "",
    device_brand: device.brand ?? "",
    device_model: device.model ?? "",
    device_os: device.os ?? "",
    device_os_version: device.os_version ?? "",
    device_browser: device.browser ?? "",
    device_browser_version: device.browser_version ?? "",
    device_language: device.language ?? "",
    device_hostname: device.hostname ?? "",
    app_id: message.app?.id ?? "",
    app_version: message.app?.version ?? "",
    items: message.items ? JSON.stringify(message.items) : "",
    sent_at_ms: message.sent_at ?? 0,
    received_at_ms: message.received_at,
    kafka_topic: position.topic,
    kafka_partition: position.partition,
    kafka_offset: position.offset,
  };
}

/** An event as the query API returns it: the SPEC's fields, with absent optional fields left out. */
export interface StoredEvent {
  event_id: string;
  event_name: string;
  user_id: string;
  timestamp: number;
  channel?: Channel;
  campaign_id?: string;
  session_id?: string;
  anonymous_id?: string;
  tags: string[];
  metadata: Properties;
  user_properties: Properties;
  device?: Record<string, string>;
  app?: { id?: string; version?: string };
  items?: Item[];
  received_at: number;
  sent_at?: number;
}

/** Maps an `events` row back to the event shape; the inverse of `toEventRow` for every stored field. */
export function fromEventRow(row: EventRow): StoredEvent {
  const event: StoredEvent = {
    event_id: row.event_id,
    event_name: row.event_name,
    user_id: row.user_id,
    timestamp: Number(row.timestamp_ms),
    tags: row.tags,
    metadata: joinByType(
      { s: row.metadata_string_keys, n: row.metadata_number_keys, b: row.metadata_bool_keys },
      { s: row.metadata_string_values, n: row.metadata_number_values, b: row.metadata_bool_values },
    ),
    user_properties: joinByType(
      { s: row.user_properties_string_keys, n: row.user_properties_number_keys, b: row.user_properties_bool_keys },
      { s: row.user_properties_string_values, n: row.user_properties_number_values, b: row.user_properties_bool_values },
    ),
    received_at: Number(row.received_at_ms),
  };
  if (row.channel) event.channel = row.channel as Channel;
  if (row.campaign_id) event.campaign_id = row.campaign_id;
  if (row.session_id) event.session_id = row.session_id;
  if (row.anonymous_id) event.anonymous_id = row.anonymous_id;
  const device: Record<string, string> = {};
  for (const field of DEVICE_FIELDS) {
    const value = row[`device_${field}`];
    if (value) device[field] = value;
  }
  if (Object.keys(device).length > 0) event.device = device;
  if (row.app_id || row.app_version) {
    event.app = {};
    if (row.app_id) event.app.id = row.app_id;
    if (row.app_version) event.app.version = row.app_version;
  }
  if (row.items) event.items = JSON.parse(row.items) as Item[];
  if (Number(row.sent_at_ms) > 0) event.sent_at = Number(row.sent_at_ms);
  return event;
}
