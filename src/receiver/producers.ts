// Per-producer ordering and dedupe: the receiver side of the push contract's sequence numbers.

/** The part of a producer's state that handling a request reads and updates. */
export interface SequenceState {
  /** Highest sequence number handled (its alert accepted by the sink, or skipped as a duplicate); -1 before the first. */
  handledThrough: number;
  /**
   * Set when the sink refused this producer's alerts: until the producer resends from
   * handledThrough + 1, a later run is refused rather than taken as a gap, or the refused
   * alerts would be skipped for good.
   */
  mustResume: boolean;
}

/** Per-producer counts, kept per request (never per alert), for the console's producer table. */
export interface ProducerCounts {
  accepted: number;
  duplicates: number;
  gaps: number;
  filtered: number;
}

/** What handling a request reads and updates: the sequence state and the producer's counts. */
export interface ProducerRecord extends SequenceState {
  readonly counts: ProducerCounts;
}

/** One producer as the console shows it. */
export interface ProducerStats extends ProducerCounts {
  id: string;
  /** Publish streams of this producer open now (0: disconnected). */
  streams: number;
  /** The address its latest stream came from. */
  peer: string;
  /** Highest sequence number handled; -1 before the first. */
  handledThrough: number;
  /** Epoch milliseconds of its latest request. */
  lastSeenMs: number;
}

/** What the receiver remembers of one producer. */
interface ProducerState extends ProducerRecord {
  /** The tail of this producer's request chain: requests run one after another, across streams. */
  chain: Promise<unknown>;
  lastSeen: number;
  streams: number;
  peer: string;
}

export interface RunOutcome<T> {
  /** Alerts not seen before, in order, to hand to the sink. */
  fresh: readonly T[];
  /** Alerts skipped as already handled. */
  duplicates: number;
  /** Sequence numbers missing between what was handled and this run (lost upstream). */
  gap: number;
}

/** Idle producers are forgotten after this long, so the table stays bounded. */
const IDLE_MS = 15 * 60 * 1000;

export class ProducerTable {
  private readonly producers = new Map<string, ProducerState>();

  get size(): number {
    return this.producers.size;
  }

  /** Runs `task` after every earlier task of the same producer. */
  enqueue<T>(producerId: string, task: (state: ProducerRecord) => Promise<T>): Promise<T> {
    const state = this.stateOf(producerId);
    state.lastSeen = Date.now();
    const s = state;
    const result = s.chain.then(() => task(s));
    s.chain = result.catch(() => {});
    return result;
  }

  /** A stream from `peer` now carries this producer's requests; call the returned function when it ends. */
  connect(producerId: string, peer: string): () => void {
    const state = this.stateOf(producerId);
    state.streams++;
    state.peer = peer;
    return () => void state.streams--;
  }

  /** Every producer remembered, most recently seen first (at most `limit`). */
  snapshot(limit: number): ProducerStats[] {
    const all = [...this.producers].sort((a, b) => b[1].lastSeen - a[1].lastSeen).slice(0, limit);
    return all.map(([id, s]) => ({ id, streams: s.streams, peer: s.peer, handledThrough: s.handledThrough, lastSeenMs: s.lastSeen, ...s.counts }));
  }

  private stateOf(producerId: string): ProducerState {
    let state = this.producers.get(producerId);
    if (!state) {
      const counts = { accepted: 0, duplicates: 0, gaps: 0, filtered: 0 };
      state = { handledThrough: -1, mustResume: false, counts, chain: Promise.resolve(), lastSeen: Date.now(), streams: 0, peer: '' };
      this.producers.set(producerId, state);
      this.evictIdle();
    }
    return state;
  }

  /** A producer with a stream open is kept however long it idles: its stream would otherwise count a stale record. */
  private evictIdle(): void {
    const cutoff = Date.now() - IDLE_MS;
    for (const [id, state] of this.producers) if (state.lastSeen < cutoff && state.streams === 0) this.producers.delete(id);
  }
}

/**
 * Splits a run [firstSeq, firstSeq + alerts.length) against what was handled.
 * A producer first seen mid-sequence (the receiver restarted) starts where its run starts.
 */
export function splitRun<T>(state: SequenceState, firstSeq: number, alerts: readonly T[]): RunOutcome<T> {
  if (state.handledThrough < 0) state.handledThrough = firstSeq - 1;
  let gap = 0;
  if (firstSeq > state.handledThrough + 1) {
    gap = firstSeq - state.handledThrough - 1;
    state.handledThrough = firstSeq - 1;
  }
  const duplicates = Math.min(alerts.length, state.handledThrough + 1 - firstSeq);
  return { fresh: duplicates > 0 ? alerts.slice(duplicates) : alerts, duplicates, gap };
}
