import { type ClickHouse, EVENT_COLUMNS, identifier, join, raw, type SqlFragment, sql } from "@sluice/clickhouse";

/** The Monday 00:00 UTC that starts an event's week, as 0006_weekly_rollups.sql computes it. */
const WEEK_BUCKET = "toDateTime(intDiv(toUInt32(timestamp) + 259200, 604800) * 604800 - 259200)";

/** The states of events_hourly and of every events_rollup view; `users` is an empty state in the weekly one. */
function rollupStates(users = "uniqState(user_id)"): ViewColumn[] {
  return [
    { column: "events", expr: "countState()" },
    { column: "users", expr: users },
    { column: "users_hll", expr: "uniqHLL12State(user_id)" },
  ];
}

/**
 * A view into events_rollup: rows of `kinds` (an arrayJoin over kind names), each once per event name
 * and once for all events (name ''). Counting the all-events groups would read whole buckets of every
 * event; the per-name rows of `probeKind`, whose bucket is `probeBucket`, tell as much through both
 * primary keys.
 */
function rollupView(
  view: string,
  spec: { kinds: string; bucket: string; value: string; users?: string; probeKind: string; probeBucket: string },
): AggregateView {
  return {
    kind: "aggregate",
    view,
    target: "events_rollup",
    keys: [
      { column: "kind", expr: spec.kinds },
      { column: "name", expr: "arrayJoin([CAST(event_name AS String), ''])" },
      { column: "bucket", expr: spec.bucket },
      { column: "value", expr: spec.value },
    ],
    states: rollupStates(spec.users),
    check: {
      kind: "count",
      column: "events",
      probe: {
        where: `kind = '${spec.probeKind}'`,
        keys: [
          { column: "name", expr: "CAST(event_name AS String)" },
          { column: "bucket", expr: spec.probeBucket },
        ],
      },
    },
  };
}

/**
 * The materialized views that read FROM `events`, described so the worker can check and replay each
 * one for rows that landed in `events` while the view missed them (an insert cut between the raw part
 * and the views; see repair.ts). Each entry restates its view's SELECT from the migrations (expressions
 * verbatim, each aliased as its target column, as in the view): `repair.int.test.ts` replays every entry
 * over the same rows the view was fed and requires identical targets, and fails while a view on
 * `events` has no entry here. Adding a view = adding its entry.
 */
export const VIEWS: readonly ViewSpec[] = [
  {
    kind: "rows",
    view: "events_by_id_mv",
    target: "events_by_id",
    columns: same("event_id", "event_name", "timestamp", "kafka_partition", "kafka_offset"),
    key: ["event_id"],
  },
  {
    kind: "aggregate",
    view: "events_hourly_mv",
    target: "events_hourly",
    keys: [{ column: "hour", expr: "toStartOfHour(timestamp)" }, ...same("event_name", "channel", "campaign_id")],
    states: rollupStates(),
    check: { kind: "count", column: "events" },
  },
  {
    kind: "aggregate",
    view: "events_offsets_mv",
    target: "events_offsets",
    keys: same("kafka_topic", "kafka_partition"),
    states: [{ column: "max_offset", expr: "maxState(kafka_offset)" }],
    check: { kind: "max", merged: "maxMerge(max_offset)", raw: "max(kafka_offset)" },
  },
  rollupView("events_rollup_mv", {
    kinds: "arrayJoin(['hour', 'day', 'day_channel', 'day_campaign'])",
    bucket: "if(kind = 'hour', toStartOfHour(timestamp), toDateTime(intDiv(toUInt32(timestamp), 86400) * 86400))",
    value: "multiIf(kind = 'day_channel', CAST(channel AS String), kind = 'day_campaign', campaign_id, '')",
    probeKind: "hour",
    probeBucket: "toStartOfHour(timestamp)",
  }),
  rollupView("events_rollup_hourly_mv", {
    kinds: "arrayJoin(['hour_channel', 'hour_campaign'])",
    bucket: "toStartOfHour(timestamp)",
    value: "if(kind = 'hour_channel', CAST(channel AS String), campaign_id)",
    probeKind: "hour_channel",
    probeBucket: "toStartOfHour(timestamp)",
  }),
  rollupView("events_rollup_weekly_mv", {
    kinds: "arrayJoin(['week', 'week_channel', 'week_campaign'])",
    bucket: WEEK_BUCKET,
    value: "multiIf(kind = 'week_channel', CAST(channel AS String), kind = 'week_campaign', campaign_id, '')",
    users: "uniqStateIf(user_id, 0)",
    probeKind: "week",
    probeBucket: WEEK_BUCKET,
  }),
  {
    kind: "rows",
    view: "events_by_user_mv",
    target: "events_by_user",
    columns: same(...EVENT_COLUMNS),
    key: ["user_id", "timestamp", "event_id"],
  },
];

/** A target column and the expression over `events` the view computes for it. */
export interface ViewColumn {
  column: string;
  expr: string;
}

interface ViewBase {
  /** The materialized view's name. */
  view: string;
  /** The table it writes to (`TO target`). */
  target: string;
}

/** One target row per event (events_by_id, events_by_user): checked row by row. */
export interface RowView extends ViewBase {
  kind: "rows";
  columns: readonly ViewColumn[];
  /** Columns copied from `events` that identify a row and lead the target's sort key, so look-ups read through it. */
  key: readonly string[];
}

/**
 * An aggregating view: `SELECT keys, states FROM events GROUP BY keys`. How a shortfall shows:
 * `count` names the countState() column, short when its countMerge for a group is below the raw
 * count(); `max` compares `merged` over the target with `raw` over the landed rows (both integers),
 * and a replay of a max can never overshoot.
 */
export interface AggregateView extends ViewBase {
  kind: "aggregate";
  keys: readonly ViewColumn[];
  states: readonly ViewColumn[];
  check: { kind: "count"; column: string; probe?: Probe } | { kind: "max"; merged: string; raw: string };
}

/**
 * The groups a count check looks at, when not all of them (the default) are cheap to count in `events`:
 * target rows matching `where`, keyed by `keys` (target column ← expression over `events`, no arrayJoin).
 * Any subset decides: a view's part for one insert is written whole or not at all.
 */
export interface Probe {
  where: string;
  keys: readonly ViewColumn[];
}

export type ViewSpec = RowView | AggregateView;

function same(...columns: string[]): ViewColumn[] {
  return columns.map((column) => ({ column, expr: column }));
}

/** Rows of `events` that landed together: one insert, told apart by month (one part each) and insert time. */
export interface LandedUnit {
  month: number;
  /** `inserted_at` (unix seconds): now() of the insert that wrote them. */
  insertedAt: number;
  names: string[];
  /** Timestamp range (unix seconds) of the rows, for reads through the primary key. */
  from: number;
  to: number;
  rows: number;
}

/** Per group of a counting view, for one unit: rows of the unit, rows of `events`, rows the view counts. */
export interface GroupCount {
  key: string;
  batch: number;
  raw: number;
  view: number;
}

/** What the repair needs from ClickHouse (SQL below; fakes in the unit tests). */
export interface ViewStore {
  /** The landed rows matching `scope`, one unit per insert. */
  units(scope: SqlFragment): Promise<LandedUnit[]>;
  /** query_ids of the inserts into `events` the server is running now (any database). */
  runningInserts(): Promise<string[]>;
  /** Rows of the unit whose event_id is absent from the target. */
  missingRows(view: RowView, scope: SqlFragment, unit: LandedUnit): Promise<number>;
  /** Inserts the unit's rows that are absent from the target, through the view's SELECT. */
  replayMissingRows(view: RowView, scope: SqlFragment, unit: LandedUnit): Promise<void>;
  /** For a `max` view: true when the target's value is below the unit's for some key. */
  behind(view: AggregateView, scope: SqlFragment, unit: LandedUnit): Promise<boolean>;
  /** For a `count` view: the unit's groups. Reads the view before `events`, so a row counted by the view is in `raw`. */
  countGroups(view: AggregateView, scope: SqlFragment, unit: LandedUnit): Promise<GroupCount[]>;
  /** Runs the view's SELECT over exactly the unit's rows into its target: one insert, one block. */
  replay(view: AggregateView, scope: SqlFragment, unit: LandedUnit): Promise<void>;
}

/** The rows of one unit: the scope narrowed to its month and insert, read through the primary key. */
export function unitFilter(scope: SqlFragment, unit: LandedUnit): SqlFragment {
  return sql`event_name IN ${unit.names} AND timestamp >= toDateTime(${unit.from}) AND timestamp <= toDateTime(${unit.to})
    AND toYYYYMM(timestamp) = ${unit.month} AND inserted_at = toDateTime(${unit.insertedAt}) AND (${scope})`;
}

/**
 * `expr AS column, …`, as the view writes it (an expression may name an earlier alias, like `kind` in
 * events_rollup). An alias that is also a column of `events` must be that column itself, or it would
 * shadow the column in WHERE; repair.int.test.ts checks every entry.
 */
function selected(columns: readonly ViewColumn[]): SqlFragment {
  return join(
    columns.map((column) =>
      column.expr === column.column ? identifier(column.column) : raw(`${column.expr} AS ${column.column}`),
    ),
    ", ",
  );
}

const names = (columns: readonly ViewColumn[]) =>
  join(
    columns.map((column) => identifier(column.column)),
    ", ",
  );

/** `INSERT INTO target (…) SELECT …` replaying a view over the rows matching `where`. */
export function replayStatement(view: ViewSpec, where: SqlFragment): SqlFragment {
  if (view.kind === "rows") {
    return sql`INSERT INTO ${identifier(view.target)} (${names(view.columns)})
      SELECT ${selected(view.columns)} FROM events WHERE ${where}`;
  }
  return sql`INSERT INTO ${identifier(view.target)} (${names([...view.keys, ...view.states])})
    SELECT ${selected([...view.keys, ...view.states])} FROM events WHERE ${where} GROUP BY ${names(view.keys)}`;
}

/** The unit's rows that the target lacks, looked up through the target's sort key. */
function missing(view: RowView, where: SqlFragment): SqlFragment {
  const key = join(
    view.key.map((column) => identifier(column)),
    ", ",
  );
  return sql`${where} AND (${key}) NOT IN (
    SELECT ${key} FROM ${identifier(view.target)} WHERE (${key}) IN (SELECT ${key} FROM events WHERE ${where}))`;
}

/** Target rows of the groups the unit touches (tuple IN a subquery reads through both primary keys). */
function groupsOf(keys: readonly ViewColumn[], where: SqlFragment): SqlFragment {
  return sql`(${names(keys)}) IN (SELECT ${selected(keys)} FROM events WHERE ${where})`;
}

type Keyed = Record<string, unknown>;
const keyOf = (row: Keyed, keys: readonly ViewColumn[]) => JSON.stringify(keys.map((key) => row[key.column]));

// An INSERT whose target is `events` itself, in any database, with or without back-quotes.
const INSERT_INTO_EVENTS = String.raw`(?i)^\s*INSERT\s+INTO\s+(\x60?\w+\x60?\.)?\x60?events\x60?[\s(]`;

/** The ViewStore over a ClickHouse connection (18.16 and current). */
export function createViewStore(db: ClickHouse): ViewStore {
  return {
    async units(scope) {
      const rows = await db.query<{
        month: number;
        at: number;
        names: string[];
        lo: number;
        hi: number;
        n: string;
      }>(
        sql`SELECT toYYYYMM(timestamp) AS month, toUInt32(inserted_at) AS at, groupUniqArray(toString(event_name)) AS names,
              toUInt32(min(timestamp)) AS lo, toUInt32(max(timestamp)) AS hi, count() AS n
            FROM events WHERE ${scope} GROUP BY month, at ORDER BY at, month`,
      );
      return rows.map((row) => ({
        month: Number(row.month),
        insertedAt: Number(row.at),
        names: row.names,
        from: Number(row.lo),
        to: Number(row.hi),
        rows: Number(row.n),
      }));
    },
    async runningInserts() {
      const rows = await db.query<{ id: string }>(
        sql`SELECT query_id AS id FROM system.processes WHERE match(query, ${INSERT_INTO_EVENTS})`,
      );
      return rows.map((row) => row.id);
    },
    async missingRows(view, scope, unit) {
      const [row] = await db.query<{ n: string }>(
        sql`SELECT count() AS n FROM events WHERE ${missing(view, unitFilter(scope, unit))}`,
      );
      return Number(row?.n ?? 0);
    },
    async replayMissingRows(view, scope, unit) {
      await db.command(replayStatement(view, missing(view, unitFilter(scope, unit))));
    },
    async behind(view, scope, unit) {
      if (view.check.kind !== "max") throw new Error(`${view.view} is not a max view`);
      const where = unitFilter(scope, unit);
      const stored = await db.query<Keyed & { _v: string }>(
        sql`SELECT ${names(view.keys)}, toString(${raw(view.check.merged)}) AS _v
            FROM ${identifier(view.target)} WHERE ${groupsOf(view.keys, where)} GROUP BY ${names(view.keys)}`,
      );
      const landed = await db.query<Keyed & { _v: string }>(
        sql`SELECT ${selected(view.keys)}, toString(${raw(view.check.raw)}) AS _v
            FROM events WHERE ${where} GROUP BY ${names(view.keys)}`,
      );
      const merged = new Map(stored.map((row) => [keyOf(row, view.keys), BigInt(row._v)]));
      return landed.some((row) => {
        const value = merged.get(keyOf(row, view.keys));
        return value === undefined || value < BigInt(row._v);
      });
    },
    async countGroups(view, scope, unit) {
      if (view.check.kind !== "count") throw new Error(`${view.view} is not a counting view`);
      const where = unitFilter(scope, unit);
      const keys = view.check.probe?.keys ?? view.keys;
      const only = raw(view.check.probe?.where ?? "1");
      const group = names(keys);
      const batch = await db.query<Keyed & { _n: string }>(
        sql`SELECT ${selected(keys)}, count() AS _n FROM events WHERE ${where} GROUP BY ${group}`,
      );
      const counted = await db.query<Keyed & { _n: string }>(
        sql`SELECT ${group}, countMerge(${identifier(view.check.column)}) AS _n FROM ${identifier(view.target)}
            WHERE (${only}) AND ${groupsOf(keys, where)} GROUP BY ${group}`,
      );
      const stored = await db.query<Keyed & { _n: string }>(
        sql`SELECT ${selected(keys)}, count() AS _n FROM events
            WHERE (${raw(keys.map((key) => key.expr).join(", "))}) IN (SELECT ${selected(keys)} FROM events WHERE ${where})
            GROUP BY ${group}`,
      );
      const viewCounts = new Map(counted.map((row) => [keyOf(row, keys), Number(row._n)]));
      const rawCounts = new Map(stored.map((row) => [keyOf(row, keys), Number(row._n)]));
      return batch.map((row) => {
        const key = keyOf(row, keys);
        return { key, batch: Number(row._n), raw: rawCounts.get(key) ?? 0, view: viewCounts.get(key) ?? 0 };
      });
    },
    async replay(view, scope, unit) {
      await db.command(replayStatement(view, unitFilter(scope, unit)));
    },
  };
}
