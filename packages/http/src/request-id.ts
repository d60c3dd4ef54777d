import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { MiddlewareHandler } from "hono";

declare module "hono" {
  interface ContextVariableMap {
    requestId: string;
  }
}

/** What @hono/node-server passes as the env of each request; absent under `app.request()`. */
interface NodeEnv {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

const HEADER = "x-request-id";
const MAX_LENGTH = 128;
const UNSAFE = /[^\w\-=]/;

/**
 * Sets `requestId` from the client's `x-request-id` when it is at most 128 of `[A-Za-z0-9_=-]`, else
 * to a fresh UUID, and echoes it on the response (as hono/request-id does). Behind the Node adapter it
 * reads and writes Node's own header objects: going through Hono would build a WHATWG Headers object
 * for the request and another for the response, on every request.
 */
export function requestIdMiddleware(): MiddlewareHandler {
  return async (c, next) => {
    const env = c.env as NodeEnv | undefined;
    const incoming = env?.incoming;
    const given = incoming === undefined ? c.req.header(HEADER) : incoming.headers[HEADER];
    const id =
      typeof given === "string" && given !== "" && given.length <= MAX_LENGTH && !UNSAFE.test(given) ? given : randomUUID();
    c.set("requestId", id);
    // writeHead merges headers set here with the ones the adapter passes, so every answer carries it.
    const outgoing = env?.outgoing;
    if (outgoing === undefined || typeof outgoing.setHeader !== "function") c.header(HEADER, id);
    else outgoing.setHeader(HEADER, id);
    await next();
  };
}
