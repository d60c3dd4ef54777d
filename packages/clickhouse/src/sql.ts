/**
 * Client-side binding for ClickHouse SQL. Debian's 18.16 server has no query parameters, so every
 * value that reaches SQL goes through `literal`, and queries are written with the `sql` tag, which
 * binds each interpolated value. Only `raw` and `identifier` fragments pass through unquoted.
 */

const RAW = Symbol("sql.raw");

/** A trusted SQL fragment that `sql` inserts verbatim. */
export interface SqlFragment {
  readonly [RAW]: string;
}

export type SqlValue = string | number | bigint | boolean | Date | null | readonly SqlValue[] | SqlFragment;

function isFragment(value: unknown): value is SqlFragment {
  return typeof value === "object" && value !== null && RAW in value;
}

/** Marks code-built SQL (never user input) for verbatim insertion. */
export function raw(text: string): SqlFragment {
  return { [RAW]: text };
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** A table or column name checked against a strict pattern and back-quoted. */
export function identifier(name: string): SqlFragment {
  if (!IDENTIFIER.test(name)) throw new TypeError(`invalid SQL identifier: ${JSON.stringify(name)}`);
  return raw(
    name
      .split(".")
      .map((part) => `\`${part}\``)
      .join("."),
  );
}

const ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "'": "\\'",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\0": "\\0",
  "\b": "\\b",
  "\f": "\\f",
};

/** Quotes a string as a ClickHouse string literal, escaping backslashes, quotes and control characters. */
export function quoteString(value: string): string {
  return `'${value.replace(/[\\'\n\r\t\0\b\f]/g, (ch) => ESCAPES[ch] ?? ch)}'`;
}

function formatDateTime(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new TypeError("invalid Date cannot be bound");
  return date.toISOString().replace("T", " ").slice(0, 23);
}

/** Renders one value as a SQL literal: strings quoted, numbers checked finite, arrays as tuples for IN. */
export function literal(value: SqlValue): string {
  if (isFragment(value)) return value[RAW];
  if (value === null) return "NULL";
  if (typeof value === "string") return quoteString(value);
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("non-finite number cannot be bound");
    return Number.isInteger(value) ? value.toFixed(0) : String(value);
  }
  if (value instanceof Date) return quoteString(formatDateTime(value));
  if (Array.isArray(value)) {
    if (value.length === 0) throw new TypeError("empty list cannot be bound");
    return `(${value.map((item) => literal(item)).join(", ")})`;
  }
  throw new TypeError(`unsupported SQL value: ${typeof value}`);
}

/** Tagged template that binds every interpolated value with `literal`; returns a fragment usable inside other `sql` calls. */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): SqlFragment {
  let text = strings[0] ?? "";
  values.forEach((value, index) => {
    text += literal(value) + (strings[index + 1] ?? "");
  });
  return raw(text);
}

/** Joins fragments with a separator (for WHERE clauses built from optional conditions). */
export function join(fragments: readonly SqlFragment[], separator: string): SqlFragment {
  return raw(fragments.map((fragment) => fragment[RAW]).join(separator));
}

/** The final SQL text of a fragment. */
export function toSql(fragment: SqlFragment): string {
  return fragment[RAW];
}
