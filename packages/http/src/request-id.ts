import { type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders, ServerResponse } from "node:http";
import { uuidv7 } from "@sluice/events/uuid";
import type { MiddlewareHandler } from "hono";
import { nodeEnv } from "./node-env";

declare module "hono" {
  interface ContextVariableMap {
    requestId: string;
  }
}

const HEADER = "x-request-id";
const MAX_LENGTH = 128;
const UNSAFE = /[^\w\-=]/;

type NodeHeaders = OutgoingHttpHeaders | OutgoingHttpHeader[];

function namesRequestId(headers: OutgoingHttpHeaders): boolean {
  for (const name in headers) if (name.length === HEADER.length && name.toLowerCase() === HEADER) return true;
  return false;
}

/**
 * The Node server's response class (see startHttpServer): it adds the `x-request-id` that
 * requestIdMiddleware hands it to the header object its writeHead gets. Setting the header earlier
 * with setHeader would send every answer down Node's slower writeHead path, which sets and validates
 * each header again one by one (a few µs per request on the ingest hot path). A header of the same
 * name the answer sets itself wins, as it did over setHeader.
 */
export class RequestIdResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** The id to send with the status line; set by requestIdMiddleware. */
  requestId: string | undefined;

  override writeHead(statusCode: number, reason?: string | NodeHeaders, headers?: NodeHeaders): this {
    const id = this.requestId;
    const named = typeof reason === "string";
    let given = named ? headers : reason;
    if (id !== undefined) {
      this.requestId = undefined;
      if (given !== undefined && given !== null && !Array.isArray(given)) {
        if (!namesRequestId(given) && !this.hasHeader(HEADER)) given = { [HEADER]: id, ...given };
      } else if (!this.hasHeader(HEADER)) {
        this.setHeader(HEADER, id);
      }
    }
    return named ? super.writeHead(statusCode, reason, given) : super.writeHead(statusCode, given);
  }
}

/** The request id for a client's `x-request-id` value: that value when it is well-formed, else a new UUIDv7. */
export function requestIdFrom(given: string | string[] | undefined): string {
  return typeof given === "string" && given !== "" && given.length <= MAX_LENGTH && !UNSAFE.test(given) ? given : uuidv7();
}

/**
 * Sets `requestId` from the client's `x-request-id` when it is at most 128 of `[A-Za-z0-9_=-]`, else
 * to a fresh UUIDv7, and echoes it on the response (as hono/request-id does). A UUIDv7 rather than
 * crypto.randomUUID(): that one is a string of many joined pieces, which Node's header check flattens
 * on every answer (~3 µs of the ingest's hot path), and time-ordered ids sort with the events' own.
 * Behind the Node adapter it reads Node's own header object and hands the id to a RequestIdResponse
 * (or sets it on another Node response): going through Hono would build a WHATWG Headers object for
 * the request and another for the response, on every request.
 */
export function requestIdMiddleware(): MiddlewareHandler {
  return async (c, next) => {
    const { incoming, outgoing } = nodeEnv(c);
    const id = requestIdFrom(incoming === undefined ? c.req.header(HEADER) : incoming.headers[HEADER]);
    c.set("requestId", id);
    // writeHead merges headers set here with the ones the adapter passes, so every answer carries it.
    if (outgoing instanceof RequestIdResponse) outgoing.requestId = id;
    else if (outgoing === undefined || typeof outgoing.setHeader !== "function") c.header(HEADER, id);
    else outgoing.setHeader(HEADER, id);
    await next();
  };
}
