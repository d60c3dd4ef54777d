/**
 * Repairing the materialized views after an insert was cut between its raw part and the views.
 *
 * ClickHouse (18.16 and current, no transactions) writes an insert's `events` part first and then
 * feeds each view on `events` in turn (18.16: one after the other, ordered by view name), each view's
 * block becoming one part of its target. A server stopped, killed or failing in between (or a view
 * failing, e.g. too many parts) leaves the raw rows stored and some views without them; the worker
 * then sees a failed insert whose rows landed and must not insert them again. So whenever landed rows
 * may have been cut from their views — rows of a failed insert found in `events`, and rows a previous
 * owner of a partition stored without committing them — the worker checks every view for exactly those
 * rows and replays the view's SELECT over the ones it missed, before the offsets are committed.
 *
 * - Units. The rows are split by month and `inserted_at` (now() of the insert that wrote them), i.e.
 *   by insert. Each of our inserts is one block per month (one part per table, checked for 30,000
 *   rows on 18.16; see sink.ts), and a view's part for one block is written whole or not at all, so per
 *   view a unit was fed entirely or not at all. A unit can be part of an insert (the rest belongs to
 *   partitions another worker took over) or two inserts of one second; the rules below stay safe then.
 * - In flight. First the repair waits until every insert into `events` the server was running when it
 *   looked has finished (for at most `settleTimeoutMs`: one still running then is stuck receiving its
 *   body, not writing parts): a client that timed out does not stop the server, and checking a view
 *   while our own insert is still feeding it would replay rows the server is about to add.
 * - Row views (`events_by_id`, `events_by_user`): the unit's rows absent from the target, looked up
 *   through its sort key, are inserted; exact.
 * - Max views (`events_offsets`): replayed if the target's maximum is below the unit's; a replay of a
 *   max cannot overshoot.
 * - Counting views (`events_hourly`, `events_rollup`): nothing identifies our rows inside an
 *   aggregate, so the decision rests on counts per group the unit touches (or a cheap subset of them,
 *   the view's probe: any subset decides, the part being whole or absent). The view is read before
 *   `events`, so every row the view counts is in the raw count, and other inserts can only add to the
 *   shortfall `raw − view`. If the unit was not fed, every group is short by at least the unit's rows;
 *   if it was fed, some group is short by less, unless other inserts' rows are missing there too.
 *   Hence: a group short by less → fed; every group short by exactly the unit's rows (or one subset
 *   of the undecided units explains every shortfall to the row), twice in a row with in-flight inserts
 *   settled in between → replay; anything else (an insert in flight, or another cut insert not yet
 *   repaired in the same groups) → look again later, and once `unsureDeadlineMs` has passed, replay:
 *   a shortfall covering every group of ours that outlasts every other worker's repair is our rows.
 * - Idempotent: each view is checked before it is replayed, so a repair cut by a crash is finished by
 *   the next run (the redelivery) and a repeated repair changes nothing.
 * - Chained views (a view reading FROM a view's target) are fed by a replay into that target, which is
 *   right when the target missed the rows too; a cut between a target and its own dependants is not
 *   detected, so views must read FROM `events` (repair.int.test.ts enforces it).
 */
import type { SqlFragment } from "@sluice/clickhouse";
import type { Logger } from "pino";
import type { WorkerMetrics } from "./metrics";
import { sleep } from "./retry";
import type { AggregateView, GroupCount, LandedUnit, ViewSpec, ViewStore } from "./views";

export interface ViewRepair {
  /**
   * Resolves once every insert into `events` running at the call has finished, or after
   * `settleTimeoutMs` (an insert still running then is stuck receiving its body, not writing parts).
   */
  settle(): Promise<void>;
  /** Checks every view for the landed rows matching `scope` and replays what each missed; idempotent. */
  repair(scope: SqlFragment): Promise<void>;
}

export interface ViewRepairDeps {
  store: ViewStore;
  views: readonly ViewSpec[];
  logger: Logger;
  metrics: WorkerMetrics;
  /** Pause between two looks at a counting view; grows to ten times this. */
  recheckMs?: number;
  /** How long an ambiguous shortfall may last before the unit is replayed. */
  unsureDeadlineMs?: number;
  settleTimeoutMs?: number;
  signal?: AbortSignal;
}

export type CountVerdict = "fed" | "missing" | "unsure";

/** Judges from a unit's groups whether a counting view was fed the unit (see the module comment). */
export function judgeGroups(groups: readonly GroupCount[]): CountVerdict {
  if (groups.length === 0) return "fed";
  if (groups.some((group) => group.raw - group.view < group.batch)) return "fed";
  if (groups.every((group) => group.raw - group.view === group.batch)) return "missing";
  return "unsure";
}

/** Beyond this many undecided units the joint judgement (2^n subsets) is skipped; they wait for the deadline. */
const MAX_JOINT = 10;

/**
 * Judges several units looked at together. Units the view missed that share groups make each other
 * look ambiguous (each group is short by the rows of all of them). If exactly one subset of the
 * undecided units accounts for every group's shortfall to the row, its units are missing; the others
 * keep their verdict and are decided once those are replayed. "Fed" stays a per-unit verdict.
 */
export function judgeUnits<U>(looks: ReadonlyMap<U, readonly GroupCount[]>): Map<U, CountVerdict> {
  const verdicts = new Map<U, CountVerdict>();
  for (const [unit, groups] of looks) verdicts.set(unit, judgeGroups(groups));
  const open = [...looks.keys()].filter((unit) => verdicts.get(unit) === "unsure");
  if (open.length === 0 || open.length > MAX_JOINT) return verdicts;
  const undecided = [...looks.keys()].filter((unit) => verdicts.get(unit) !== "fed");
  if (undecided.length > MAX_JOINT) return verdicts;
  const shortfall = new Map<string, number>();
  for (const unit of undecided) for (const group of looks.get(unit) ?? []) shortfall.set(group.key, group.raw - group.view);
  let found: number | undefined;
  for (let mask = 1; mask < 1 << undecided.length; mask++) {
    const rows = new Map<string, number>();
    undecided.forEach((unit, i) => {
      if (!(mask & (1 << i))) return;
      for (const group of looks.get(unit) ?? []) rows.set(group.key, (rows.get(group.key) ?? 0) + group.batch);
    });
    if (![...shortfall].every(([key, short]) => (rows.get(key) ?? 0) === short)) continue;
    if (found !== undefined) return verdicts;
    found = mask;
  }
  const explained = found;
  if (explained === undefined) return verdicts;
  undecided.forEach((unit, i) => {
    if (explained & (1 << i)) verdicts.set(unit, "missing");
  });
  return verdicts;
}

/** Creates the repair described in this module's comment. */
export function createViewRepair(deps: ViewRepairDeps): ViewRepair {
  const { store, logger, metrics } = deps;
  const recheckMs = deps.recheckMs ?? 250;
  const unsureDeadlineMs = deps.unsureDeadlineMs ?? 30_000;
  const settleTimeoutMs = deps.settleTimeoutMs ?? 30_000;

  async function settle(): Promise<void> {
    const started = Date.now();
    let waiting = new Set(await store.runningInserts());
    while (waiting.size > 0) {
      if (Date.now() - started > settleTimeoutMs) {
        logger.warn({ queries: [...waiting] }, "inserts into events still running; checking the views anyway");
        return;
      }
      await sleep(50, deps.signal);
      if (deps.signal?.aborted) throw new Error("view repair aborted");
      const running = new Set(await store.runningInserts());
      waiting = new Set([...waiting].filter((id) => running.has(id)));
    }
  }

  function replayed(view: ViewSpec, unit: LandedUnit, rows: number, reason: string) {
    metrics.viewRepairs.inc({ view: view.view }, rows);
    logger.warn(
      { view: view.view, month: unit.month, insertedAt: unit.insertedAt, rows, reason },
      "replayed a view over landed rows it had missed",
    );
  }

  async function repairCounts(view: AggregateView, scope: SqlFragment, units: readonly LandedUnit[]) {
    const started = Date.now();
    let suspected = new Set<LandedUnit>();
    let pending = [...units];
    for (let round = 0; pending.length > 0; round++) {
      if (round > 0) {
        await sleep(recheckMs * Math.min(10, round), deps.signal);
        if (deps.signal?.aborted) throw new Error("view repair aborted");
        await settle();
      }
      // All units are read before any is replayed, so the joint judgement sees one state.
      const looks = new Map<LandedUnit, GroupCount[]>();
      for (const unit of pending) looks.set(unit, await store.countGroups(view, scope, unit));
      const verdicts = judgeUnits(looks);
      const overdue = Date.now() - started >= unsureDeadlineMs;
      const next: LandedUnit[] = [];
      const missing = new Set<LandedUnit>();
      for (const unit of pending) {
        const verdict = verdicts.get(unit);
        if (verdict === "fed") continue;
        if (verdict === "missing" && suspected.has(unit)) {
          await store.replay(view, scope, unit);
          replayed(view, unit, unit.rows, "short by exactly these rows");
        } else if (verdict === "unsure" && overdue) {
          await store.replay(view, scope, unit);
          replayed(view, unit, unit.rows, `short by at least these rows for ${unsureDeadlineMs} ms`);
        } else {
          if (verdict === "missing") missing.add(unit);
          else logger.info({ view: view.view, insertedAt: unit.insertedAt }, "view shortfall is ambiguous; looking again");
          next.push(unit);
        }
      }
      suspected = missing;
      pending = next;
    }
  }

  async function repairView(view: ViewSpec, scope: SqlFragment, units: readonly LandedUnit[]) {
    if (view.kind === "rows") {
      for (const unit of units) {
        const missing = await store.missingRows(view, scope, unit);
        if (missing === 0) continue;
        await store.replayMissingRows(view, scope, unit);
        replayed(view, unit, missing, "rows absent");
      }
    } else if (view.check.kind === "max") {
      for (const unit of units) {
        if (!(await store.behind(view, scope, unit))) continue;
        await store.replay(view, scope, unit);
        replayed(view, unit, unit.rows, "maximum behind");
      }
    } else {
      await repairCounts(view, scope, units);
    }
  }

  return {
    settle,
    async repair(scope) {
      const [units] = await Promise.all([store.units(scope), settle()]);
      if (units.length === 0) return;
      // Views are independent (a replay writes only its own target), so they are checked side by side;
      // every check has ended before a failure is reported, so a retry never overlaps a check still running.
      const outcomes = await Promise.allSettled(deps.views.map((view) => repairView(view, scope, units)));
      const failed = outcomes.find((outcome) => outcome.status === "rejected");
      if (failed) throw failed.reason;
    },
  };
}
