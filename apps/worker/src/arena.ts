/**
 * Append-only storage for the lines of buffered rows: each is written into a shared chunk and the row
 * keeps offsets into it. A row then holds no Buffer or string of its own (less heap a row, and nothing
 * for the garbage collector to copy when rows outlive a scavenge, as they all do while they wait for
 * the next insert) and no slice of kafkajs's fetch response, which kept every fetched byte alive
 * until the last row of that fetch was inserted. Rows are released in about the order they were
 * taken, so a chunk is freed soon after its last row.
 */
export class ByteArena {
  /** The chunk that the last `reserve` placed bytes in. */
  chunk: Buffer = Buffer.alloc(0);
  private used = 0;

  constructor(private readonly chunkBytes = 1024 * 1024) {}

  /** Room for `length` bytes: their position in `this.chunk` (a new chunk when the current one is full). */
  reserve(length: number): number {
    if (this.used + length > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(Math.max(this.chunkBytes, length));
      this.used = 0;
    }
    const at = this.used;
    this.used += length;
    return at;
  }

  /** Returns the last `length` bytes taken (the end of the latest reservation), which are not needed after all. */
  giveBack(length: number): void {
    this.used -= length;
  }
}
