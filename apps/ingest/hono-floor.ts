import { serve } from "@hono/node-server";
import { Hono } from "hono";

const app = new Hono<{ Bindings: { incoming: import("node:http").IncomingMessage } }>();
app.post("/events", async (c) => {
  const incoming = c.env.incoming;
  await new Promise<void>((resolve) => {
    incoming.on("data", () => undefined);
    incoming.on("end", resolve);
  });
  return c.json({ status: "accepted", event_id: "00000000-0000-7000-8000-000000000000" }, 202);
});
app.get("/health", (c) => c.text("ok"));
serve({ fetch: app.fetch, port: Number(process.argv[2]), hostname: "127.0.0.1" });
process.on("SIGTERM", () => process.exit(0));
