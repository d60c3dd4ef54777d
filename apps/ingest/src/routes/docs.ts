import { swaggerUI } from "@hono/swagger-ui";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { IngestEnv } from "../types";

/** `GET /openapi.json` (generated from the zod schemas) and Swagger UI at `GET /docs`. */
export function registerDocs(app: OpenAPIHono<IngestEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", { type: "apiKey", in: "header", name: "x-api-key" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Sluice ingest API",
      version: "1.0.0",
      description: "Answers 202 only after Kafka acknowledged the event (acks=all). Errors use one envelope.",
    },
  });
  app.get("/docs", swaggerUI({ url: "/openapi.json" }));
}
