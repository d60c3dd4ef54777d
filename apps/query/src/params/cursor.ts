import { AppError } from "@sluice/http";
import { z } from "zod";

/** Where the previous page ended: the last row's timestamp_ms and event_id (the keyset of newest-first order). */
export interface Cursor {
  timestampMs: number;
  eventId: string;
}

const cursorSchema = z.tuple([z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.uuid()]);

/** Encodes a cursor as opaque base64url. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.timestampMs, cursor.eventId])).toString("base64url");
}

/** Decodes a cursor from a previous page, or answers 400 naming `cursor`. */
export function decodeCursor(text: string): Cursor {
  const bad = new AppError("VALIDATION_FAILED", "cursor is not one this API issued", [
    { path: "cursor", message: "invalid cursor" },
  ]);
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(text)) throw bad;
  try {
    const parsed = cursorSchema.safeParse(JSON.parse(Buffer.from(text, "base64url").toString("utf8")));
    if (!parsed.success) throw bad;
    return { timestampMs: parsed.data[0], eventId: parsed.data[1].toLowerCase() };
  } catch {
    throw bad;
  }
}
