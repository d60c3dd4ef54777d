import { type ClickHouse, join, raw, type SqlFragment, sql } from "@sluice/clickhouse";
import { z } from "zod";
import { bucketStarts, DAY_MS, HOUR_MS, isoSeconds, type TimeRange } from "../params/time";

export const GROUP_BY = ["channel", "hour", "day", "campaign"] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export interface MetricsQuery extends TimeRange {
  eventName?: string | undefined;
  groupBy: GroupBy;
}

export interface MetricsGroup {
  group: string | null;
  total_events: number;
  unique_users: number;
}

export interface Metrics {
  event_name: string | null;
  from: string;
  to: string;
  grouped_by: GroupBy;
  total_events: number;
  unique_users: number;
  data: MetricsGroup[];
}

interface GroupRow {
  g: string | number;
  e: number;
  u: number;
}

/** A half-open span of unix seconds. */
export interface Span {
  from: number;
  to: number;
}

const DAY_SECONDS = 86_400;

/**
 * The range in unix seconds, split into the whole UTC days inside it (served by the daily rollups) and the
 * hours outside them at either end (served by hourly rows). A range within one day is all edge.
 */
export function splitRange(range: TimeRange): { days: Span | undefined; edges: Span[] } {
  const from = Math.floor(range.fromMs / 1000);
  const to = Math.floor(range.toMs / 1000);
  const firstDay = Math.ceil(from / DAY_SECONDS) * DAY_SECONDS;
  const lastDay = Math.floor(to / DAY_SECONDS) * DAY_SECONDS;
  if (firstDay >= lastDay) return { days: undefined, edges: from < to ? [{ from, to }] : [] };
  const edges = [
    { from, to: firstDay },
    { from: lastDay, to },
  ].filter((span) => span.from < span.to);
  return { days: { from: firstDay, to: lastDay }, edges };
}

/** `events_rollup.name` of the rows that count every event name (event names are never empty). */
const ALL_EVENTS = "";

/** Rows tagged GROUP are the response's groups; rows tagged TOTAL only feed the total. */
const GROUP = 0;
const TOTAL = 1;

function inSpans(column: SqlFragment, spans: Span[]): SqlFragment {
  return join(
    spans.map((span) => sql`(${column} >= toDateTime(${span.from}) AND ${column} < toDateTime(${span.to}))`),
    " OR ",
  );
}

/**
 * Up to this many events in a request's range, unique users are merged from the uniq states: exact (a
 * range of at most 65,536 events has at most 65,536 users) and cheap (a step per event at most). Above it
 * they come from the HyperLogLog sketches, about 1.6 % off but at a cost that stops growing with the
 * events, where the uniq states would cost a step per user and hour (0004_unique_sketches.sql).
 */
export const EXACT_UNIQUES_MAX_EVENTS = 65_536;

/** The columns each row of a request's union carries, as the answer's query and the counts' read them. */
const UNIQ_STATES = raw("events, users AS u");
const SKETCH_STATES = raw("events, users_hll AS u");
/** Sketches finalized as they are read: a stage later, every sketch would be carried through it first (~5 ms an hour series). */
const FINALIZED_SKETCH_STATES = raw("events, users_hll AS u, finalizeAggregation(users_hll) AS f");
const COUNT_STATES = raw("events");

/** The estimator for a request whose range holds `events` events. */
export function estimatorFor(events: number): "exact" | "sketch" {
  return events <= EXACT_UNIQUES_MAX_EVENTS ? "exact" : "sketch";
}

/** States of one events_rollup kind over the spans, keyed by `group`. */
function rollupRows(
  kind: string,
  name: string,
  spans: Span[],
  group: SqlFragment,
  tag: number,
  states: SqlFragment,
): SqlFragment[] {
  if (spans.length === 0) return [];
  return [
    sql`SELECT ${tag} AS t, ${group} AS g, ${states} FROM events_rollup
        WHERE kind = ${kind} AND name = ${name} AND (${inSpans(raw("bucket"), spans)})`,
  ];
}

/**
 * The events_rollup rows of every event name that cover the range with the fewest rows: daily ones for its
 * whole days, hourly ones for its partial days (pair it with a condition on `name`).
 */
export function coveringRollups(range: TimeRange): SqlFragment {
  const { days, edges } = splitRange(range);
  const parts: SqlFragment[] = [];
  if (days !== undefined) parts.push(sql`(kind = 'day' AND (${inSpans(raw("bucket"), [days])}))`);
  if (edges.length > 0) parts.push(sql`(kind = 'hour' AND (${inSpans(raw("bucket"), edges)}))`);
  return parts.length > 0 ? join(parts, " OR ") : raw("0");
}

/** Adjacent spans (a range's days and edges) as the one span they make up: one condition reads faster than ORs. */
function contiguous(spans: Span[]): Span[] {
  if (spans.length === 0) return [];
  return [{ from: Math.min(...spans.map((span) => span.from)), to: Math.max(...spans.map((span) => span.to)) }];
}

const BUCKET_SECONDS = raw("toUInt32(toUnixTimestamp(bucket))");
const BUCKET_DAY = raw("toUInt32(intDiv(toUnixTimestamp(bucket), 86400) * 86400)");

/**
 * The rows an exact answer merges, and whether the total has rows of its own. The total is the merge of
 * the group states (nothing is read twice), except for hour groups over all events: there the daily states
 * are cheaper to read and merge than the hours' (a day's uniq state stops at 65,536 hashes, while its 24
 * hour states hold a hash per user and hour; measured 15 % less CPU at 10M events, and 20 % more for one
 * event name, whose day states stay below that cap).
 */
function metricsRows(query: MetricsQuery, states: SqlFragment): { rows: SqlFragment[]; separateTotal: boolean } {
  const { whole, edges, name, noGroup } = requestParts(query);
  const groups = groupRows(query, name, whole, edges, states);
  const separateTotal = query.groupBy === "hour" && whole.length > 0 && query.eventName === undefined;
  if (!separateTotal) return { rows: groups, separateTotal };
  return { rows: [...groups, ...totalRows(name, whole, edges, noGroup, states)], separateTotal };
}

/** The fewest rows covering the range for its total: the whole days' daily states and the edge hours'. */
function totalRows(name: string, whole: Span[], edges: Span[], noGroup: SqlFragment, states: SqlFragment): SqlFragment[] {
  return [...rollupRows("day", name, whole, noGroup, TOTAL, states), ...rollupRows("hour", name, edges, noGroup, TOTAL, states)];
}

/** What every request's rows are built from: its whole days, its edge hours, the rollup name and the total's group key. */
function requestParts(query: MetricsQuery): { whole: Span[]; edges: Span[]; name: string; noGroup: SqlFragment } {
  const { days, edges } = splitRange(query);
  const numbered = query.groupBy === "hour" || query.groupBy === "day";
  return {
    whole: days === undefined ? [] : [days],
    edges,
    name: query.eventName ?? ALL_EVENTS,
    noGroup: numbered ? raw("toUInt32(0)") : raw("''"),
  };
}

/**
 * A sketched answer's group rows, and the rows of its total apart: the total is merged in a subquery of its
 * own and joined to the groups' single row, where tagging its rows into the groups' GROUP BY carried every
 * group's sketch through one more stage (with sketches finalized as read, ~20–30 % of ClickHouse's CPU for
 * an hour series with partial days).
 */
function sketchRows(query: MetricsQuery, groupStates: SqlFragment): { groups: SqlFragment[]; total: SqlFragment } {
  const { whole, edges, name, noGroup } = requestParts(query);
  const totals = totalRows(name, whole, edges, noGroup, SKETCH_STATES);
  return {
    groups: groupRows(query, name, whole, edges, groupStates),
    total: sql`(SELECT countMerge(events) AS te, uniqHLL12Merge(u) AS tu FROM (${join(totals, " UNION ALL ")})) AS total`,
  };
}

/** The rows of the response's groups: whole days from daily rollups, edges from hourly ones (0002, 0005). */
function groupRows(query: MetricsQuery, name: string, whole: Span[], edges: Span[], states: SqlFragment): SqlFragment[] {
  switch (query.groupBy) {
    case "hour":
      return rollupRows("hour", name, contiguous([...whole, ...edges]), BUCKET_SECONDS, GROUP, states);
    case "day":
      return [
        ...rollupRows("day", name, whole, BUCKET_SECONDS, GROUP, states),
        ...rollupRows("hour", name, edges, BUCKET_DAY, GROUP, states),
      ];
    case "channel":
      return [
        ...rollupRows("day_channel", name, whole, raw("value"), GROUP, states),
        ...rollupRows("hour_channel", name, edges, raw("value"), GROUP, states),
      ];
    case "campaign":
      return [
        ...rollupRows("day_campaign", name, whole, raw("value"), GROUP, states),
        ...rollupRows("hour_campaign", name, edges, raw("value"), GROUP, states),
      ];
  }
}

const answerRow = z.object({
  gs: z.array(z.union([z.string(), z.number()])),
  es: z.array(z.coerce.number()),
  us: z.array(z.coerce.number()),
  te: z.coerce.number(),
  tu: z.coerce.number(),
  /** Sketched answers only: groups that gained a row since the counts read. */
  races: z.coerce.number().default(0),
});

type AnswerRow = z.output<typeof answerRow>;

const EMPTY_ANSWER: AnswerRow = { gs: [], es: [], us: [], te: 0, tu: 0, races: 0 };

/**
 * Exact unique users: the inner query merges the uniq states per group; the outer one finalizes each
 * group and merges states into the total (never a sum of per-group uniques).
 */
async function exactAnswer(db: ClickHouse, query: MetricsQuery): Promise<AnswerRow> {
  const { rows, separateTotal } = metricsRows(query, UNIQ_STATES);
  if (rows.length === 0) return EMPTY_ANSWER;
  const totalTag = separateTotal ? TOTAL : GROUP;
  const [row] = await db.query(
    sql`SELECT groupArrayIf(g, t = ${GROUP}) AS gs, groupArrayIf(e, t = ${GROUP}) AS es,
               groupArrayIf(finalizeAggregation(s), t = ${GROUP}) AS us,
               sumIf(e, t = ${totalTag}) AS te, uniqMergeIf(s, t = ${totalTag}) AS tu
        FROM (SELECT t, g, countMerge(events) AS e, uniqMergeState(u) AS s
              FROM (${join(rows, " UNION ALL ")}) GROUP BY t, g)`,
  );
  return answerRow.parse(row ?? EMPTY_ANSWER);
}

/**
 * Sketched unique users. Merging sketches costs several times more than finalizing one, and most groups
 * of an hour or day series are a single row once ClickHouse has merged their parts (an hour series is 720
 * of them), so only the groups named as having several rows are merged; the others are finalized as they
 * are. The total is merged from its own day and edge-hour rows (sketchRows). A group found with several
 * rows it was not named for (an insert not merged yet) answers NULL, and the request is answered again
 * merging every group.
 */
async function sketchAnswer(db: ClickHouse, query: MetricsQuery, multiRowGroups: MultiRowGroups): Promise<AnswerRow> {
  if (multiRowGroups === "all") return await mergedSketchAnswer(db, query);
  const rows = sketchRows(query, FINALIZED_SKETCH_STATES);
  if (rows.groups.length === 0) return EMPTY_ANSWER;
  const merged = groupsToMerge(multiRowGroups);
  const [row] = await db.query(
    sql`SELECT groupArray(g) AS gs, groupArray(e) AS es, groupArray(ifNull(n, 0)) AS us, any(te) AS te, any(tu) AS tu,
               countIf(isNull(n)) AS races
        FROM (SELECT g, countMerge(events) AS e,
                     if(count() = 1, any(f), if(countIf(${merged}) = count(), uniqHLL12MergeIf(u, ${merged}), NULL)) AS n
              FROM (${join(rows.groups, " UNION ALL ")})
              GROUP BY g) AS per_group
        CROSS JOIN ${rows.total}`,
  );
  const answer = answerRow.parse(row ?? EMPTY_ANSWER);
  if (answer.races > 0) return await mergedSketchAnswer(db, query);
  return answer;
}

/**
 * Sketched unique users merging every group: what channel and campaign requests always do (a group has a
 * row per day or hour), without finalizing each row first, which would cost a third of the answer for
 * nothing (~330 finalizations).
 */
async function mergedSketchAnswer(db: ClickHouse, query: MetricsQuery): Promise<AnswerRow> {
  const rows = sketchRows(query, SKETCH_STATES);
  if (rows.groups.length === 0) return EMPTY_ANSWER;
  const [row] = await db.query(
    sql`SELECT groupArray(g) AS gs, groupArray(e) AS es, groupArray(n) AS us, any(te) AS te, any(tu) AS tu
        FROM (SELECT g, countMerge(events) AS e, uniqHLL12Merge(u) AS n FROM (${join(rows.groups, " UNION ALL ")}) GROUP BY g)
          AS per_group
        CROSS JOIN ${rows.total}`,
  );
  return answerRow.parse(row ?? EMPTY_ANSWER);
}

/** The groups whose rows must be merged: those named, or every group. */
type MultiRowGroups = (string | number)[] | "all";

/** Which group rows a sketched answer merges: those of the groups named (an empty IN is not SQL). */
function groupsToMerge(multiRowGroups: (string | number)[]): SqlFragment {
  if (multiRowGroups.length === 0) return raw("0");
  return sql`g IN (${join(
    multiRowGroups.map((group) => sql`${group}`),
    ", ",
  )})`;
}

/**
 * Counts and unique users per group and in total over the rollups (see 0002_rollups.sql): whole UTC
 * days from daily states, the partial days at either end from hourly ones. `counts` (queryMetricsCounts)
 * give the range's event count, which picks the unique-user estimator, and the groups to merge. Hour and
 * day groups list every bucket of the range, empty ones with zeros; channel and campaign groups list those
 * with events, most events first, with null for events that named none.
 */
export async function queryMetrics(
  db: ClickHouse,
  query: MetricsQuery,
  counts: Pick<MetricsCounts, "events" | "multiRowGroups">,
): Promise<Metrics> {
  const result =
    estimatorFor(counts.events) === "exact" ? await exactAnswer(db, query) : await sketchAnswer(db, query, counts.multiRowGroups);
  return toMetrics(query, result);
}

/**
 * The same answer as queryMetrics without a counts read before it, so most requests cost one query: the
 * sketched answer comes first and gives the range's events; at most EXACT_UNIQUES_MAX_EVENTS of them, the
 * exact answer replaces it. Hour groups and whole days are taken as single rows (their parts merged): a
 * group with several rows answers NULL and the race fallback merges every group. The groups known to have
 * several rows are merged from the start (knownMultiRowGroups). `version` is the answer's own group counts, as
 * queryMetricsCounts would have read them from the same rows.
 */
export async function answerMetrics(db: ClickHouse, query: MetricsQuery): Promise<{ metrics: Metrics; version: string }> {
  const sketched = await sketchAnswer(db, query, knownMultiRowGroups(query));
  const result = estimatorFor(sketched.te) === "exact" ? await exactAnswer(db, query) : sketched;
  return { metrics: toMetrics(query, result), version: countsVersion(result.gs, result.es) };
}

/**
 * The groups known to have several rows before anything is read: every channel and campaign group (a row
 * per day or per hour), and the partial days of a day series (a row per hour), which would otherwise
 * answer NULL and cost the race fallback's second query. Hour groups are a row each once parts are merged.
 */
export function knownMultiRowGroups(query: MetricsQuery): MultiRowGroups {
  if (query.groupBy === "channel" || query.groupBy === "campaign") return "all";
  if (query.groupBy === "hour") return [];
  return splitRange(query).edges.map((span) => Math.floor(span.from / DAY_SECONDS) * DAY_SECONDS);
}

function toMetrics(query: MetricsQuery, result: AnswerRow): Metrics {
  const groups: GroupRow[] = result.gs.map((g, i) => ({ g, e: result.es[i] ?? 0, u: result.us[i] ?? 0 }));
  return {
    event_name: query.eventName ?? null,
    from: isoSeconds(query.fromMs),
    to: isoSeconds(query.toMs),
    grouped_by: query.groupBy,
    total_events: result.te,
    unique_users: result.tu,
    data: query.groupBy === "hour" || query.groupBy === "day" ? fillBuckets(query, groups) : rankGroups(groups),
  };
}

/** The event count of every group, as one string. Row counts stay out: a merge of parts changes them, not the answer. */
function countsVersion(groups: (string | number)[], events: number[]): string {
  return groups
    .map((group, i) => `${group}:${events[i]}`)
    .sort()
    .join(",");
}

const countsRow = z.object({
  gs: z.array(z.union([z.string(), z.number()])),
  es: z.array(z.coerce.number()),
  ns: z.array(z.coerce.number()),
});

/** What the count states of a request's rows tell before its unique users are merged. */
export interface MetricsCounts {
  /** The event count of every group of the response, as one string. */
  version: string;
  /** The events in the range. */
  events: number;
  /**
   * The response's groups that have several rollup rows (a row per day, or parts not merged yet), whose
   * states must be merged; "all" when every group has.
   */
  multiRowGroups: MultiRowGroups;
}

const NO_COUNTS: MetricsCounts = { version: "", events: 0, multiRowGroups: [] };

/**
 * The counts of the response's groups. Counts only grow as events land, so an unchanged version means the
 * same events and therefore the same unique users. The rows that only feed a total are not read: the
 * events they count are the group rows' events, landed by the same inserts, so they change together.
 * Reads only the count states: a few milliseconds, against up to seconds for merging unique-user states.
 */
export async function queryMetricsCounts(db: ClickHouse, query: MetricsQuery): Promise<MetricsCounts> {
  const { days, edges } = splitRange(query);
  const rows = groupRows(query, query.eventName ?? ALL_EVENTS, days === undefined ? [] : [days], edges, COUNT_STATES);
  if (rows.length === 0) return NO_COUNTS;
  const [row] = await db.query(
    sql`SELECT groupArray(g) AS gs, groupArray(e) AS es, groupArray(n) AS ns
        FROM (SELECT g, countMerge(events) AS e, count() AS n FROM (${join(rows, " UNION ALL ")}) GROUP BY g)`,
  );
  const counts = countsRow.parse(row ?? { gs: [], es: [], ns: [] });
  const events = counts.es.reduce((sum, count) => sum + count, 0);
  const several = counts.gs.filter((_, i) => (counts.ns[i] ?? 0) > 1);
  const multiRowGroups = several.length > 0 && several.length === counts.gs.length ? "all" : several;
  return { version: countsVersion(counts.gs, counts.es), events, multiRowGroups };
}

function fillBuckets(query: MetricsQuery, rows: GroupRow[]): MetricsGroup[] {
  const found = new Map(rows.map((row) => [Number(row.g) * 1000, row]));
  return bucketStarts(query, query.groupBy === "hour" ? HOUR_MS : DAY_MS).map((start) => {
    const row = found.get(start);
    return { group: isoSeconds(start), total_events: row?.e ?? 0, unique_users: row?.u ?? 0 };
  });
}

function rankGroups(rows: GroupRow[]): MetricsGroup[] {
  return rows
    .map((row) => ({ group: row.g === "" ? null : String(row.g), total_events: row.e, unique_users: row.u }))
    .sort((a, b) => b.total_events - a.total_events || String(a.group).localeCompare(String(b.group)));
}
