/** A bounded set of the most recently seen ids: the oldest id is forgotten once `capacity` is exceeded. */
export class RecentIds {
  private readonly ids = new Set<string>();
  // A Set iterates in insertion order and its iterators stay valid while it changes, so one iterator
  // that only ever removes what it returns always points at the oldest id: no separate queue to keep.
  private readonly oldest = this.ids.values();

  constructor(private readonly capacity: number) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const next = this.oldest.next();
      if (!next.done) this.ids.delete(next.value);
    }
  }

  get size(): number {
    return this.ids.size;
  }
}
