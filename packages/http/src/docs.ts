import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { swaggerUI } from "@hono/swagger-ui";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "hono";
import { AppError } from "./errors";

const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

export interface DocsInfo {
  title: string;
  description: string;
}

/**
 * Registers `/openapi.json` (generated from the routes' zod schemas), the API-key security schemes,
 * and Swagger UI at `/docs`. The UI's assets come from the swagger-ui-dist package under
 * `/docs/assets`, not from a CDN, so the page works offline.
 */
export function registerDocs<E extends Env>(app: OpenAPIHono<E>, info: DocsInfo): void {
  const distDir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const cache = new Map<string, string>();
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", { type: "apiKey", in: "header", name: "x-api-key" });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: info.title, version: "1.0.0", description: info.description },
    security: [{ apiKey: [] }, { bearer: [] }],
  });
  app.get("/docs", swaggerUI({ url: "/openapi.json", baseUrl: "/docs/assets", title: info.title }));
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
