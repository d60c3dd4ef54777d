// Docker HEALTHCHECK for the Sluice images: exits 0 when GET /health on SERVER_PORT answers 2xx.
// Plain JavaScript run by node itself, so the check needs neither curl in the image nor tsx at start-up.
const port = process.env.SERVER_PORT ?? "8080";
const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS ?? 2000);

try {
  const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
