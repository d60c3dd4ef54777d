import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { AppError } from "@sluice/http";
import type { Context } from "hono";

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

/** Checks the request's media type and encoding; returns whether the body is gzipped. */
function checkHeaders(c: Context, limit: number): boolean {
  const contentType = c.req.header("content-type");
  const mediaType = contentType?.split(";", 1)[0]?.trim().toLowerCase();
  if (mediaType === undefined || !JSON_TYPE.test(mediaType)) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "content-type must be application/json", [
      { path: "content-type", message: `got ${contentType ?? "none"}` },
    ]);
  }
  const encoding = c.req.header("content-encoding")?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== "" && encoding !== "identity" && encoding !== "gzip" && encoding !== "x-gzip") {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "content-encoding must be gzip or identity", [
      { path: "content-encoding", message: `got ${encoding}` },
    ]);
  }
  const length = Number(c.req.header("content-length"));
  if (length > limit) {
    c.header("Connection", "close");
    throw tooLarge(limit);
  }
  return encoding === "gzip" || encoding === "x-gzip";
}

/**
 * Collects a stream up to `limit` bytes. Past the limit it stops reading at once and rejects, so an
 * oversized or decompression-bomb body is cut off instead of buffered.
 */
function collect(source: Readable, limit: number, onOverflow: () => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      source.off("data", onData);
      source.off("end", onEnd);
      source.off("error", onError);
      source.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        source.pause();
        onOverflow();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (error: Error & { code?: string }) => {
      cleanup();
      const gzip = error.code?.startsWith("Z_") === true;
      reject(new AppError("BAD_REQUEST", gzip ? "body is not valid gzip" : "request body could not be read"));
    };
    const onClose = () => {
      cleanup();
      reject(new AppError("BAD_REQUEST", "request body ended early"));
    };
    source.on("data", onData);
    source.on("end", onEnd);
    source.on("error", onError);
    source.on("close", onClose);
  });
}

/**
 * Reads and parses the JSON body while enforcing `limit` on the bytes as sent and, for
 * `Content-Encoding: gzip`, on the decompressed bytes. 415 for other media types, 413 past the limit,
 * 400 INVALID_JSON for malformed JSON.
 */
export async function readJsonBody<E extends { Bindings: NodeBindings }>(c: Context<E>, limit: number): Promise<unknown> {
  const gzip = checkHeaders(c, limit);
  // Reading the Node request directly skips the web-stream adapter on the hot path.
  const incoming = (c.env as NodeBindings | undefined)?.incoming;
  const raw: Readable = incoming ?? (c.req.raw.body ? Readable.fromWeb(c.req.raw.body as never) : Readable.from([]));
  let body: Buffer;
  // The rest of an oversized body is never read; closing the connection after the answer discards it.
  const cutOff = () => c.header("Connection", "close");
  if (gzip) {
    const gunzip = createGunzip();
    raw.on("error", (error) => gunzip.destroy(error));
    raw.pipe(gunzip);
    body = await collect(gunzip, limit, () => {
      raw.unpipe(gunzip);
      gunzip.destroy();
      cutOff();
    });
  } else {
    body = await collect(raw, limit, cutOff);
  }
  if (body.length === 0) throw new AppError("INVALID_JSON", "request body is empty");
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new AppError("INVALID_JSON", `malformed JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}
