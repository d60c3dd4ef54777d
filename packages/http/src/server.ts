import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { RequestIdResponse } from "./request-id";

type FetchHandler = (request: Request, env?: unknown) => Response | Promise<Response>;

export interface HttpServer {
  server: Server;
  port: number;
  /** Stops accepting connections and resolves once in-flight requests have been answered. */
  close(): Promise<void>;
}

/** Serves a request the Node adapter would hand to Hono. */
export type NodeListener = (incoming: IncomingMessage, outgoing: ServerResponse) => void;

/**
 * Serves some requests without Hono's adapter and router (for a hot path whose per-request cost they
 * dominate). Called first for every request: returns false, deciding from the request line and headers
 * alone, to leave the request to Hono; once it returned true it answers the request itself, or passes
 * it on with `toHono`.
 */
export type FastLane = (incoming: IncomingMessage, outgoing: ServerResponse, toHono: NodeListener) => boolean;

export interface HttpServerOptions {
  port: number;
  host: string;
  /** Cuts off clients that send headers or bodies too slowly (slowloris). */
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Offered every request before Hono (see FastLane). */
  fastLane?: FastLane;
}

/** Starts a Node HTTP server for a Hono fetch handler and resolves once it listens. */
export function startHttpServer(fetch: FetchHandler, options: HttpServerOptions): Promise<HttpServer> {
  return new Promise((resolve, reject) => {
    const requestTimeout = options.requestTimeoutMs ?? 30_000;
    // Node refuses a headers timeout longer than the request timeout.
    const headersTimeout = Math.min(options.headersTimeoutMs ?? 10_000, requestTimeout);
    // An HTTP/1.0 request may come without a Host header; the adapter then builds its URL from this one.
    const hono = getRequestListener(fetch, { hostname: options.host }) as NodeListener;
    const { fastLane } = options;
    const server = createServer(
      {
        requestTimeout,
        headersTimeout,
        // Node looks for timed-out requests only every connectionsCheckingInterval (30 s by default), which
        // would let a slow client hold its connection far past a short timeout.
        connectionsCheckingInterval: Math.max(100, Math.min(headersTimeout, 30_000) / 4),
        ServerResponse: RequestIdResponse,
      },
      fastLane === undefined
        ? hono
        : (incoming, outgoing) => {
            let taken = false;
            try {
              taken = fastLane(incoming, outgoing, hono);
            } catch {
              // Deciding threw before the lane read anything: Hono serves the request (and answers the fault).
            }
            if (!taken) hono(incoming, outgoing);
          },
    );
    // Longer than the idle timeout of common clients and load balancers (60 s), so the server never
    // closes a kept-alive connection just as a client sends its next request on it (seen as EOF/reset).
    server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
    server.once("error", reject);
    server.listen(options.port, options.host);
    server.once("listening", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        server,
        port,
        close: () =>
          new Promise<void>((done) => {
            // Connections whose in-flight request finishes after close() turn idle later; sweep them
            // so a drain never waits for the keep-alive timeout.
            const sweep = setInterval(() => server.closeIdleConnections(), 100);
            server.close(() => {
              clearInterval(sweep);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}
