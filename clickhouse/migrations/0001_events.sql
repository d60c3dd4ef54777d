-- Raw events: one row per accepted event, inserted once by the worker. Ordered for the SPEC's
-- reads by event name and time; PARTITION BY month keeps parts small and drops cheap.
-- Typed metadata and user properties sit in parallel key/value arrays per type, so a number stays a
-- number and a boolean a boolean. kafka_* columns record where each row came from: the worker reads
-- them back after a crash to skip what is already stored.
CREATE TABLE IF NOT EXISTS events (
    event_id UUID,
    event_name LowCardinality(String),
    user_id String,
    timestamp DateTime,
    timestamp_ms UInt64,
    channel LowCardinality(String),
    campaign_id String,
    session_id String,
    anonymous_id String,
    tags Array(String),
    metadata_string_keys Array(String),
    metadata_string_values Array(String),
    metadata_number_keys Array(String),
    metadata_number_values Array(Float64),
    metadata_bool_keys Array(String),
    metadata_bool_values Array(UInt8),
    user_properties_string_keys Array(String),
    user_properties_string_values Array(String),
    user_properties_number_keys Array(String),
    user_properties_number_values Array(Float64),
    user_properties_bool_keys Array(String),
    user_properties_bool_values Array(UInt8),
    device_category LowCardinality(String),
    device_brand LowCardinality(String),
    device_model String,
    device_os LowCardinality(String),
    device_os_version String,
    device_browser LowCardinality(String),
    device_browser_version String,
    device_language LowCardinality(String),
    device_hostname String,
    app_id String,
    app_version String,
    items String,
    sent_at_ms UInt64,
    received_at_ms UInt64,
    inserted_at DateTime MATERIALIZED now(),
    kafka_topic LowCardinality(String),
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (event_name, timestamp, event_id);

-- Look-up by event_id without scanning the raw table: the id, and the raw table's sort key to fetch the row.
CREATE TABLE IF NOT EXISTS events_by_id (
    event_id UUID,
    event_name LowCardinality(String),
    timestamp DateTime,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY event_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_by_id_mv TO events_by_id AS
SELECT event_id, event_name, timestamp, kafka_partition, kafka_offset FROM events;

-- The highest stored offset per topic partition, so a restarted worker skips what already landed.
CREATE TABLE IF NOT EXISTS events_offsets (
    kafka_topic LowCardinality(String),
    kafka_partition UInt32,
    max_offset AggregateFunction(max, UInt64)
) ENGINE = AggregatingMergeTree
ORDER BY (kafka_topic, kafka_partition);

CREATE MATERIALIZED VIEW IF NOT EXISTS events_offsets_mv TO events_offsets AS
SELECT kafka_topic, kafka_partition, maxState(kafka_offset) AS max_offset
FROM events
GROUP BY kafka_topic, kafka_partition;

-- Hour-grain aggregates: counts and unique-user states per (event_name, channel, campaign_id).
-- The query app merges states across hours and groups, so unique users are never sums of counts.
CREATE TABLE IF NOT EXISTS events_hourly (
    hour DateTime,
    event_name LowCardinality(String),
    channel LowCardinality(String),
    campaign_id String,
    events AggregateFunction(count),
    users AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (event_name, hour, channel, campaign_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS events_hourly_mv TO events_hourly AS
SELECT
    toStartOfHour(timestamp) AS hour,
    event_name,
    channel,
    campaign_id,
    countState() AS events,
    uniqState(user_id) AS users
FROM events
GROUP BY hour, event_name, channel, campaign_id;

-- Messages the worker could never insert (not JSON, schema violations), with the reason and the
-- original bytes; one row per topic offset however often it is recorded.
CREATE TABLE IF NOT EXISTS events_dead_letter (
    event_id String,
    kafka_topic LowCardinality(String),
    kafka_partition UInt32,
    kafka_offset UInt64,
    reason String,
    details String,
    payload String,
    status LowCardinality(String),
    failed_at DateTime
) ENGINE = ReplacingMergeTree(failed_at)
ORDER BY (kafka_topic, kafka_partition, kafka_offset);
