/**
 * The chaos run's verdict: what the client was told against what ClickHouse holds.
 *
 * A `202` is a promise, so every acknowledged id must be stored. A `503` (or a refused or cut
 * connection) only says "not taken as far as you know": part of a batch may have reached the broker
 * before the produce timeout fired, so such an id may be stored although the client never heard a
 * `202` — the client retries it with the same `event_id`, and the pipeline must then store it once.
 * Hence the precise rules:
 *
 *   acknowledged ⊆ stored ⊆ sent,   count() = uniqExact(event_id),   view total = count().
 */

export interface Ledger {
  /** Every event_id the load generator put in a request body. */
  sent: ReadonlySet<string>;
  /** Every event_id that was answered 202 at least once. */
  acknowledged: ReadonlySet<string>;
}

export interface Stored {
  /** count() over the raw table. */
  rows: number;
  /** The raw table's event_ids, one entry per row (duplicates included). */
  ids: readonly string[];
  /** countMerge(events) over events_hourly. */
  viewTotal: number;
  /** Rows in events_dead_letter. */
  deadLetters: number;
}

export interface Verdict {
  ok: boolean;
  problems: string[];
  /** Acknowledged but not stored. */
  lost: string[];
  /** Stored but never sent by the load generator. */
  unknown: string[];
  /** event_ids stored more than once. */
  doubled: string[];
  /** Stored although never acknowledged (a 503'd request that reached the broker anyway), each once. */
  storedUnacknowledged: number;
  distinctStored: number;
}

const sample = (ids: readonly string[]) => ids.slice(0, 5).join(", ") + (ids.length > 5 ? ", …" : "");

/** Compares the client's ledger with ClickHouse; any lost, unknown or doubled event fails the run. */
export function reconcile(ledger: Ledger, stored: Stored): Verdict {
  const seen = new Set<string>();
  const doubled = new Set<string>();
  for (const id of stored.ids) {
    if (seen.has(id)) doubled.add(id);
    seen.add(id);
  }
  const lost = [...ledger.acknowledged].filter((id) => !seen.has(id));
  const unknown = [...seen].filter((id) => !ledger.sent.has(id));
  const storedUnacknowledged = [...seen].filter((id) => ledger.sent.has(id) && !ledger.acknowledged.has(id)).length;
  const problems: string[] = [];
  if (lost.length > 0) problems.push(`${lost.length} acknowledged events are not stored: ${sample(lost)}`);
  if (unknown.length > 0) problems.push(`${unknown.length} stored events were never sent: ${sample(unknown)}`);
  if (doubled.size > 0) problems.push(`${doubled.size} events are stored more than once: ${sample([...doubled])}`);
  if (stored.ids.length !== stored.rows) problems.push(`read ${stored.ids.length} ids but count() is ${stored.rows}`);
  if (stored.viewTotal !== stored.rows) problems.push(`events_hourly counts ${stored.viewTotal}, the raw table ${stored.rows}`);
  if (stored.deadLetters !== 0) problems.push(`${stored.deadLetters} events were dead-lettered`);
  return {
    ok: problems.length === 0,
    problems,
    lost,
    unknown,
    doubled: [...doubled],
    storedUnacknowledged,
    distinctStored: seen.size,
  };
}
