import { randomFillSync } from "node:crypto";

// A UUIDv7 (RFC 9562) generator for the ingest hot path: ids are assigned per event, and the `uuid`
// package's v7 (a 16-byte random fill and a byte-by-byte format per id) was ~6% of a batch's CPU. Here
// random bytes come from a pooled fill, the timestamp's hex is formatted once per millisecond, and ids
// of one process increase strictly, as the `uuid` package's do: within a millisecond rand_a counts up
// from a random start, and when it runs out the timestamp moves on by one.

/** The two lower-case hex digits of each byte value, as character codes (high digit << 8 | low digit). */
const HEX = Uint16Array.from({ length: 256 }, (_, i) => {
  const digits = i.toString(16).padStart(2, "0");
  return (digits.charCodeAt(0) << 8) | digits.charCodeAt(1);
});
const DASH = 0x2d;
const POOL_BYTES = 8192;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;

let lastMs = -1;
/** The id's first 13 characters (48-bit timestamp as hex, with its dash), for lastMs. */
const prefix = Buffer.alloc(13);
let counter = 0;
const scratch = Buffer.alloc(36);

function randomBytes(count: number): number {
  if (poolOffset + count > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += count;
  return at;
}

function putHex(out: Buffer, byte: number, at: number): void {
  const digits = HEX[byte] as number;
  out[at] = digits >>> 8;
  out[at + 1] = digits & 0xff;
}

function setTimestamp(ms: number): void {
  lastMs = ms;
  const high = Math.floor(ms / 0x1000000);
  const low = ms % 0x1000000;
  putHex(prefix, (high >>> 16) & 0xff, 0);
  putHex(prefix, (high >>> 8) & 0xff, 2);
  putHex(prefix, high & 0xff, 4);
  putHex(prefix, (low >>> 16) & 0xff, 6);
  prefix[8] = DASH;
  putHex(prefix, (low >>> 8) & 0xff, 9);
  putHex(prefix, low & 0xff, 11);
}

/**
 * Writes a new UUIDv7 (lower-case, 36 characters) into `out` at `at`, greater than every id this process
 * generated before; returns the position after it. The ingest's fast path writes ids straight into messages.
 */
export function writeUuidv7(out: Buffer, at: number, now: number = Date.now()): number {
  if (now > lastMs) {
    setTimestamp(now);
    const r = randomBytes(2);
    // Start low in the 12-bit space so a millisecond has room for at least 2048 ids.
    counter = ((pool[r] as number) << 3) | ((pool[r + 1] as number) & 0x7);
  } else {
    counter += 1;
    if (counter > 0xfff) {
      setTimestamp(lastMs + 1);
      counter = 0;
    }
  }
  const r = randomBytes(8);
  for (let i = 0; i < 13; i++) out[at + i] = prefix[i] as number;
  out[at + 13] = DASH;
  putHex(out, 0x70 | (counter >>> 8), at + 14);
  putHex(out, counter & 0xff, at + 16);
  out[at + 18] = DASH;
  putHex(out, 0x80 | ((pool[r] as number) & 0x3f), at + 19);
  putHex(out, pool[r + 1] as number, at + 21);
  out[at + 23] = DASH;
  for (let i = 0; i < 6; i++) putHex(out, pool[r + 2 + i] as number, at + 24 + 2 * i);
  return at + 36;
}

/** A new UUIDv7 string (lower-case), greater than every id this process generated before. */
export function uuidv7(now: number = Date.now()): string {
  writeUuidv7(scratch, 0, now);
  return scratch.toString("latin1", 0, 36);
}

/** 1 for the byte of each hex digit, either case. */
const HEX_DIGIT = Uint8Array.from({ length: 256 }, (_, byte) => (/^[0-9a-fA-F]$/.test(String.fromCharCode(byte)) ? 1 : 0));
const ZERO = 0x30;
const LOWER_F = 0x66;

/** Whether every digit of the 8-4-4-4-12 form at `at` is `digit`. */
function allDigits(b: Uint8Array, at: number, digit: number): boolean {
  for (let i = 0; i < 36; i++) if (i !== 8 && i !== 13 && i !== 18 && i !== 23 && b[at + i] !== digit) return false;
  return true;
}

/**
 * Whether the 36 bytes at `at` are a UUID as the event schema (zod's `uuid()`) accepts one: the
 * 8-4-4-4-12 hex form, either case, of versions 1-8 with the RFC variant, or the nil or (lower-case)
 * max UUID. The byte readers' check, without a string or a regular expression per id.
 */
export function isUuidAt(b: Uint8Array, at: number): boolean {
  if (at < 0 || at + 36 > b.length) return false;
  for (let i = 0; i < 36; i++) {
    const byte = b[at + i] as number;
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (byte !== DASH) return false;
    } else if (HEX_DIGIT[byte] !== 1) return false;
  }
  const version = b[at + 14] as number;
  const variant = (b[at + 19] as number) | 0x20;
  if (version >= 0x31 && version <= 0x38 && (variant === 0x38 || variant === 0x39 || variant === 0x61 || variant === 0x62))
    return true;
  return allDigits(b, at, ZERO) || allDigits(b, at, LOWER_F);
}
