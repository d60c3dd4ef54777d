import type { OpenAPIHono } from "@hono/zod-openapi";
import { DASHBOARD_HTML } from "../dashboard/page";

/** Registers `GET /`, the dashboard page; the page itself needs no key, its data calls do. */
export function registerDashboard(app: OpenAPIHono): void {
  app.get("/", (c) => {
    c.header("cache-control", "no-cache");
    return c.html(DASHBOARD_HTML);
  });
}
