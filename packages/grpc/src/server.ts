import { setMaxListeners } from "node:events";
import { createServer, type Http2Server, type Http2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

const WINDOW_BYTES = 1 << 20;
const CONNECTION_WINDOW_BYTES = 16 << 20;

export interface GrpcServerOptions {
  port: number;
  host: string;
  routes: (router: ConnectRouter) => void;
  /** Outermost first. */
  interceptors: Interceptor[];
  /** How long close() lets open calls finish before it cancels them. */
  closeGraceMs?: number;
}

export interface GrpcServer {
  server: Http2Server;
  port: number;
  /**
   * Stops accepting connections, tells clients to go away (GOAWAY) while open calls finish, and after the
   * grace period cancels what is still open (health watches, reflection streams).
   */
  close(): Promise<void>;
}

/**
 * Serves the routes over cleartext HTTP/2 (h2c, prior knowledge) in all three protocols: gRPC, gRPC-Web
 * and Connect. JSON bodies (Connect, gRPC-Web text clients) with unknown fields are refused, as the
 * HTTP API refuses unknown fields.
 */
export function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const shutdown = new AbortController();
  // Every open call listens on the shutdown signal, so the default limit of 10 would warn under load.
  setMaxListeners(0, shutdown.signal);
  const handler = connectNodeAdapter({
    routes: options.routes,
    interceptors: options.interceptors,
    jsonOptions: { ignoreUnknownFields: false },
    shutdownSignal: shutdown.signal,
  });
  // HTTP/2's default 64 KiB windows hold a 100-event batch per round trip; larger ones let batches stream.
  const server = createServer({ settings: { initialWindowSize: WINDOW_BYTES } }, handler);
  const sessions = new Set<Http2Session>();
  server.on("session", (session) => {
    session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      const { port } = server.address() as AddressInfo;
      resolve({
        server,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const session of sessions) session.close();
            const timer = setTimeout(() => {
              shutdown.abort(new ConnectError("the server is shutting down", Code.Unavailable));
              for (const session of sessions) session.destroy();
            }, options.closeGraceMs ?? 5000);
            timer.unref();
            server.once("close", () => clearTimeout(timer));
          }),
      });
    });
  });
}
