import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context } from "hono";

/** What @hono/node-server passes as the env of each request; absent under `app.request()`. */
export interface NodeEnv {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

/** The Node env behind a Hono context: its request and response when the Node adapter serves it. */
export function nodeEnv(c: Context): NodeEnv {
  return (c.env as NodeEnv | undefined) ?? {};
}
