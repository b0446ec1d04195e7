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

/** Idle producers are forgotten after this long, so the table stays small when the fleet shrinks. */
const IDLE_MS = 15 * 60 * 1000;

/**
 * Producers by id. Those an open stream is publishing for are kept in `active`; the others in
 * `idle`, least recently seen first (a Map keeps insertion order, and one seen again moves to the
 * end). Only idle producers are ever forgotten, from the old end, so making room is O(1) per new
 * producer, never a scan of the table.
 */
export class ProducerTable {
  private readonly active = new Map<string, ProducerState & { pins: number }>();
  private readonly idle = new Map<string, ProducerState & { pins: number }>();
  /** Producers forgotten because the table was full, not for being idle long. */
  evicted = 0;

  constructor(
    /** Idle producers kept at most. */
    private readonly max: number,
    /** Told about a producer forgotten to make room (its resends may then be taken again). */
    private readonly onEvict: (producerId: string, idleMs: number) => void = () => {},
  ) {}

  get size(): number {
    return this.active.size + this.idle.size;
  }

  /** The producer's state if it is known. */
  peek(producerId: string): ProducerState | undefined {
    return this.active.get(producerId) ?? this.idle.get(producerId);
  }

  /** The producer's state, created on first sight; it becomes the most recently seen. */
  get(producerId: string): ProducerState {
    const now = Date.now();
    let state = this.active.get(producerId);
    if (!state) {
      state = this.idle.get(producerId);
      if (state) this.idle.delete(producerId);
      else state = this.create(now);
      this.idle.set(producerId, state);
    }
    state.lastSeen = now;
    return state;
  }

  /** An open stream publishes for this producer: it is not forgotten until unpin(). */
  pin(producerId: string): void {
    let state = this.active.get(producerId);
    if (!state) {
      state = this.idle.get(producerId) ?? this.create(Date.now());
      this.idle.delete(producerId);
      this.active.set(producerId, state);
    }
    state.pins++;
  }

  unpin(producerId: string): void {
    const state = this.active.get(producerId);
    if (!state || --state.pins > 0) return;
    this.active.delete(producerId);
    state.lastSeen = Date.now();
    this.idle.set(producerId, state);
    this.makeRoom(state.lastSeen, this.max + 1);
  }

  private create(now: number): ProducerState & { pins: number } {
    this.makeRoom(now, this.max);
    return {
      handedThrough: -1,
      ackedThrough: -1,
      mustResume: false,
      chain: Promise.resolve(),
      durable: Promise.resolve(),
      epoch: 0,
      broken: false,
      inFlight: 0,
      wake: null,
      lastSeen: now,
      pins: 0,
    };
  }

  /** Forgets idle producers from the old end: those idle too long, then the least recent while `limit` or more are kept. */
  private makeRoom(now: number, limit: number): void {
    for (const [id, state] of this.idle) {
      const idle = now - state.lastSeen;
      if (idle >= IDLE_MS) {
        this.idle.delete(id);
      } else if (this.idle.size >= limit) {
        this.idle.delete(id);
        this.evicted++;
        this.onEvict(id, idle);
      } else {
        return;
      }
    }
  }
}
