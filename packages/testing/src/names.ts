import { randomBytes } from "node:crypto";

/** A short random suffix that keeps topics, groups and databases of concurrent tests apart. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
}
