// Ingest: the receiver's pipeline from a decoded PublishRequest to an ack. Per producer it dedupes
// and orders runs (across streams), leaves out alerts below minPriority, hands each run to the
// sink, and resolves the ack once the sink made the run durable, with everything before it.
// Followers (the subscription hub) get each run once it is durable, in order.

import type { PublishEnvelope } from '../codec/publish-request.js';
import type { LogFn } from '../common/log.js';
import { ProducerTable, type ProducerState } from './producers.js';
import type { AlertRun, Sink } from './sinks.js';

export interface IngestOptions {
  /** Where runs become durable; its write() resolving is what an ack means. */
  sink: Sink;
  /** Sinks fed each run after `sink` made it durable, in order; best effort, never waited for (the subscription hub). */
  followers?: readonly Sink[];
  /** Least severe priority passed on (Falco's ordering: 0 Emergency ... 7 Debug). */
  minPriority: number;
  log: LogFn;
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

export class Ingest {
  private readonly producers = new ProducerTable();
  private readonly sink: Sink;
  private readonly followers: readonly Sink[];
  private readonly window: number;
  private readonly minPriority: number;
  private readonly log: LogFn;
  readonly counts: IngestCounts = { accepted: 0, filtered: 0, duplicates: 0, gaps: 0 };

  constructor(options: IngestOptions) {
    this.sink = options.sink;
    this.followers = options.followers ?? [];
    this.window = Math.max(1, Math.floor(options.sink.window ?? 1));
    this.minPriority = options.minPriority;
    this.log = options.log;
  }

  get producerCount(): number {
    return this.producers.size;
  }

  /**
   * Takes one request; resolves with the sequence number to ack (everything of the producer up
   * to it is durable, skipped as a duplicate or filtered), rejects when the sink refused it.
   * `live()` is asked just before the hand-off: a stream that ended meanwhile delivers nothing.
   */
  take(request: PublishEnvelope, live: () => boolean): Promise<number> {
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
      this.log(`falco-grpc-output receive: producer ${request.producerId} skipped ${gap} sequence number(s) before #${firstSeq}`);
      p.handedThrough = p.ackedThrough = firstSeq - 1;
    }
    const lastSeq = firstSeq + alerts.length - 1;
    const skip = Math.min(alerts.length, Math.max(0, p.handedThrough + 1 - firstSeq));
    this.counts.duplicates += skip;
    p.mustResume = false;
    const epoch = p.epoch;
    if (skip === alerts.length) {
      // Nothing fresh: acked once everything before it is durable.
      return { durable: p.durable.then(() => p.ackedThrough) };
    }
    const run = this.runOf(request, skip, lastSeq);
    this.counts.filtered += run.filtered;
    p.handedThrough = lastSeq;
    let written: void | Promise<void>;
    try {
      written = run.alerts.length > 0 ? this.sink.write(run) : undefined;
    } catch (err) {
      written = Promise.reject(err);
    }
    if (written) written.catch(noop); // observed below, unless an earlier run failed first
    p.inFlight++;
    const durable = p.durable
      .then(() => written)
      .then(
        () => {
          if (epoch === p.epoch) p.ackedThrough = Math.max(p.ackedThrough, lastSeq);
          this.counts.accepted += run.alerts.length;
          if (run.alerts.length > 0) this.follow(run);
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

  private follow(run: Run): void {
    for (const follower of this.followers) {
      try {
        void Promise.resolve(follower.write(run)).catch((err: unknown) => this.log(`falco-grpc-output receive: follower failed: ${String(err)}`));
      } catch (err) {
        this.log(`falco-grpc-output receive: follower failed: ${String(err)}`);
      }
    }
  }

  /** Closes the sink and the followers (the receiver is stopping). */
  async close(): Promise<void> {
    await this.sink.close?.();
    for (const follower of this.followers) await follower.close?.();
  }
}
