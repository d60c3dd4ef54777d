import { randomBytes } from "node:crypto";

/** A short random suffix that keeps topics, groups and databases of concurrent tests apart. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
}

// uniqueName's shape, with `_` or `-` as separators (topics swap them): prefix, base-36 time, hex.
const UNIQUE_NAME = /^[a-z][a-z0-9._-]*?[-_]([0-9a-z]{8})[-_][0-9a-f]{6}$/;

// A name whose "time" is older than this was not made by a recent test run but only has the shape
// (say `orders-20261123-abcdef`, whose digits read as base 36 are decades old), so it is left alone.
const OLDEST_TEST_NAME_MS = 90 * 86_400_000;

/** Whether `name` was made by uniqueName more than `maxAgeMs` (and at most 90 days) before `now`. */
export function isStaleTestName(name: string, now: number, maxAgeMs: number): boolean {
  const stamp = UNIQUE_NAME.exec(name)?.[1];
  if (stamp === undefined) return false;
  const age = now - Number.parseInt(stamp, 36);
  return age > maxAgeMs && age <= OLDEST_TEST_NAME_MS;
}
