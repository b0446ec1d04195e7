// The receiver as a stateless relay on a JetStream bus (`receive --nats`): ingest's sink publishes
// each fresh run to the stream and resolves only once JetStream acknowledged every alert of it,
// so an ack to the producer means "durable on the bus". Subscribers are fed from the stream, not
// from this process, so every subscriber of every replica sees every alert; `get` reads the
// stream's retained tail. --min-priority picks subjects for them: the bus itself gets everything.

import { BusLink, type BusOptions } from '../bus/link.js';
import { LiveReader, readRecent } from '../bus/readers.js';
import { prioritySubjects } from '../bus/subjects.js';
import type { LogFn } from '../common/log.js';
import type { AlertRun, Sink, SinkStatus } from './sinks.js';
import type { SubscriptionHub } from './subscriptions.js';

/** Publishes runs to the stream; a run resolves when every alert of it has its PubAck. */
export class JetStreamSink implements Sink {
  /**
   * One run of a producer at a time: a run published after one that failed could land on the
   * stream before the failed one's resend. Alerts within a run are pipelined by the publisher.
   */
  readonly window = 1;

  constructor(private readonly link: BusLink) {}

  async write(run: AlertRun): Promise<void> {
    const publisher = this.link.publisher;
    if (!publisher) throw new Error(`the bus is not ready (${this.link.stateReason})`);
    const { durableThrough, error } = await publisher.publishRun(run.producerId, run.alerts, run.priorities, (i) => run.seqOf(i));
    if (error !== null) {
      throw new Error(`stream ${this.link.stream} holds producer ${run.producerId} through #${durableThrough} of #${run.firstSeq}-#${run.lastSeq}: ${error}`);
    }
  }

  /** For the console: the stream, whether alerts can be made durable now, and why not. */
  status(): SinkStatus {
    const state = this.link.state;
    return {
      kind: 'NATS JetStream',
      stream: this.link.stream,
      state,
      outstanding: this.link.publisher?.outstanding ?? 0,
      ...(state === 'ready' ? {} : { error: this.link.stateReason }),
    };
  }
}

export class BusRelay {
  readonly link: BusLink;
  readonly sink: JetStreamSink;
  private readonly accepted: ReadonlySet<string> | null;
  private reader: LiveReader | null = null;

  constructor(
    options: BusOptions,
    minPriority: number,
    private readonly historyAlerts: number,
    private readonly log: LogFn,
  ) {
    this.link = new BusLink({ ...options, log: options.log ?? log });
    this.sink = new JetStreamSink(this.link);
    this.accepted = minPriority >= 7 ? null : new Set(prioritySubjects(this.link.subjectPrefix).slice(0, minPriority + 1));
  }

  /** Whether a subject is severe enough for this receiver's subscribers. */
  private readonly accept = (subject: string): boolean => this.accepted === null || this.accepted.has(subject);

  /** First attempt to reach the bus; rejects only for what no retry can fix. */
  start(): Promise<void> {
    return this.link.start();
  }

  /** Feeds the hub's subscribers from the stream, from now on. */
  follow(hub: SubscriptionHub): void {
    this.reader = new LiveReader(this.link, { onAlerts: (alerts) => hub.offer(alerts), accept: this.accepted ? this.accept : undefined, log: this.log });
  }

  /** What `get` answers: the stream's last historyAlerts alerts (filtered), or null while the bus is not ready. */
  recent(): Promise<Buffer[] | null> {
    return readRecent(this.link, this.historyAlerts, this.accepted ? this.accept : undefined);
  }

  async close(): Promise<void> {
    await this.reader?.close();
    await this.link.close();
  }
}
