// The ingest HTTP app with a publisher that acknowledges at once: what the HTTP path costs without the
// broker. Used by `bench/ingest/profile.ts no-broker`.
import { startHttpServer } from "@sluice/http";
import type { NodeBindings } from "../../apps/ingest/src/body";
import { buildTestApp } from "../../apps/ingest/src/testing/fakes";

const { app, publisher } = buildTestApp();
publisher.publish = () => Promise.resolve();
const http = await startHttpServer((request, env) => app.fetch(request, env as NodeBindings), {
  port: Number(process.argv[2] ?? 0),
  host: "127.0.0.1",
});
process.on("SIGTERM", () => void http.close().then(() => process.exit(0)));
