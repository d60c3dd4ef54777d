// Event names repeat (a product has dozens, not millions), and every buffered row refers to its name: one
// shared string per name instead of a copy per row, found from the message's bytes without making a
// string first on the fast path.

const MAX_NAMES = 4096;
const byText = new Map<string, string>();
/** Interned names by a hash of their bytes; a collision only costs the slow lookup. */
const byHash = new Map<number, string>();

/** The shared copy of `name`. */
export function internName(name: string): string {
  const known = byText.get(name);
  if (known !== undefined) return known;
  if (byText.size >= MAX_NAMES) byText.clear();
  byText.set(name, name);
  return name;
}

/** The shared string of the ASCII bytes b[start, end). */
export function internNameBytes(b: Buffer, start: number, end: number): string {
  let hash = end - start;
  for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + (b[i] as number)) | 0;
  const known = byHash.get(hash);
  if (known !== undefined && known.length === end - start) {
    let k = 0;
    while (k < known.length && known.charCodeAt(k) === b[start + k]) k++;
    if (k === known.length) return known;
  }
  const name = internName(b.toString("latin1", start, end));
  if (byHash.size >= MAX_NAMES) byHash.clear();
  byHash.set(hash, name);
  return name;
}
