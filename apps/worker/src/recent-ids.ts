/** Lower-case hex digit values by byte; -1 for anything else. */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = 10 + i;

/** The value of `count` lower-case hex digits of `b` from `at`; -1 if a byte is not one. */
function hex(b: Uint8Array, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    // Past the end of `b` there is no byte: not a digit either.
    const digit = HEX[b[i] as number] ?? -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/** Writes the lower-case canonical UUID (8-4-4-4-12) in the 36 bytes of `b` from `at` as four words into `out`; false for anything else. */
function parseUuid(b: Uint8Array, at: number, out: Uint32Array): boolean {
  const DASH = 0x2d;
  if (b[at + 8] !== DASH || b[at + 13] !== DASH || b[at + 18] !== DASH || b[at + 23] !== DASH) return false;
  const w0 = hex(b, at, 8);
  const w1a = hex(b, at + 9, 4);
  const w1b = hex(b, at + 14, 4);
  const w2a = hex(b, at + 19, 4);
  const w2b = hex(b, at + 24, 4);
  const w3 = hex(b, at + 28, 8);
  if (w0 < 0 || w1a < 0 || w1b < 0 || w2a < 0 || w2b < 0 || w3 < 0) return false;
  out[0] = w0;
  out[1] = w1a * 0x10000 + w1b;
  out[2] = w2a * 0x10000 + w2b;
  out[3] = w3;
  return true;
}

function mix(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ w3, 0x9e3779b1) ^ Math.imul(w1 ^ w2, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 13);
}

/**
 * A bounded set of the most recently seen ids: the oldest id is forgotten once `capacity` is exceeded.
 * Event ids are UUIDs, kept as 16 bytes in a ring with an open-addressing index (~28 B an id, not the
 * ~110 B of a Set of strings, and nothing for the garbage collector to trace); any other string is
 * kept in a Set, in the same ring order.
 */
export class RecentIds {
  /** Four words per ring slot. */
  private readonly words: Uint32Array;
  /** The id of a slot that is not a UUID (its words are unused); allocated once one turns up. */
  private others: (string | undefined)[] | undefined;
  private readonly otherIds = new Set<string>();
  /** Linear-probing index into the ring: slot + 1, 0 when empty; at most half full. */
  private readonly index: Int32Array;
  private readonly mask: number;
  private readonly parsed = new Uint32Array(4);
  /** The characters of an id given as text, for parseUuid. */
  private readonly text = new Uint8Array(36);
  /** The next slot to write; once the ring is full, also the oldest id. */
  private next = 0;
  private count = 0;

  constructor(private readonly capacity: number) {
    this.words = new Uint32Array(capacity * 4);
    let size = 2;
    while (size < capacity * 2) size *= 2;
    this.index = new Int32Array(size);
    this.mask = size - 1;
  }

  private home(slot: number): number {
    const w = this.words;
    const at = slot * 4;
    return mix(w[at] as number, w[at + 1] as number, w[at + 2] as number, w[at + 3] as number) & this.mask;
  }

  /** The index position holding a UUID equal to `parsed`, or of the empty position where it would go (negative, -1 - position). */
  private find(): number {
    const p = this.parsed;
    const w0 = p[0] as number;
    const w1 = p[1] as number;
    const w2 = p[2] as number;
    const w3 = p[3] as number;
    const w = this.words;
    for (let i = mix(w0, w1, w2, w3) & this.mask; ; i = (i + 1) & this.mask) {
      const entry = this.index[i] as number;
      if (entry === 0) return -1 - i;
      const at = (entry - 1) * 4;
      if (w[at] === w0 && w[at + 1] === w1 && w[at + 2] === w2 && w[at + 3] === w3) return i;
    }
  }

  /** Removes the UUID of `slot` from the index (backward-shift deletion keeps every probe chain intact). */
  private unindex(slot: number): void {
    const mask = this.mask;
    let hole = this.home(slot);
    while (this.index[hole] !== slot + 1) hole = (hole + 1) & mask;
    this.index[hole] = 0;
    for (let j = (hole + 1) & mask; this.index[j] !== 0; j = (j + 1) & mask) {
      const entry = this.index[j] as number;
      const home = this.home(entry - 1);
      // The entry may fill the hole unless its home lies cyclically in (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        this.index[hole] = entry;
        this.index[j] = 0;
        hole = j;
      }
    }
  }

  /** parseUuid for an id given as text. */
  private parseText(id: string): boolean {
    if (id.length !== 36) return false;
    for (let i = 0; i < 36; i++) {
      const code = id.charCodeAt(i);
      if (code > 0xff) return false;
      this.text[i] = code;
    }
    return parseUuid(this.text, 0, this.parsed);
  }

  has(id: string): boolean {
    if (!this.parseText(id)) return this.otherIds.has(id);
    return this.find() >= 0;
  }

  /** Remembers an id; false if it was already remembered (which neither grows the window nor refreshes the id). */
  add(id: string): boolean {
    return this.remember(this.parseText(id), id);
  }

  /** `add` for the id held by the latin1 bytes b[start, end), without making a string of a UUID's. */
  addBytes(b: Buffer, start: number, end: number): boolean {
    if (end - start === 36 && parseUuid(b, start, this.parsed)) return this.remember(true, "");
    const id = b.toString("latin1", start, end);
    return this.remember(this.parseText(id), id);
  }

  /** Adds the id in `parsed` (a UUID) or `id` (any other string). */
  private remember(uuid: boolean, id: string): boolean {
    let position = 0;
    if (uuid) {
      position = this.find();
      if (position >= 0) return false;
    } else if (this.otherIds.has(id)) return false;
    const slot = this.next;
    if (this.count === this.capacity) {
      const evicted = this.others?.[slot];
      if (evicted === undefined) this.unindex(slot);
      else {
        this.otherIds.delete(evicted);
        (this.others as (string | undefined)[])[slot] = undefined;
      }
      // Deleting may have moved the position found for the new id: look again.
      if (uuid) position = this.find();
    } else this.count++;
    this.next = (slot + 1) % this.capacity;
    if (uuid) {
      this.words.set(this.parsed, slot * 4);
      this.index[-1 - position] = slot + 1;
    } else {
      this.others ??= new Array<string | undefined>(this.capacity);
      this.others[slot] = id;
      this.otherIds.add(id);
    }
    return true;
  }

  get size(): number {
    return this.count;
  }
}
