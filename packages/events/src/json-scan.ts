import { LIMITS } from "./schema";

// Byte-level readers for compact JSON in the form JSON.stringify writes it, shared by the hot paths that
// skip JSON.parse (the ingest's fast-event.ts, the worker's fast-line.ts). Each reader only accepts what
// it can reproduce exactly: printable ASCII strings without `\` or `'`, canonical numbers, no whitespace,
// no duplicate keys. Anything else gives -1, and the caller falls back to JSON.parse and the validators.

export const QUOTE = 0x22;
export const APOSTROPHE = 0x27;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;
export const ZERO = 0x30;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const DOT = 0x2e;
const NINE = 0x39;

/** Names as latin1 buffers, to compare with keys in place. */
function asciiNames(names: readonly string[]): Buffer[] {
  return names.map((name) => Buffer.from(name, "latin1"));
}

const PROTO = Buffer.from("__proto__", "latin1");

/** Whether b[start, end) holds exactly the bytes of `name`. */
export function equalBytes(b: Buffer, start: number, end: number, name: Buffer): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (b[start + i] !== name[i]) return false;
  return true;
}

/**
 * A fixed set of ASCII names looked up by the bytes of a key in place: only the names of the key's
 * length are compared (one or two for the usual key).
 */
export class NameSet {
  readonly names: readonly Buffer[];
  /** The closing quote of the key `readKey` read last. */
  keyEnd = -1;
  private readonly byLength: number[][] = [];
  /**
   * The name that followed each name in the last object read (the last slot: the name it began with),
   * -1 while unknown. Writers put an object's keys in the same order every time, so `readKey` checks its
   * guess in one pass over the key instead of scanning the key and then comparing it with candidates.
   */
  private readonly following: Int32Array;

  constructor(names: readonly string[]) {
    this.names = asciiNames(names);
    this.names.forEach((name, index) => {
      for (let length = this.byLength.length; length <= name.length; length++) this.byLength.push([]);
      this.byLength[name.length]?.push(index);
    });
    this.following = new Int32Array(names.length + 1).fill(-1);
  }

  /**
   * The index of the name that the key opening at `p` (its quote) holds, with its closing quote in
   * `keyEnd`; -1 unless the key is a plain string of one of the names. `previous` is the index of the
   * key before it in the same object, -1 for the first; a guess from it only saves time.
   */
  readKey(b: Buffer, p: number, previous: number): number {
    const slot = previous < 0 ? this.names.length : previous;
    const guess = this.following[slot] as number;
    if (guess >= 0) {
      const name = this.names[guess] as Buffer;
      const end = p + 1 + name.length;
      if (b[p] === QUOTE && b[end] === QUOTE) {
        let k = 0;
        while (k < name.length && b[p + 1 + k] === name[k]) k++;
        if (k === name.length) {
          this.keyEnd = end;
          return guess;
        }
      }
    }
    const keyEnd = stringEnd(b, p);
    this.keyEnd = keyEnd;
    if (keyEnd < 0) return -1;
    const index = this.indexOf(b, p + 1, keyEnd);
    if (index >= 0) this.following[slot] = index;
    return index;
  }

  /** The index of the name equal to b[start, end), or -1. */
  indexOf(b: Buffer, start: number, end: number): number {
    const candidates = this.byLength[end - start];
    if (candidates === undefined) return -1;
    for (let k = 0; k < candidates.length; k++) {
      const index = candidates[k] as number;
      if (equalBytes(b, start, end, this.names[index] as Buffer)) return index;
    }
    return -1;
  }
}

/** 1 for the bytes a plain string holds as they are (printable ASCII other than `"`, `\` and `'`), else 0. */
const PLAIN_STRING_BYTE = new Uint8Array(256);
for (let c = 0x20; c <= 0x7e; c++) PLAIN_STRING_BYTE[c] = c === QUOTE || c === BACKSLASH || c === APOSTROPHE ? 0 : 1;

/**
 * The index of the closing quote of the string opening at `p`, or -1 unless the string holds only
 * printable ASCII other than `\` and `'` (so JSON.parse reads it byte for byte, JSON.stringify writes it
 * back unchanged, its length in code points is its length in bytes, and TabSeparated writes it unescaped).
 */
export function stringEnd(b: Buffer, p: number): number {
  if (b[p] !== QUOTE) return -1;
  const n = b.length;
  let i = p + 1;
  // One table load a byte instead of five comparisons: the scan's hottest loop.
  while (i < n && PLAIN_STRING_BYTE[b[i] as number] === 1) i++;
  return i < n && b[i] === QUOTE ? i : -1;
}

/** The end of the digits of a non-negative integer of at most 15 digits (an exact safe integer, written as String writes it) at `p`, or -1. */
export function integerEnd(b: Buffer, p: number): number {
  let i = p;
  while (i < b.length && (b[i] as number) >= ZERO && (b[i] as number) <= NINE) i++;
  const digits = i - p;
  // A fraction or an exponent after the digits (1.0 is the integer 1 to JSON.parse) is not a delimiter: the caller declines.
  return digits === 0 || digits > 15 || (digits > 1 && b[p] === ZERO) ? -1 : i;
}

/** The value of the digits b[start, end). */
export function integerValue(b: Buffer, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + ((b[i] as number) - ZERO);
  return value;
}

/**
 * The end of a property's number at `p` when JSON.parse reads it and String writes it back as the
 * very same text (so its bytes can be copied), or -1.
 */
export function numberEnd(b: Buffer, p: number): number {
  let i = p;
  if (b[i] === MINUS) i++;
  const intStart = i;
  while (i < b.length && (b[i] as number) >= ZERO && (b[i] as number) <= NINE) i++;
  const intDigits = i - intStart;
  if (intDigits === 0 || (intDigits > 1 && b[intStart] === ZERO)) return -1;
  let fraction = false;
  let significant = b[intStart] === ZERO ? 0 : intDigits;
  let leadingZeros = 0;
  if (b[i] === DOT) {
    i++;
    const fractionStart = i;
    while (i < b.length && (b[i] as number) >= ZERO && (b[i] as number) <= NINE) {
      if (significant === 0 && b[i] === ZERO) leadingZeros++;
      else significant++;
      i++;
    }
    if (i === fractionStart) return -1;
    fraction = true;
  }
  // An exponent is left unread, so the caller, finding no delimiter, declines.
  // Integers of up to 15 digits other than -0 are exact and written back digit for digit.
  if (!fraction && intDigits <= 15 && !(b[p] === MINUS && b[intStart] === ZERO)) return i;
  // So is a decimal of at most 15 significant digits (DBL_DIG: it survives the trip through a double)
  // ending in a non-zero digit, unless String would switch to an exponent (below 1e-6).
  if (fraction && significant > 0 && significant <= 15 && b[i - 1] !== ZERO && leadingZeros <= 5) return i;
  const text = b.toString("latin1", p, i);
  return String(Number(text)) === text ? i : -1;
}

// Buffer#copy costs ~150 ns a call whatever the size, a byte loop ~2-3 ns a byte: short spans go byte by byte.
/** Copies b[start, end) into `out` at `at`; the position after it. */
export function copyBytes(out: Buffer, b: Buffer, start: number, end: number, at: number): number {
  if (end - start > 64) return at + b.copy(out, at, start, end);
  let p = at;
  for (let i = start; i < end; i++) out[p++] = b[i] as number;
  return p;
}

export const KIND_STRING = 0;
export const KIND_NUMBER = 1;
export const KIND_TRUE = 2;
export const KIND_FALSE = 3;

/** One property map's entries in input order: kind, key span, value span (a string's without its quotes). */
export class PropertySpans {
  readonly kind: Uint8Array;
  readonly keyStart: Int32Array;
  readonly keyEnd: Int32Array;
  readonly valueStart: Int32Array;
  readonly valueEnd: Int32Array;
  count = 0;
  /** At most `maxKeys` entries: a map with more fails the schema. */
  constructor(maxKeys: number) {
    this.kind = new Uint8Array(maxKeys);
    this.keyStart = new Int32Array(maxKeys);
    this.keyEnd = new Int32Array(maxKeys);
    this.valueStart = new Int32Array(maxKeys);
    this.valueEnd = new Int32Array(maxKeys);
  }
}

/** Reads a property map `{...}` (the schema's metadata and user_properties) at `p` into `spans`; the end index, or -1. */
export function readProperties(b: Buffer, p: number, spans: PropertySpans): number {
  spans.count = 0;
  if (b[p] !== OPEN_BRACE) return -1;
  let i = p + 1;
  if (b[i] === CLOSE_BRACE) return i + 1;
  for (;;) {
    const keyEnd = stringEnd(b, i);
    if (keyEnd < 0) return -1;
    const keyStart = i + 1;
    const keyLength = keyEnd - keyStart;
    // Numeric-looking keys: an array-index key would come first in the record's key order.
    if (keyLength === 0 || keyLength > LIMITS.propertyKeyLength) return -1;
    const first = b[keyStart] as number;
    if ((first >= ZERO && first <= NINE) || equalBytes(b, keyStart, keyEnd, PROTO)) return -1;
    const n = spans.count;
    if (n === spans.kind.length) return -1;
    for (let k = 0; k < n; k++) {
      const otherStart = spans.keyStart[k] as number;
      if ((spans.keyEnd[k] as number) - otherStart !== keyLength) continue;
      let same = true;
      for (let j = 0; j < keyLength && same; j++) same = b[keyStart + j] === b[otherStart + j];
      if (same) return -1;
    }
    if (b[keyEnd + 1] !== COLON) return -1;
    i = keyEnd + 2;
    const c = b[i];
    let kind: number;
    let valueStart = i;
    let valueEnd: number;
    if (c === QUOTE) {
      const end = stringEnd(b, i);
      if (end < 0 || end - i - 1 > LIMITS.propertyStringLength) return -1;
      kind = KIND_STRING;
      valueStart = i + 1;
      valueEnd = end;
      i = end + 1;
    } else if (c === 0x74 && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65) {
      kind = KIND_TRUE;
      valueEnd = i + 4;
      i = valueEnd;
    } else if (c === 0x66 && b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65) {
      kind = KIND_FALSE;
      valueEnd = i + 5;
      i = valueEnd;
    } else {
      valueEnd = numberEnd(b, i);
      if (valueEnd < 0) return -1;
      kind = KIND_NUMBER;
      i = valueEnd;
    }
    spans.kind[n] = kind;
    spans.keyStart[n] = keyStart;
    spans.keyEnd[n] = keyEnd;
    spans.valueStart[n] = valueStart;
    spans.valueEnd[n] = valueEnd;
    spans.count = n + 1;
    if (b[i] === CLOSE_BRACE) return i + 1;
    if (b[i] !== COMMA) return -1;
    i++;
  }
}

/**
 * Reads a strict object of optional strings of at most `max` characters (device, app) at `p`, whose
 * keys are `names`; the spans of their values go to `starts`/`ends` (-1: absent). The end index, or -1.
 */
export function readStringObject(
  b: Buffer,
  p: number,
  names: NameSet,
  starts: Int32Array,
  ends: Int32Array,
  max: number,
): number {
  starts.fill(-1);
  if (b[p] !== OPEN_BRACE) return -1;
  let i = p + 1;
  if (b[i] === CLOSE_BRACE) return i + 1;
  let previous = -1;
  for (;;) {
    const index = names.readKey(b, i, previous);
    const keyEnd = names.keyEnd;
    if (index < 0 || (starts[index] as number) >= 0 || b[keyEnd + 1] !== COLON) return -1;
    previous = index;
    const valueEnd = stringEnd(b, keyEnd + 2);
    if (valueEnd < 0 || valueEnd - keyEnd - 3 > max) return -1;
    starts[index] = keyEnd + 3;
    ends[index] = valueEnd;
    i = valueEnd + 1;
    if (b[i] === CLOSE_BRACE) return i + 1;
    if (b[i] !== COMMA) return -1;
    i++;
  }
}

/** The tags of one event as [start, end) pairs of their text. */
export class TagSpans {
  readonly spans = new Int32Array(LIMITS.tags * 2);
  count = 0;
}

/** Reads a tags array at `p` into `tags`; the end index, or -1. */
export function readTags(b: Buffer, p: number, tags: TagSpans): number {
  tags.count = 0;
  if (b[p] !== OPEN_BRACKET) return -1;
  let i = p + 1;
  if (b[i] === CLOSE_BRACKET) return i + 1;
  for (;;) {
    const end = stringEnd(b, i);
    if (end < 0 || end - i - 1 > LIMITS.tagLength || tags.count === LIMITS.tags) return -1;
    tags.spans[tags.count * 2] = i + 1;
    tags.spans[tags.count * 2 + 1] = end;
    tags.count++;
    i = end + 1;
    if (b[i] === CLOSE_BRACKET) return i + 1;
    if (b[i] !== COMMA) return -1;
    i++;
  }
}
