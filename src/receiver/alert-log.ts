// The recent alerts every subscription reads from: one byte ring that the alerts are copied into
// (a kept alert never pins the request it came in), bounded by count and by bytes. Entries are
// numbered 0, 1, 2...; a reader keeps only its position, so a stalled reader costs nothing and
// fan-out is one copy per alert whoever reads.

export class AlertLog {
  private buf: Buffer | null = null;
  private readonly starts: Float64Array;
  private readonly lengths: Int32Array;
  /** Number of the oldest entry still held. */
  first = 0;
  /** Number the next entry gets. */
  next = 0;
  private writeAt = 0;

  constructor(
    /** Entries held at most. */
    readonly maxAlerts: number,
    /** Bytes held at most (allocated on the first alert). */
    readonly maxBytes: number,
  ) {
    this.starts = new Float64Array(maxAlerts);
    this.lengths = new Int32Array(maxAlerts);
  }

  /** Copies an alert in, forgetting the oldest as needed. An alert larger than the whole ring is numbered but not held. */
  append(alert: Buffer): void {
    const n = alert.length;
    const slot = this.next % this.maxAlerts;
    if (n > this.maxBytes) {
      // Nothing can hold it: every older entry goes too, so readers see it as lost in order.
      this.first = this.next + 1;
      this.next++;
      this.writeAt = 0;
      return;
    }
    this.buf ??= Buffer.allocUnsafe(this.maxBytes);
    if (this.writeAt + n > this.maxBytes) {
      // Wrap: the entries at the tail are the oldest; they go first.
      while (this.first < this.next && this.startOf(this.first) >= this.writeAt) this.first++;
      this.writeAt = 0;
    }
    const end = this.writeAt + n;
    while (this.first < this.next && (this.next - this.first >= this.maxAlerts || this.overlaps(this.first, this.writeAt, end))) this.first++;
    alert.copy(this.buf, this.writeAt);
    this.starts[slot] = this.writeAt;
    this.lengths[slot] = n;
    this.writeAt = end;
    this.next++;
  }

  private startOf(entry: number): number {
    return this.starts[entry % this.maxAlerts]!;
  }

  private overlaps(entry: number, from: number, to: number): boolean {
    const start = this.startOf(entry);
    return start < to && start + this.lengths[entry % this.maxAlerts]! > from;
  }

  /** Entry `i`'s length (it must be held: first <= i < next). */
  lengthOf(i: number): number {
    return this.lengths[i % this.maxAlerts]!;
  }

  /** Copies entry `i` (held) into `out` at `at`; returns the position after it. */
  copyTo(i: number, out: Buffer, at: number): number {
    const start = this.startOf(i);
    const n = this.lengths[i % this.maxAlerts]!;
    this.buf!.copy(out, at, start, start + n);
    return at + n;
  }

  /** A copy of entry `i` (held). */
  copyOf(i: number): Buffer {
    const out = Buffer.allocUnsafe(this.lengthOf(i));
    this.copyTo(i, out, 0);
    return out;
  }
}
