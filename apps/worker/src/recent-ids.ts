/** A bounded set of the most recently seen ids: the oldest id is forgotten once `capacity` is exceeded. */
export class RecentIds {
  private readonly ids = new Set<string>();
  private readonly order: string[] = [];
  private head = 0;

  constructor(private readonly capacity: number) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    this.order.push(id);
    if (this.order.length - this.head > this.capacity) {
      const oldest = this.order[this.head];
      this.head++;
      if (oldest !== undefined) this.ids.delete(oldest);
      // Compact the queue now and then so the array does not grow without bound.
      if (this.head > this.capacity) {
        this.order.splice(0, this.head);
        this.head = 0;
      }
    }
  }

  get size(): number {
    return this.ids.size;
  }
}
