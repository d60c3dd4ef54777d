import { randomBytes } from "node:crypto";

/** A short random suffix that keeps topics, groups and databases of concurrent tests apart. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
}

// uniqueName's shape, with `_` or `-` as separators (topics swap them): prefix, base-36 time, hex.
const UNIQUE_NAME = /^[a-z][a-z0-9._-]*?[-_]([0-9a-z]{8})[-_][0-9a-f]{6}$/;

/** Whether `name` was made by uniqueName more than `maxAgeMs` before `now`. */
export function isStaleTestName(name: string, now: number, maxAgeMs: number): boolean {
  const stamp = UNIQUE_NAME.exec(name)?.[1];
  if (stamp === undefined) return false;
  return now - Number.parseInt(stamp, 36) > maxAgeMs;
}
