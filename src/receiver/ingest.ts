// Ingest: the receiver's pipeline from a decoded PublishRequest to an ack. Per producer it dedupes
// and orders runs (across streams), leaves out alerts below minPriority, hands each run to the
// sink, and resolves the ack once the sink made the run durable, with everything before it.
// Followers (the subscription hub) get each run once it is durable, in order.

import type { PublishEnvelope } from '../codec/publish-request.js';
import { errorText } from '../common/errors.js';
import type { LogFn } from '../common/log.js';
import { ProducerTable, type ProducerState, type ProducerStats } from './producers.js';
import { RateLimitedLog } from '../common/rate-limited-log.js';
import type { AlertRun, Sink } from './sinks.js';

export interface IngestOptions {
  /** Where runs become durable; its write() resolving is what an ack means. */
  sink: Sink;
  /** Sinks fed each run after `sink` made it durable, in order; best effort, never waited for (the subscription hub). */
  followers?: readonly Sink[];
  /** Least severe priority passed on (Falco's ordering: 0 Emergency ... 7 Debug). */
  minPriority: number;
  log: LogFn;
  /** Producers without an open stream whose sequence state is kept; the least recently seen is forgotten beyond. Default 100,000. */
  maxProducers?: number;
  /** Told when the sink starts failing (with the reason) and when a write succeeds again (null). */
  sinkState?: (error: string | null) => void;
}

export interface IngestCounts {
  /** Alerts the sink made durable. */
  accepted: number;
  /** Alerts acknowledged but not passed on, being less severe than minPriority. */
  filtered: number;
  /** Alerts skipped because they were already handled (resends). */
  duplicates: number;
  /** Sequence numbers that never arrived (a producer skipped them). */
  gaps: number;
  /** Runs the sink refused (each withheld its ack; the producer resends). */
  sinkFailures: number;
}

/** A run as the sink sees it: the request's fresh alerts, the filtered ones left out. */
class Run implements AlertRun {
  constructor(
    readonly producerId: string,
    readonly firstSeq: number,
    readonly lastSeq: number,
    readonly alerts: readonly Buffer[],
    readonly priorities: readonly number[],
    /** Each kept alert's sequence number, when some were filtered; null when alerts[i] is firstSeq + i. */
    private readonly seqs: readonly number[] | null,
  ) {}

  get filtered(): number {
    return this.lastSeq - this.firstSeq + 1 - this.alerts.length;
  }

  seqOf(i: number): number {
    return this.seqs === null ? this.firstSeq + i : this.seqs[i]!;
  }
}

/** What a hand-off returns: the ack, once durable (wrapped so the hand-off chain does not wait for it). */
interface Handed {
  durable: Promise<number>;
}

const noop = (): void => {};

/**
 * Told each run the sink made durable, in order, with the alerts passed on (the ones `get` and
 * subscribers see). The buffers are views into their request: copy what must outlive the call.
 * Runs on the receiver's event loop: keep it cheap.
 */
export type AlertListener = (alerts: readonly Buffer[]) => void;

export class Ingest {
  private readonly producers: ProducerTable;
  private readonly sink: Sink;
  private readonly followers: readonly Sink[];
  private readonly window: number;
  private readonly minPriority: number;
  private readonly log: LogFn;
  private readonly sinkState: ((error: string | null) => void) | undefined;
  readonly counts: IngestCounts = { accepted: 0, filtered: 0, duplicates: 0, gaps: 0, sinkFailures: 0 };
  /** Why the sink's last write failed, until one succeeds again. */
  sinkError: string | null = null;
  /** When and why the sink last refused a run (kept after it recovers). */
  lastSinkFailure: { atMs: number; message: string } | null = null;
  /** Readers of every durable run (the web console); with none, a run costs one size check. */
  private readonly listeners = new Set<AlertListener>();

  constructor(options: IngestOptions) {
    this.sink = options.sink;
    this.followers = options.followers ?? [];
    this.window = Math.max(1, Math.floor(options.sink.window ?? 1));
    this.minPriority = options.minPriority;
    this.log = options.log;
    this.sinkState = options.sinkState;
    const limited = new RateLimitedLog(this.log);
    this.producers = new ProducerTable(options.maxProducers ?? 100_000, (id, idleMs) =>
      limited.say(
        'evicted',
        `falco-grpc-output receive: producer table full (--max-producers ${options.maxProducers ?? 100_000}): forgot ${id}, last seen ${Math.round(idleMs / 1000)} s ago; should it resend, what it resends is taken again`,
      ),
    );
  }

  get producerCount(): number {
    return this.producers.size;
  }

  /** An open stream publishes for this producer: its state is kept until unpin(). */
  pin(producerId: string, peer?: string): void {
    this.producers.pin(producerId, peer);
  }

  /** Producers known, most recently seen first, at most `limit`. */
  producerStats(limit: number): ProducerStats[] {
    return this.producers.snapshot(limit);
  }

  /** Adds a listener of durable runs; returns the function that removes it. */
  onAlerts(listener: AlertListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  unpin(producerId: string): void {
    this.producers.unpin(producerId);
  }

  get evictedProducers(): number {
    return this.producers.evicted;
  }

  /**
   * Takes one request; resolves with the sequence number to ack (everything of the producer up
   * to it is durable, skipped as a duplicate or filtered), rejects when the sink refused it.
   * `live()` is asked just before the hand-off: a stream that ended meanwhile delivers nothing.
   */
  take(request: PublishEnvelope, live: () => boolean): Promise<number> {
    if (request.alerts.length === 0) {
      // Nothing to number: the producer's current ack, without taking first_seq as a position.
      const known = this.producers.peek(request.producerId);
      const current = (): number => known!.ackedThrough;
      return known ? known.chain.then(() => known.durable).then(current, current) : Promise.resolve(0);
    }
    const p = this.producers.get(request.producerId);
    const handed = p.chain.then(() => {
      if (!live()) throw new Error('stream ended');
      return this.handOff(p, request);
    });
    p.chain = handed.then(noop, noop);
    return handed.then((h) => h.durable);
  }

  private async handOff(p: ProducerState, request: PublishEnvelope): Promise<Handed> {
    while (p.inFlight >= this.window) await new Promise<void>((resolve) => (p.wake = resolve));
    const { firstSeq, alerts } = request;
    if (p.mustResume && firstSeq > p.handedThrough + 1) {
      // Queued behind a run the sink refused: taking it would turn the refused alerts into a gap.
      throw new Error(`resend from #${p.handedThrough + 1}: the sink refused earlier alerts`);
    }
    if (p.broken) {
      // The run that failed is behind us: this one (a resend, or duplicates) starts a new chain.
      p.broken = false;
      p.epoch++;
      p.durable = Promise.resolve();
    }
    // A producer first seen mid-sequence (the receiver restarted) starts where its run starts.
    if (p.handedThrough < 0) p.handedThrough = p.ackedThrough = firstSeq - 1;
    if (firstSeq > p.handedThrough + 1) {
      const gap = firstSeq - p.handedThrough - 1;
      this.counts.gaps += gap;
      p.counts.gaps += gap;
      this.log(`falco-grpc-output receive: producer ${request.producerId} skipped ${gap} sequence number(s) before #${firstSeq}`);
      p.handedThrough = p.ackedThrough = firstSeq - 1;
    }
    const lastSeq = firstSeq + alerts.length - 1;
    const skip = Math.min(alerts.length, Math.max(0, p.handedThrough + 1 - firstSeq));
    this.counts.duplicates += skip;
    p.counts.duplicates += skip;
    p.mustResume = false;
    const epoch = p.epoch;
    if (skip === alerts.length) {
      // Nothing fresh: acked once everything before it is durable.
      return { durable: p.durable.then(() => p.ackedThrough) };
    }
    const run = this.runOf(request, skip, lastSeq);
    this.counts.filtered += run.filtered;
    p.counts.filtered += run.filtered;
    p.handedThrough = lastSeq;
    let written: void | Promise<void>;
    try {
      written = run.alerts.length > 0 ? this.sink.write(run) : undefined;
    } catch (err) {
      written = Promise.reject(err);
    }
    // Counted here, once per failed write; the chain below also sees it unless an earlier run failed first.
    if (written) written.catch(this.onWriteFailed);
    p.inFlight++;
    const durable = p.durable
      .then(() => written)
      .then(
        () => {
          if (epoch === p.epoch) p.ackedThrough = Math.max(p.ackedThrough, lastSeq);
          this.counts.accepted += run.alerts.length;
          p.counts.accepted += run.alerts.length;
          if (run.alerts.length > 0) {
            if (this.sinkError !== null) this.sinkRecovered();
            this.follow(run);
          }
          return p.ackedThrough;
        },
        (err: unknown) => {
          if (epoch === p.epoch) {
            p.broken = true;
            p.mustResume = true;
            p.handedThrough = p.ackedThrough;
          }
          throw err;
        },
      );
    p.durable = durable;
    void durable.then(noop, noop).then(() => {
      p.inFlight--;
      const wake = p.wake;
      p.wake = null;
      wake?.();
    });
    return { durable };
  }

  /** The request's fresh alerts from index `skip`, those less severe than minPriority left out. */
  private runOf(request: PublishEnvelope, skip: number, lastSeq: number): Run {
    const { alerts, priorities, firstSeq } = request;
    const min = this.minPriority;
    let severe = true;
    if (min < 7) for (let i = skip; i < alerts.length && severe; i++) severe = priorities[i]! <= min;
    if (severe) {
      return skip === 0
        ? new Run(request.producerId, firstSeq, lastSeq, alerts, priorities, null)
        : new Run(request.producerId, firstSeq + skip, lastSeq, alerts.slice(skip), priorities.slice(skip), null);
    }
    const kept: Buffer[] = [];
    const keptPriorities: number[] = [];
    const seqs: number[] = [];
    for (let i = skip; i < alerts.length; i++) {
      if (priorities[i]! > min) continue;
      kept.push(alerts[i]!);
      keptPriorities.push(priorities[i]!);
      seqs.push(firstSeq + i);
    }
    return new Run(request.producerId, firstSeq + skip, lastSeq, kept, keptPriorities, seqs);
  }

  private readonly onWriteFailed = (err: unknown): void => this.sinkFailed(err);

  private sinkFailed(err: unknown): void {
    this.counts.sinkFailures++;
    const reason = errorText(err);
    this.lastSinkFailure = { atMs: Date.now(), message: reason };
    if (this.sinkError !== reason) {
      this.sinkError = reason;
      this.sinkState?.(reason);
    }
  }

  private sinkRecovered(): void {
    this.sinkError = null;
    this.sinkState?.(null);
  }

  private follow(run: Run): void {
    if (this.listeners.size > 0) this.notify(run.alerts);
    for (const follower of this.followers) {
      try {
        void Promise.resolve(follower.write(run)).catch((err: unknown) => this.log(`falco-grpc-output receive: follower failed: ${String(err)}`));
      } catch (err) {
        this.log(`falco-grpc-output receive: follower failed: ${String(err)}`);
      }
    }
  }

  /** A listener that throws must not turn a durable run into a refused one. */
  private notify(alerts: readonly Buffer[]): void {
    for (const listener of this.listeners) {
      try {
        listener(alerts);
      } catch (err) {
        this.log(`falco-grpc-output receive: an alert listener failed: ${errorText(err)}`);
      }
    }
  }

  /** Closes the sink and the followers (the receiver is stopping). */
  async close(): Promise<void> {
    await this.sink.close?.();
    for (const follower of this.followers) await follower.close?.();
  }
}
