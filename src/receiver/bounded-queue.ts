/** A fixed-size FIFO that overwrites its oldest entry when full: memory stays bounded whoever lags. */
export class BoundedQueue<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  /** Adds an item; returns true when the oldest one had to go. */
  push(item: T): boolean {
    const full = this.size === this.capacity;
    this.items[(this.head + this.size) % this.capacity] = item;
    if (full) this.head = (this.head + 1) % this.capacity;
    else this.size++;
    return full;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return item;
  }

  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.items[(this.head + i) % this.capacity]!);
    return out;
  }
}
