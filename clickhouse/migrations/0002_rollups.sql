-- Rollups for GET /metrics, so a request merges few unique-user states. Each event is counted in 8 rows:
--   kind 'hour'          bucket = UTC hour  value ''             hour series, and the partial-day edges of a range
--   kind 'day'           bucket = UTC day   value ''             day series, and totals over whole days
--   kind 'day_channel'   bucket = UTC day   value channel        group_by=channel over whole days
--   kind 'day_campaign'  bucket = UTC day   value campaign_id    group_by=campaign over whole days
-- each once with name = its event name and once with name = '' (all events; event names are never empty).
-- A request's cost is the number of user hashes in the uniq states it reads (uniq keeps up to 65,536 per
-- state, exact below that): a day's state over all events stops growing there, whereas the per-name
-- states of that day would repeat each user once per name.
-- One view fans every event out to its 8 rows (arrayJoin), so an insert writes one more part, not eight.
-- Edges of channel and campaign requests come from events_hourly. index_granularity 8: a state can hold
-- 65k hashes, and a default granule (8192 rows) would make one day's read deserialize its neighbours.
CREATE TABLE IF NOT EXISTS events_rollup (
    kind String,
    name String,
    bucket DateTime,
    value String,
    events AggregateFunction(count),
    users AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (kind, name, bucket, value)
SETTINGS index_granularity = 8;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_rollup_mv TO events_rollup AS
SELECT
    arrayJoin(['hour', 'day', 'day_channel', 'day_campaign']) AS kind,
    arrayJoin([CAST(event_name AS String), '']) AS name,
    if(kind = 'hour', toStartOfHour(timestamp), toDateTime(intDiv(toUInt32(timestamp), 86400) * 86400)) AS bucket,
    multiIf(kind = 'day_channel', CAST(channel AS String), kind = 'day_campaign', campaign_id, '') AS value,
    countState() AS events,
    uniqState(user_id) AS users
FROM events
GROUP BY kind, name, bucket, value;

-- Backfill from the hourly view's states (-MergeState: the same states the view above would have built from
-- the raw rows, at a fraction of the read). Run migrations with the worker stopped (`make migrate` runs
-- before `make start`): an insert that lands between the CREATE MATERIALIZED VIEW above and this read is
-- fed to events_rollup by the view AND read here from events_hourly, so its events are counted twice in
-- events_rollup (unique users are unaffected); nothing inserted before the view existed is missed.
INSERT INTO events_rollup
SELECT
    arrayJoin(['hour', 'day', 'day_channel', 'day_campaign']) AS kind,
    arrayJoin([CAST(event_name AS String), '']) AS name,
    if(kind = 'hour', hour, toDateTime(intDiv(toUInt32(hour), 86400) * 86400)) AS bucket,
    multiIf(kind = 'day_channel', CAST(channel AS String), kind = 'day_campaign', campaign_id, '') AS value,
    countMergeState(events) AS events,
    uniqMergeState(users) AS users
FROM events_hourly
GROUP BY kind, name, bucket, value;
