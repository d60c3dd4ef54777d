-- HyperLogLog sketches of unique users beside the uniq states, for GET /metrics over many events.
-- Reading a uniq state costs one step per user hash it holds (up to 65,536), so 30 days of 10M events
-- (about 10M hashes across the hour rows) take seconds. A uniqHLL12 state costs at most 4,096 register
-- steps however many users it saw, about a hundredth of that, but it is an estimate (about 1.6 % off)
-- where uniq is exact below 65,536 users. The query app therefore merges the uniq states when a request
-- covers at most 65,536 events, and the sketches above that (apps/query/src/queries/metrics.ts).
ALTER TABLE events_rollup ADD COLUMN users_hll AggregateFunction(uniqHLL12, String);

ALTER TABLE events_hourly ADD COLUMN users_hll AggregateFunction(uniqHLL12, String);

-- A materialized view's query cannot be altered on 18.16, so both views are created again with the sketch.
-- Run migrations with the worker stopped (`make migrate` runs before `make start`): an insert landing
-- between a DROP and its CREATE would be missing from that view.
DROP TABLE IF EXISTS events_rollup_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_rollup_mv TO events_rollup AS
SELECT
    arrayJoin(['hour', 'day', 'day_channel', 'day_campaign']) AS kind,
    arrayJoin([CAST(event_name AS String), '']) AS name,
    if(kind = 'hour', toStartOfHour(timestamp), toDateTime(intDiv(toUInt32(timestamp), 86400) * 86400)) AS bucket,
    multiIf(kind = 'day_channel', CAST(channel AS String), kind = 'day_campaign', campaign_id, '') AS value,
    countState() AS events,
    uniqState(user_id) AS users,
    uniqHLL12State(user_id) AS users_hll
FROM events
GROUP BY kind, name, bucket, value;

DROP TABLE IF EXISTS events_hourly_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_hourly_mv TO events_hourly AS
SELECT
    toStartOfHour(timestamp) AS hour,
    event_name,
    channel,
    campaign_id,
    countState() AS events,
    uniqState(user_id) AS users,
    uniqHLL12State(user_id) AS users_hll
FROM events
GROUP BY hour, event_name, channel, campaign_id;

-- Backfill the sketches from the raw rows. The other columns take their empty states, so these rows add
-- nothing to counts or uniq states; a sketch merged twice is the same sketch, so an insert that reached
-- the new views before this read changes nothing.
INSERT INTO events_rollup (kind, name, bucket, value, users_hll)
SELECT
    arrayJoin(['hour', 'day', 'day_channel', 'day_campaign']) AS kind,
    arrayJoin([CAST(event_name AS String), '']) AS name,
    if(kind = 'hour', toStartOfHour(timestamp), toDateTime(intDiv(toUInt32(timestamp), 86400) * 86400)) AS bucket,
    multiIf(kind = 'day_channel', CAST(channel AS String), kind = 'day_campaign', campaign_id, '') AS value,
    uniqHLL12State(user_id) AS users_hll
FROM events
GROUP BY kind, name, bucket, value;

INSERT INTO events_hourly (hour, event_name, channel, campaign_id, users_hll)
SELECT
    toStartOfHour(timestamp) AS hour,
    event_name,
    channel,
    campaign_id,
    uniqHLL12State(user_id) AS users_hll
FROM events
GROUP BY hour, event_name, channel, campaign_id;
