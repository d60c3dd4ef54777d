// Just enough PromQL reading to list the metric names an expression selects, for checking the
// Grafana dashboard against the apps' real /metrics output.

const FUNCTIONS_AND_KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "inf",
  "nan",
]);

/** Metric names selected by a PromQL expression: label matchers, ranges, strings, grouping clauses and functions excluded. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = match[0];
    const rest = stripped.slice((match.index ?? 0) + name.length);
    if (/^\s*\(/.test(rest)) continue;
    if (FUNCTIONS_AND_KEYWORDS.has(name.toLowerCase())) continue;
    // The exponent or suffix of a number literal (1e3, 0x1f) is not a name.
    if (/\d$/.test(stripped.slice(0, match.index ?? 0))) continue;
    names.add(name);
  }
  return [...names];
}

/** Names a Prometheus text exposition defines: every sample's name and every `# TYPE` name (histograms add `_bucket/_sum/_count`). */
export function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split("\n")) {
    const type = /^# TYPE (\S+) (\w+)/.exec(line);
    if (type?.[1]) {
      names.add(type[1]);
      if (type[2] === "histogram" || type[2] === "summary") {
        for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${type[1]}${suffix}`);
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{\s]/.exec(line);
    if (sample?.[1]) names.add(sample[1]);
  }
  return names;
}

interface Panel {
  title?: string;
  type?: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}

/** Every (panel title, PromQL expression) pair of a Grafana dashboard, rows' nested panels included. */
export function dashboardExpressions(dashboard: { panels?: Panel[] }): { panel: string; expr: string }[] {
  const out: { panel: string; expr: string }[] = [];
  const visit = (panels: Panel[] | undefined) => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) {
        if (target.expr) out.push({ panel: panel.title ?? "(untitled)", expr: target.expr });
      }
      visit(panel.panels);
    }
  };
  visit(dashboard.panels);
  return out;
}

export interface Matcher {
  label: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
}

/** The `name{matchers}` selectors of an expression whose matchers are all literal (no Grafana `$variables`). */
export function labelSelectors(expr: string): { name: string; matchers: Matcher[] }[] {
  const out: { name: string; matchers: Matcher[] }[] = [];
  for (const match of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)) {
    const [, name = "", body = ""] = match;
    if (body.includes("$")) continue;
    const matchers = [...body.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)].map(([, label = "", op, value = ""]) => ({
      label,
      op: op as Matcher["op"],
      value,
    }));
    out.push({ name, matchers });
  }
  return out;
}

/** The samples of a text exposition as name and labels. */
export function samples(exposition: string): { name: string; labels: Record<string, string> }[] {
  const out: { name: string; labels: Record<string, string> }[] = [];
  for (const line of exposition.split("\n")) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!sample?.[1]) continue;
    const labels: Record<string, string> = {};
    for (const [, label = "", value = ""] of (sample[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[label] = value;
    out.push({ name: sample[1], labels });
  }
  return out;
}

/** Whether a sample's labels satisfy every matcher (regexes anchored, as in PromQL). */
export function matches(labels: Record<string, string>, matchers: Matcher[]): boolean {
  return matchers.every(({ label, op, value }) => {
    const actual = labels[label] ?? "";
    if (op === "=") return actual === value;
    if (op === "!=") return actual !== value;
    const regex = new RegExp(`^(?:${value})$`);
    return op === "=~" ? regex.test(actual) : !regex.test(actual);
  });
}
