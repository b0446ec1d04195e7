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

/** What the receiver remembers of one producer. */
interface ProducerState extends SequenceState {
  /** The tail of this producer's request chain: requests run one after another, across streams. */
  chain: Promise<unknown>;
  lastSeen: number;
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
  enqueue<T>(producerId: string, task: (state: SequenceState) => Promise<T>): Promise<T> {
    let state = this.producers.get(producerId);
    if (!state) {
      state = { handledThrough: -1, mustResume: false, chain: Promise.resolve(), lastSeen: Date.now() };
      this.producers.set(producerId, state);
      this.evictIdle();
    }
    state.lastSeen = Date.now();
    const s = state;
    const result = s.chain.then(() => task(s));
    s.chain = result.catch(() => {});
    return result;
  }

  private evictIdle(): void {
    const cutoff = Date.now() - IDLE_MS;
    for (const [id, state] of this.producers) if (state.lastSeen < cutoff) this.producers.delete(id);
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
