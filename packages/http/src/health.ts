import type { Env, Hono } from "hono";
import type { Readiness } from "./readiness";

/** Registers `GET /health` (process alive) and `GET /ready` (dependencies up, not draining). */
export function registerHealth<E extends Env>(app: Hono<E>, readiness: Readiness): void {
  app.get("/health", (c) => c.json({ status: "healthy" }, 200));
  app.get("/ready", async (c) => {
    const report = await readiness.report();
    if (report.ready) return c.json({ status: "ready", checks: report.checks }, 200);
    const failed = Object.entries(report.checks)
      .filter(([, result]) => !result.ok)
      .map(([name]) => name);
    c.header("Retry-After", "1");
    return c.json({ status: "unavailable", failed, checks: report.checks }, 503);
  });
}
