import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { LeanHistogram } from "./lean-histogram";

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LABELS = ["method", "route", "status"] as const;

/** The same observations through prom-client's Histogram and a LeanHistogram, each in its own registry with default labels. */
function twins() {
  const registries = [new Registry(), new Registry()] as const;
  for (const registry of registries) registry.setDefaultLabels({ app: "test" });
  const reference = new Histogram({
    name: "d",
    help: "request duration",
    labelNames: LABELS,
    buckets: BUCKETS,
    registers: [registries[0]],
  });
  const lean = new LeanHistogram("d", "request duration", LABELS, BUCKETS, [registries[1]]);
  const observe = (labels: Record<(typeof LABELS)[number], string>, value: number) => {
    reference.observe(labels, value);
    lean.series(labels)(value);
  };
  return { registries, reference, lean, observe };
}

const label = (i: number) => ({ method: i % 3 === 0 ? "GET" : "POST", route: `/r${i % 4}`, status: String(200 + (i % 2) * 202) });

describe("LeanHistogram", () => {
  it("exposes exactly what prom-client's Histogram does for the same observations", async () => {
    const { registries, observe } = twins();
    // Values on, between, below and above the bounds, over several label sets in a mixed order.
    const values = [0, 0.0005, 0.0007, 0.001, 0.003, 0.025, 0.026, 0.5, 1, 9.99, 10, 11, 1234.5];
    for (let i = 0; i < 200; i += 1) observe(label(i), values[i % values.length] as number);
    const [text, leanText] = await Promise.all(registries.map((registry) => registry.metrics()));
    expect(leanText).toBe(text);
    const [json, leanJson] = await Promise.all(registries.map((registry) => registry.getMetricsAsJSON()));
    expect(leanJson).toEqual(json);
  });

  it("an observer kept from before a reset starts its series again, as prom-client does", async () => {
    const { registries, reference, lean } = twins();
    const keep = lean.series(label(1));
    keep(0.2);
    reference.observe(label(1), 0.2);
    for (const metric of [reference, lean]) metric.reset();
    keep(0.3);
    reference.observe(label(1), 0.3);
    const [text, leanText] = await Promise.all(registries.map((registry) => registry.metrics()));
    expect(leanText).toBe(text);
    expect(leanText).toContain('d_count{app="test",method="POST",route="/r1",status="402"} 1');
  });

  it("refuses a value that is not a finite number, as prom-client does", () => {
    const { reference, lean } = twins();
    expect(() => reference.observe(label(0), Number.NaN)).toThrow(TypeError);
    expect(() => lean.series(label(0))(Number.NaN)).toThrow(TypeError);
  });
});
