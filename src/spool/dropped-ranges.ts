// Sequence numbers the spool gave up (a full spool, damage), as sorted disjoint ranges, so that each
// is counted once, an ack that spans them does not count them as delivered, and the settled point
// can move over them.

export class DroppedRanges {
  /** [from, to] pairs, sorted, disjoint, not adjacent. */
  private ranges: Array<[number, number]> = [];

  /** Adds from..to; returns how many of them were not in already. */
  add(from: number, to: number): number {
    if (to < from) return 0;
    const before = this.count(from, to);
    const merged: Array<[number, number]> = [];
    let lo = from;
    let hi = to;
    for (const [a, b] of this.ranges) {
      if (b < lo - 1 || a > hi + 1) merged.push([a, b]);
      else {
        lo = Math.min(lo, a);
        hi = Math.max(hi, b);
      }
    }
    merged.push([lo, hi]);
    merged.sort((x, y) => x[0] - y[0]);
    this.ranges = merged;
    return to - from + 1 - before;
  }

  /** How many of from..to are in. */
  count(from: number, to: number): number {
    let n = 0;
    for (const [a, b] of this.ranges) {
      const lo = Math.max(a, from);
      const hi = Math.min(b, to);
      if (hi >= lo) n += hi - lo + 1;
    }
    return n;
  }

  /** The highest `seq` such that everything in (acked, seq] is in: acked itself when acked + 1 is not. */
  settledFrom(acked: number): number {
    let settled = acked;
    for (const [a, b] of this.ranges) {
      if (a > settled + 1) break;
      settled = Math.max(settled, b);
    }
    return settled;
  }

  /** Forgets everything at or below `seq`. */
  pruneThrough(seq: number): void {
    this.ranges = this.ranges.filter(([, b]) => b > seq).map(([a, b]): [number, number] => [Math.max(a, seq + 1), b]);
  }
}
