-- Weekly rows in events_rollup, so a sketched GET /metrics over 30 days merges four or five week states per
-- group and a few day states around them, where it merged a state per day: a HyperLogLog merge costs about
-- 20 µs on 18.16, so 30 days by channel (300 day states) spent more on merging than on everything else.
--   kind 'week'           bucket = Monday 00:00 UTC   value ''
--   kind 'week_channel'   bucket = Monday 00:00 UTC   value channel
--   kind 'week_campaign'  bucket = Monday 00:00 UTC   value campaign_id
-- each once with name = its event name and once with name = '' (all events), as in 0002_rollups.sql. The week
-- is computed from unix seconds (the epoch fell on a Thursday, three days after a Monday), so it is UTC
-- whatever the server's time zone. Counts and sketches only: the uniq states (exact unique users) are read
-- for ranges of at most 65,536 events, which the daily rows serve cheaply, and building them is most of a
-- view's cost per insert. `users` gets an empty state: 18.16 requires every target column from a view.
-- A view of its own: the other views stay as they are, so no insert can slip between a DROP and a CREATE.
CREATE MATERIALIZED VIEW IF NOT EXISTS events_rollup_weekly_mv TO events_rollup AS
SELECT
    arrayJoin(['week', 'week_channel', 'week_campaign']) AS kind,
    arrayJoin([CAST(event_name AS String), '']) AS name,
    toDateTime(intDiv(toUInt32(timestamp) + 259200, 604800) * 604800 - 259200) AS bucket,
    multiIf(kind = 'week_channel', CAST(channel AS String), kind = 'week_campaign', campaign_id, '') AS value,
    countState() AS events,
    uniqStateIf(user_id, 0) AS users,
    uniqHLL12State(user_id) AS users_hll
FROM events
GROUP BY kind, name, bucket, value;

-- Backfill from the daily rows' states (the same states the view builds from the raw rows: merges are
-- lossless). Run migrations with the worker stopped (`make migrate` runs before `make start`): an insert
-- landing between the CREATE above and this read would be counted twice in the week kinds (unique users
-- are unaffected).
INSERT INTO events_rollup (kind, name, bucket, value, events, users_hll)
SELECT
    replaceOne(kind, 'day', 'week') AS week_kind,
    name,
    toDateTime(intDiv(toUInt32(bucket) + 259200, 604800) * 604800 - 259200) AS week,
    value,
    countMergeState(events) AS week_events,
    uniqHLL12MergeState(users_hll) AS week_users_hll
FROM events_rollup
WHERE kind IN ('day', 'day_channel', 'day_campaign')
GROUP BY week_kind, name, week, value;
