// What the receiver remembers of each producer: where its sequence numbers stand, and the chains
// that keep its requests in order across streams.

/** One producer's sequence state. Ingest reads and updates it; the table only keeps it. */
export interface ProducerState {
  /**
   * Highest sequence number handed to the sink (in flight or durable) or skipped as a duplicate;
   * -1 before the first. New runs are deduped against it.
   */
  handedThrough: number;
  /** Highest sequence number the sink made durable, with everything before it: what is acked. -1 before the first. */
  ackedThrough: number;
  /**
   * Set when the sink refused this producer's alerts: until the producer resends from
   * handedThrough + 1, a later run is refused rather than taken as a gap, or the refused
   * alerts would be skipped for good.
   */
  mustResume: boolean;
  /** The tail of the hand-off chain: requests are handed to the sink one after another, across streams. */
  chain: Promise<unknown>;
  /** The tail of the durability chain: an ack waits for every earlier run of the producer. */
  durable: Promise<unknown>;
  /** Bumped when a write fails: runs of an older epoch no longer move the producer's state. */
  epoch: number;
  /** A run of this epoch failed: the next accepted run starts a new durability chain. */
  broken: boolean;
  /** Runs handed to the sink and not yet settled (bounded by the sink's window). */
  inFlight: number;
  /** Wakes the hand-off waiting for room in the window. */
  wake: (() => void) | null;
  lastSeen: number;
}

/** Idle producers are forgotten after this long, so the table stays bounded. */
const IDLE_MS = 15 * 60 * 1000;

export class ProducerTable {
  private readonly producers = new Map<string, ProducerState>();

  get size(): number {
    return this.producers.size;
  }

  /** The producer's state, created on first sight. */
  get(producerId: string): ProducerState {
    let state = this.producers.get(producerId);
    if (!state) {
      state = {
        handedThrough: -1,
        ackedThrough: -1,
        mustResume: false,
        chain: Promise.resolve(),
        durable: Promise.resolve(),
        epoch: 0,
        broken: false,
        inFlight: 0,
        wake: null,
        lastSeen: Date.now(),
      };
      this.producers.set(producerId, state);
      this.evictIdle();
    }
    state.lastSeen = Date.now();
    return state;
  }

  private evictIdle(): void {
    const cutoff = Date.now() - IDLE_MS;
    for (const [id, state] of this.producers) if (state.lastSeen < cutoff) this.producers.delete(id);
  }
}
