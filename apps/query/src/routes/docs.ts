import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { swaggerUI } from "@hono/swagger-ui";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { AppError } from "@sluice/http";

const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

/**
 * Registers `/openapi.json` and Swagger UI at `/docs`. The UI's assets are served from the
 * swagger-ui-dist package under `/docs/assets`, not from a CDN, so the page works offline.
 */
export function registerDocs(app: OpenAPIHono): void {
  const distDir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const cache = new Map<string, string>();
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Sluice query API",
      version: "1.0.0",
      description: "Metrics, event look-up and search, campaigns. Send the key as `Authorization: Bearer <key>` or `x-api-key`.",
    },
    security: [{ apiKey: [] }, { bearer: [] }],
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", { type: "apiKey", in: "header", name: "x-api-key" });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.get("/docs", swaggerUI({ url: "/openapi.json", baseUrl: "/docs/assets", title: "Sluice query API" }));
  app.get("/docs/assets/swagger-ui-dist/:file", async (c) => {
    const file = c.req.param("file");
    const type = ASSETS[file];
    if (type === undefined) throw new AppError("NOT_FOUND", "no such asset");
    let body = cache.get(file);
    if (body === undefined) {
      body = await readFile(join(distDir, file), "utf8");
      cache.set(file, body);
    }
    c.header("cache-control", "public, max-age=86400");
    return c.body(body, 200, { "content-type": type });
  });
}
