import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { AppError, nodeEnv } from "@sluice/http";
import type { Context } from "hono";
import { JsonBody } from "./json-body";

/** Bindings the Node adapter passes to every request; absent under `app.request()` in tests. */
export interface NodeBindings {
  incoming?: IncomingMessage;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;

function tooLarge(limit: number): AppError {
  return new AppError("PAYLOAD_TOO_LARGE", `body exceeds ${limit} bytes`, [
    { path: "(body)", message: `at most ${limit} bytes` },
  ]);
}

/**
 * A request header: from Node's parsed headers when the Node adapter passes them (reading them through
 * Hono would build a WHATWG Headers object per request), else from the Request.
 */
function header(c: Context, incoming: IncomingMessage | undefined, name: string): string | undefined {
  if (incoming === undefined) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** Checks the request's media type and encoding; returns whether the body is gzipped. */
function checkHeaders(c: Context, incoming: IncomingMessage | undefined, limit: number): boolean {
  const contentType = header(c, incoming, "content-type");
  // What SDKs send, checked before the general parse of parameters, case and +json suffixes.
  const mediaType = contentType === "application/json" ? contentType : contentType?.split(";", 1)[0]?.trim().toLowerCase();
  if (mediaType === undefined || (mediaType !== "application/json" && !JSON_TYPE.test(mediaType))) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "content-type must be application/json", [
      { path: "content-type", message: `got ${contentType ?? "none"}` },
    ]);
  }
  const encoding = header(c, incoming, "content-encoding")?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== "" && encoding !== "identity" && encoding !== "gzip" && encoding !== "x-gzip") {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "content-encoding must be gzip or identity", [
      { path: "content-encoding", message: `got ${encoding}` },
    ]);
  }
  const length = Number(header(c, incoming, "content-length"));
  if (length > limit) {
    c.header("Connection", "close");
    throw tooLarge(limit);
  }
  return encoding === "gzip" || encoding === "x-gzip";
}

/**
 * Collects a stream up to `limit` bytes. Past the limit it stops reading at once and rejects, so an
 * oversized or decompression-bomb body is cut off instead of buffered. A class rather than closures:
 * this runs once per request, and its listeners are bound once per body.
 */
class Collector {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly onData = this.data.bind(this);
  private readonly onEnd = this.end.bind(this);
  private readonly onError = this.error.bind(this);
  private readonly onClose = this.close.bind(this);

  constructor(
    private readonly source: Readable,
    private readonly limit: number,
    private readonly onOverflow: () => void,
    private readonly resolve: (body: Buffer) => void,
    private readonly reject: (error: AppError) => void,
  ) {
    source.on("data", this.onData);
    source.on("end", this.onEnd);
    source.on("error", this.onError);
    source.on("close", this.onClose);
  }

  private cleanup(): void {
    this.source.off("data", this.onData);
    this.source.off("end", this.onEnd);
    this.source.off("error", this.onError);
    this.source.off("close", this.onClose);
  }

  private data(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.cleanup();
      this.source.pause();
      this.onOverflow();
      this.reject(tooLarge(this.limit));
      return;
    }
    this.chunks.push(chunk);
  }

  private end(): void {
    this.cleanup();
    const { chunks } = this;
    this.resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.size));
  }

  private error(error: Error & { code?: string }): void {
    this.cleanup();
    const gzip = error.code?.startsWith("Z_") === true;
    this.reject(new AppError("BAD_REQUEST", gzip ? "body is not valid gzip" : "request body could not be read"));
  }

  private close(): void {
    this.cleanup();
    this.reject(new AppError("BAD_REQUEST", "request body ended early"));
  }
}

function collect(source: Readable, limit: number, onOverflow: () => void): Promise<Buffer> {
  return new Promise((resolve, reject) => new Collector(source, limit, onOverflow, resolve, reject));
}

/** Bodies the events fast lane read before it passed their requests on to Hono (routes/events.ts). */
const readAhead = new WeakMap<IncomingMessage, Buffer>();

/**
 * Hands the body the fast lane read off `incoming` to the readJsonBody that serves the request through
 * Hono. Such a request was already charged to its key's rate limit (see passedOn).
 */
export function passOnBody(incoming: IncomingMessage, body: Buffer): void {
  readAhead.set(incoming, body);
}

/** Whether the fast lane passed this request on with its body (and so has charged its rate limit). */
export function passedOn(incoming: IncomingMessage | undefined): boolean {
  return incoming !== undefined && readAhead.has(incoming);
}

/**
 * Reads a plain (not gzipped) body up to `limit` bytes; 413 past it, 400 when the client goes away.
 * For a caller that has checked Content-Length against the limit: past it, the connection is not closed.
 */
export function readPlainBody(incoming: Readable, limit: number): Promise<Buffer> {
  return collect(incoming, limit, () => undefined);
}

/**
 * Reads the JSON body while enforcing `limit` on the bytes as sent and, for `Content-Encoding: gzip`, on
 * the decompressed bytes: 415 for other media types, 413 past the limit. Parsing is left to the
 * service (JsonBody.parse: 400 INVALID_JSON), whose fast path reads most bodies without parsing them.
 */
export async function readJsonBody<E extends { Bindings: NodeBindings }>(c: Context<E>, limit: number): Promise<JsonBody> {
  // Reading the Node request directly skips the web-stream adapter on the hot path.
  const { incoming } = nodeEnv(c);
  const gzip = checkHeaders(c, incoming, limit);
  const ahead = incoming === undefined ? undefined : readAhead.get(incoming);
  if (ahead !== undefined) return new JsonBody(ahead, true);
  const raw: Readable = incoming ?? (c.req.raw.body ? Readable.fromWeb(c.req.raw.body as never) : Readable.from([]));
  // The rest of an oversized body is never read; closing the connection after the answer discards it.
  if (gzip) {
    const gunzip = createGunzip();
    raw.on("error", (error) => gunzip.destroy(error));
    raw.pipe(gunzip);
    return new JsonBody(
      await collect(gunzip, limit, () => {
        raw.unpipe(gunzip);
        gunzip.destroy();
        c.header("Connection", "close");
      }),
    );
  }
  return new JsonBody(await collect(raw, limit, () => c.header("Connection", "close")));
}
