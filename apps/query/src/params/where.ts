import { join, raw, type SqlFragment, sql } from "@sluice/clickhouse";
import { LIMITS } from "@sluice/events";
import { AppError } from "@sluice/http";

export const WHERE_OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "like", "between", "in"] as const;
export type WhereOp = (typeof WHERE_OPS)[number];

/** Bounds of the `where` filters of a search. */
export const WHERE_LIMITS = {
  clauses: 20,
  inValues: 100,
  /** `in` values are separated by this character: `where=plan:in:free|pro`. */
  inSeparator: "|",
  /** `between` bounds are separated by this character: `where=amount:between:10,20` (both inclusive). */
  betweenSeparator: ",",
} as const;

/** One parsed `where=key:op:value` filter over metadata. */
export type WhereFilter =
  | { key: string; op: "eq" | "ne"; value: string }
  | { key: string; op: "gt" | "gte" | "lt" | "lte"; value: number }
  | { key: string; op: "like"; value: string }
  | { key: string; op: "between"; value: [number, number] }
  | { key: string; op: "in"; value: string[] };

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** The finite number a string spells, or undefined; "1e999", "0x10" and "" are not numbers. */
export function parseNumber(text: string): number | undefined {
  if (!NUMBER.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function invalid(path: string, message: string): AppError {
  return new AppError("VALIDATION_FAILED", `${path}: ${message}`, [{ path, message }]);
}

/** In LIKE a backslash escapes `%`, `_` or itself; anything else would be a server-side error, so it is refused here. */
function checkLikePattern(pattern: string, path: string): void {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== "\\") continue;
    const next = pattern[i + 1];
    if (next !== "%" && next !== "_" && next !== "\\")
      throw invalid(path, "a backslash in a like pattern must escape %, _ or \\");
    i++;
  }
}

function requireNumber(text: string, path: string): number {
  const value = parseNumber(text);
  if (value === undefined) throw invalid(path, `"${text.slice(0, 64)}" is not a finite number`);
  return value;
}

/**
 * Parses one `where` parameter: `key:op:value`, split at the first two colons (so values may contain
 * colons, keys may not). Numeric operators require finite numbers; `between` takes `low,high`; `in`
 * takes up to 100 values separated by `|`.
 */
export function parseWhere(text: string, path: string): WhereFilter {
  const first = text.indexOf(":");
  const second = first < 0 ? -1 : text.indexOf(":", first + 1);
  if (first < 0 || second < 0) throw invalid(path, "must look like key:op:value");
  const key = text.slice(0, first);
  const op = text.slice(first + 1, second);
  const value = text.slice(second + 1);
  if (key.length === 0 || key.length > LIMITS.propertyKeyLength) {
    throw invalid(path, `key must be 1..${LIMITS.propertyKeyLength} characters`);
  }
  if (value.length > LIMITS.propertyStringLength)
    throw invalid(path, `value must be at most ${LIMITS.propertyStringLength} characters`);
  switch (op) {
    case "eq":
    case "ne":
      return { key, op, value };
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return { key, op, value: requireNumber(value, path) };
    case "like":
      checkLikePattern(value, path);
      return { key, op, value };
    case "between": {
      const parts = value.split(WHERE_LIMITS.betweenSeparator);
      if (parts.length !== 2) throw invalid(path, "between takes low,high");
      const low = requireNumber(parts[0] ?? "", path);
      const high = requireNumber(parts[1] ?? "", path);
      if (low > high) throw invalid(path, "between needs low <= high");
      return { key, op, value: [low, high] };
    }
    case "in": {
      const values = value.split(WHERE_LIMITS.inSeparator);
      if (values.length > WHERE_LIMITS.inValues) throw invalid(path, `in takes at most ${WHERE_LIMITS.inValues} values`);
      return { key, op, value: values };
    }
    default:
      throw invalid(path, `unknown operator "${op.slice(0, 32)}"; use one of ${WHERE_OPS.join(", ")}`);
  }
}

const column = (type: "string" | "number" | "bool", key: string) =>
  sql`metadata_${raw(type)}_values[indexOf(metadata_${raw(type)}_keys, ${key})]`;
const hasKey = (type: "string" | "number" | "bool", key: string) => sql`has(metadata_${raw(type)}_keys, ${key})`;

const BOOLEANS: Record<string, number> = { true: 1, false: 0 };

/** Equality against whichever typed value the key holds: the string, the number it spells, or a boolean. */
function equalsAny(key: string, values: readonly string[]): SqlFragment {
  const parts = [sql`(${hasKey("string", key)} AND ${column("string", key)} IN ${values})`];
  const numbers = values.map(parseNumber).filter((n): n is number => n !== undefined);
  if (numbers.length > 0) parts.push(sql`(${hasKey("number", key)} AND ${column("number", key)} IN ${numbers})`);
  const booleans = values.filter((v) => v in BOOLEANS).map((v) => BOOLEANS[v] ?? 0);
  if (booleans.length > 0) parts.push(sql`(${hasKey("bool", key)} AND ${column("bool", key)} IN ${booleans})`);
  return sql`(${join(parts, " OR ")})`;
}

const COMPARE = { gt: ">", gte: ">=", lt: "<", lte: "<=" } as const;

/** The SQL condition of one filter; every key and value is bound through `sql`. `ne` also matches events without the key. */
export function whereToSql(filter: WhereFilter): SqlFragment {
  switch (filter.op) {
    case "eq":
      return equalsAny(filter.key, [filter.value]);
    case "ne":
      return sql`NOT ${equalsAny(filter.key, [filter.value])}`;
    case "in":
      return equalsAny(filter.key, filter.value);
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return sql`(${hasKey("number", filter.key)} AND ${column("number", filter.key)} ${raw(COMPARE[filter.op])} ${filter.value})`;
    case "between":
      return sql`(${hasKey("number", filter.key)} AND ${column("number", filter.key)} >= ${filter.value[0]} AND ${column("number", filter.key)} <= ${filter.value[1]})`;
    case "like":
      return sql`(${hasKey("string", filter.key)} AND like(${column("string", filter.key)}, ${filter.value}))`;
  }
}
