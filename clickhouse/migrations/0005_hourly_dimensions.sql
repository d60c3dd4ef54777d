-- Hourly rows by channel and by campaign in events_rollup, for the partial days at either end of a
-- group_by=channel or campaign request (a range ending "now" has them). Those hours were read from
-- events_hourly, which keeps a row per hour, event name, channel AND campaign: over all events a partial day
-- is tens of thousands of rows to merge, where these kinds hold a row per hour and channel (or campaign).
--   kind 'hour_channel'   bucket = UTC hour   value channel
--   kind 'hour_campaign'  bucket = UTC hour   value campaign_id
-- each once with name = its event name and once with name = '' (all events), as in 0002_rollups.sql.
-- A view of its own: events_rollup_mv stays as it is, so no insert can slip between a DROP and a CREATE.
CREATE MATERIALIZED VIEW IF NOT EXISTS events_rollup_hourly_mv TO events_rollup AS
SELECT
    arrayJoin(['hour_channel', 'hour_campaign']) AS kind,
    arrayJoin([CAST(event_name AS String), '']) AS name,
    toStartOfHour(timestamp) AS bucket,
    if(kind = 'hour_channel', CAST(channel AS String), campaign_id) AS value,
    countState() AS events,
    uniqState(user_id) AS users,
    uniqHLL12State(user_id) AS users_hll
FROM events
GROUP BY kind, name, bucket, value;

-- Backfill from the hourly view's states, as 0002 does. Run migrations with the worker stopped (`make migrate`
-- runs before `make start`): an insert landing between the CREATE above and this read would be counted twice
-- in the new kinds (unique users are unaffected).
INSERT INTO events_rollup (kind, name, bucket, value, events, users, users_hll)
SELECT
    arrayJoin(['hour_channel', 'hour_campaign']) AS kind,
    arrayJoin([CAST(event_name AS String), '']) AS name,
    hour AS bucket,
    if(kind = 'hour_channel', CAST(channel AS String), campaign_id) AS value,
    countMergeState(events) AS events,
    uniqMergeState(users) AS users,
    uniqHLL12MergeState(users_hll) AS users_hll
FROM events_hourly
GROUP BY kind, name, bucket, value;
