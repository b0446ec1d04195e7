// Publishing alerts to JetStream with many PubAcks outstanding at once. Each alert is a core NATS
// publish whose reply subject is one token under a single wildcard inbox subscription, and up to
// `window` of them wait for their PubAck together: no promise, timer or subscription per alert
// (nats.js's js.publish() makes all three, which holds a publisher to a fraction of the rate).
// A PubAck means "stored" (or "already stored": a resend recognised by its Nats-Msg-Id).

import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { messageId, prioritySubjects } from './subjects.js';

/** Called once per publish: null when the stream stored the alert (or had it already), else why not. */
export type Settle = (error: string | null) => void;

interface Pending {
  settle: Settle;
  sentAt: number;
}

interface PubAckJson {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code?: number; err_code?: number; description?: string };
}

export interface PublisherOptions {
  /** The stream every PubAck must come from. */
  stream: string;
  subjectPrefix: string;
  /** Most publishes waiting for their PubAck at once. */
  window: number;
  /** A publish without a PubAck after this long counts as failed (it may still be stored: a resend is deduplicated). */
  ackTimeoutMs: number;
  /** Whether the connection is up now: nothing is published while it is not. */
  isUp(): boolean;
}

/** What publishing one producer's run came to. */
export interface RunOutcome {
  /** Highest sequence number such that it and every one before it in the run is on the stream; the first's - 1 when none. */
  durableThrough: number;
  /** Why the rest is not (nothing after the first failure is published), or null when all are. */
  error: string | null;
}

export class WindowedPublisher {
  private readonly inbox: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<number, Pending>();
  private readonly waiters: Array<() => void> = [];
  private readonly subjects: readonly string[];
  private readonly unknownSubject: string;
  private readonly sweep: NodeJS.Timeout;
  private nextToken = 1;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: PublisherOptions,
  ) {
    this.inbox = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.inbox}*`, { callback: (err, msg) => this.onReply(err, msg) });
    this.subjects = prioritySubjects(opts.subjectPrefix);
    this.unknownSubject = `${opts.subjectPrefix}.unknown`;
    this.sweep = setInterval(() => this.expire(), Math.max(50, opts.ackTimeoutMs / 4));
    this.sweep.unref();
  }

  /** Publishes waiting for a PubAck. */
  get outstanding(): number {
    return this.pending.size;
  }

  /** The subject an alert of this priority goes to (falco.alerts.warning; .unknown outside 0-7). */
  subjectFor(priority: number): string {
    return this.subjects[priority] ?? this.unknownSubject;
  }

  /** Resolves once a publish would not exceed the window. */
  room(): Promise<void> {
    if (this.pending.size < this.opts.window || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Publishes one alert (call room() first to respect the window). */
  publish(subject: string, payload: Uint8Array, msgId: string, settle: Settle): void {
    if (this.closed) return settle('the bus publisher is closed');
    if (!this.opts.isUp()) return settle('the NATS connection is down');
    const token = this.nextToken++;
    const h = headers();
    h.set('Nats-Msg-Id', msgId);
    this.pending.set(token, { settle, sentAt: performance.now() });
    try {
      this.nc.publish(subject, payload, { reply: this.inbox + token, headers: h });
    } catch (err) {
      this.pending.delete(token);
      settle(`publish to ${subject} failed: ${(err as Error).message}`);
    }
  }

  /**
   * Publishes a run of one producer's alerts in order, alerts[i] with sequence number seqOf(i)
   * (ascending). Stops issuing at the first failure, waits for what is out, and says how far the
   * run is durable without a hole.
   */
  publishRun(producerId: string, alerts: readonly Uint8Array[], priorities: readonly number[], seqOf: (i: number) => number): Promise<RunOutcome> {
    const before = seqOf(0) - 1;
    return new Promise((resolve) => {
      const n = alerts.length;
      const stored = new Uint8Array(n);
      let frontier = 0;
      let issued = 0;
      let settled = 0;
      let error: string | null = null;
      let issuing = true;
      const maybeDone = (): void => {
        if (!issuing && settled === issued) resolve({ durableThrough: frontier === 0 ? before : seqOf(frontier - 1), error });
      };
      const issue = async (): Promise<void> => {
        for (let i = 0; i < n && error === null; i++) {
          while (this.pending.size >= this.opts.window && !this.closed) await this.room();
          if (error !== null) break;
          issued++;
          this.publish(this.subjectFor(priorities[i]!), alerts[i]!, messageId(producerId, seqOf(i)), (err) => {
            settled++;
            if (err !== null) error ??= err;
            else {
              stored[i] = 1;
              while (frontier < n && stored[frontier] === 1) frontier++;
            }
            maybeDone();
          });
        }
        issuing = false;
        maybeDone();
      };
      void issue();
    });
  }

  private onReply(err: Error | null, msg: Msg): void {
    if (err) return; // the subscription itself failed: the sweep times the publishes out
    const token = Number(msg.subject.slice(this.inbox.length));
    const entry = this.pending.get(token);
    if (!entry) return; // timed out or failed over already: a late PubAck changes nothing
    this.pending.delete(token);
    entry.settle(this.ackError(msg));
    this.wake();
  }

  /** Null for a PubAck from our stream, else what went wrong. */
  private ackError(msg: Msg): string | null {
    if (msg.data.length === 0) {
      const code = msg.headers?.code ?? 0;
      return code === 503 ? `no stream takes ${this.opts.subjectPrefix}.> on this NATS account (no responders)` : `empty reply to a publish (status ${code})`;
    }
    let ack: PubAckJson;
    try {
      ack = msg.json<PubAckJson>();
    } catch {
      return `unreadable PubAck: ${msg.string().slice(0, 200)}`;
    }
    if (ack.error) return `JetStream refused the alert: ${ack.error.description ?? 'no description'} (code ${ack.error.code ?? '?'}, err_code ${ack.error.err_code ?? '?'})`;
    if (ack.stream !== this.opts.stream) return `stored in stream ${String(ack.stream)}, not ${this.opts.stream}`;
    return null;
  }

  private wake(): void {
    let room = this.opts.window - this.pending.size;
    while (room-- > 0 && this.waiters.length > 0) this.waiters.shift()!();
  }

  private expire(): void {
    const cutoff = performance.now() - this.opts.ackTimeoutMs;
    for (const [token, entry] of this.pending) {
      if (entry.sentAt > cutoff) break; // insertion order is send order
      this.pending.delete(token);
      entry.settle(`no PubAck within ${this.opts.ackTimeoutMs} ms`);
    }
    this.wake();
  }

  /** Fails every publish still waiting (the connection went down: their fate is unknown, a resend settles it). */
  failAll(reason: string): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const entry of entries) entry.settle(reason);
    this.wake();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweep);
    this.failAll('the bus publisher is closed');
    for (const w of this.waiters.splice(0)) w();
    this.sub.unsubscribe();
  }
}
