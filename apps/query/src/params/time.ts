import { parseIsoTimestamp } from "@sluice/events";
import { AppError } from "@sluice/http";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** The longest range /metrics and search accept. */
export const MAX_RANGE_DAYS = 400;
/** ClickHouse DateTime ends in 2106; later instants cannot be compared with stored rows. */
const MAX_UNIX_SECONDS = 4_294_967_295;
const UNIX_SECONDS = /^\d{1,10}(\.\d{1,3})?$/;

/** Parses a `from`/`to` value written as unix seconds (fractions allowed) or ISO-8601; epoch ms, or a 400 naming the field. */
export function parseInstant(value: string, field: string): number {
  if (UNIX_SECONDS.test(value)) {
    const seconds = Number(value);
    if (seconds <= MAX_UNIX_SECONDS) return Math.round(seconds * 1000);
  } else {
    const ms = parseIsoTimestamp(value);
    if (ms !== undefined && ms >= 0 && ms <= MAX_UNIX_SECONDS * 1000) return ms;
  }
  throw new AppError("VALIDATION_FAILED", `${field} must be unix seconds or an ISO-8601 date-time`, [
    { path: field, message: "must be unix seconds (up to 4294967295) or an ISO-8601 date-time" },
  ]);
}

export interface TimeRange {
  fromMs: number;
  toMs: number;
}

function checkOrder(fromMs: number, toMs: number): void {
  if (fromMs > toMs)
    throw new AppError("VALIDATION_FAILED", "from must not be after to", [{ path: "from", message: "after to" }]);
  if (toMs - fromMs > MAX_RANGE_DAYS * DAY_MS) {
    throw new AppError("VALIDATION_FAILED", `the range must not exceed ${MAX_RANGE_DAYS} days`, [
      { path: "to", message: `more than ${MAX_RANGE_DAYS} days after from` },
    ]);
  }
}

const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit;
const ceilTo = (ms: number, unit: number) => Math.ceil(ms / unit) * unit;

/**
 * The range /metrics answers. The views hold whole UTC hours, so the requested range widens to the
 * hours that contain it: `from` rounds down and `to` rounds up to an hour boundary, and the response
 * reports the range actually counted (inclusive from, exclusive to). Without `to` the range ends at
 * the end of the current hour; without `from` it starts 24 h before `to`.
 */
export function metricsRange(query: { from?: string | undefined; to?: string | undefined }, now: number): TimeRange {
  const requestedTo = query.to === undefined ? undefined : parseInstant(query.to, "to");
  const requestedFrom = query.from === undefined ? undefined : parseInstant(query.from, "from");
  const toMs = ceilTo(requestedTo ?? now, HOUR_MS);
  const fromMs = requestedFrom === undefined ? toMs - DAY_MS : floorTo(requestedFrom, HOUR_MS);
  checkOrder(requestedFrom ?? fromMs, requestedTo ?? toMs);
  return { fromMs, toMs };
}

/** The optional exact range of a search (inclusive from, exclusive to, millisecond precision). */
export function searchRange(query: { from?: string | undefined; to?: string | undefined }): Partial<TimeRange> {
  const fromMs = query.from === undefined ? undefined : parseInstant(query.from, "from");
  const toMs = query.to === undefined ? undefined : parseInstant(query.to, "to");
  if (fromMs !== undefined && toMs !== undefined) checkOrder(fromMs, toMs);
  return { fromMs, toMs };
}

/** Bucket starts (epoch ms) of every hour or UTC day that overlaps the range, for zero-filling. */
export function bucketStarts(range: TimeRange, unit: number): number[] {
  const starts: number[] = [];
  for (let start = floorTo(range.fromMs, unit); start < range.toMs; start += unit) starts.push(start);
  return starts;
}

/** An instant as ISO-8601 UTC without milliseconds when they are zero. */
export function isoSeconds(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}

const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));

/**
 * isoSeconds of many instants, formatting each UTC date once: an hour series labels 720 buckets, and a
 * Date per label cost ~1 ms of a request.
 */
export function isoSecondsAll(instants: readonly number[]): string[] {
  let day = Number.NaN;
  let date = "";
  return instants.map((ms) => {
    if (ms % 1000 !== 0) return isoSeconds(ms);
    const dayNumber = Math.floor(ms / DAY_MS);
    if (dayNumber !== day) {
      day = dayNumber;
      date = new Date(dayNumber * DAY_MS).toISOString().slice(0, 11);
    }
    const seconds = (ms - dayNumber * DAY_MS) / 1000;
    return `${date}${TWO_DIGITS[Math.floor(seconds / 3600)]}:${TWO_DIGITS[Math.floor(seconds / 60) % 60]}:${TWO_DIGITS[seconds % 60]}Z`;
  });
}
