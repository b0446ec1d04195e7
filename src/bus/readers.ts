// Reading the stream back for the subscription API: a live reader that follows the stream from
// "new" (what `sub` serves on every replica), and the retained tail for `get`. Both use ordered
// consumers (ephemeral, in memory, reset by nats.js after a gap or a reconnect), and both pick
// alerts by subject, never by decoding them.

import { DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { errorText } from '../common/errors.js';
import type { LogFn } from '../common/log.js';
import type { BusLink } from './link.js';

/** An alert's bytes from a message, without copying. */
function bytesOf(m: JsMsg): Buffer {
  return Buffer.from(m.data.buffer, m.data.byteOffset, m.data.length);
}

/** Messages the live reader asks the server for at a time. */
const LIVE_PULL = 256;

export interface LiveReaderOptions {
  /** Receives the alerts in stream order, in runs (one run per turn of the event loop). */
  onAlerts(alerts: Buffer[]): void;
  /** Which subjects to pass on (the --min-priority filter). Default all. */
  accept?: (subject: string) => boolean;
  log: LogFn;
}

/**
 * Follows the stream from the moment it starts. After a new connection it resumes right after
 * the last message it passed on, so a bus restart costs its subscribers nothing.
 */
export class LiveReader {
  private messages: ConsumerMessages | null = null;
  private lastSeq = 0;
  private boundTo = -1;
  private batch: Buffer[] = [];
  private flushQueued = false;
  private closed = false;
  private readonly unwatch: () => void;

  constructor(
    private readonly link: BusLink,
    private readonly opts: LiveReaderOptions,
  ) {
    this.unwatch = link.onState((state) => {
      if (state === 'ready') void this.bind();
    });
    if (link.state === 'ready') void this.bind();
  }

  /** Stream sequence of the last message passed on (0 before the first). */
  get position(): number {
    return this.lastSeq;
  }

  private async bind(): Promise<void> {
    const c = this.link.connection;
    if (!c || this.closed || this.boundTo === this.link.connectionGeneration) return;
    this.boundTo = this.link.connectionGeneration;
    await this.messages?.close().catch(() => {});
    try {
      const consumer = await c.js.consumers.get(this.link.stream, {
        filter_subjects: `${this.link.subjectPrefix}.>`,
        ...(this.lastSeq === 0 ? { deliver_policy: DeliverPolicy.New } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeq + 1 }),
      });
      if (this.closed) return;
      // A small pull keeps each burst handed to the hub small, so a subscriber that keeps up never
      // finds its queue overrun by one burst (a burst larger than a queue would cost everyone).
      this.messages = await consumer.consume({ max_messages: LIVE_PULL, callback: (m) => this.take(m) });
    } catch (err) {
      this.boundTo = -1;
      this.opts.log(`falco-grpc-output bus: cannot follow stream ${this.link.stream}: ${errorText(err)}; retrying when the bus is ready again`);
    }
  }

  private take(m: JsMsg): void {
    this.lastSeq = m.seq;
    if (this.opts.accept && !this.opts.accept(m.subject)) return;
    this.batch.push(bytesOf(m));
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => {
        this.flushQueued = false;
        const run = this.batch;
        this.batch = [];
        if (run.length > 0 && !this.closed) this.opts.onAlerts(run);
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unwatch();
    await this.messages?.close().catch(() => {});
  }
}

/** How long readRecent waits for the next message before it takes what it has. */
const RECENT_IDLE_MS = 2000;

/**
 * The stream's last `count` messages (fewer when it holds fewer), oldest first, those `accept`
 * rejects left out: what `get` answers with. Null when the bus is not ready.
 */
export async function readRecent(link: BusLink, count: number, accept?: (subject: string) => boolean): Promise<Buffer[] | null> {
  const c = link.connection;
  if (!c || link.state !== 'ready') return null;
  const { state } = await c.jsm.streams.info(link.stream);
  if (state.messages === 0) return [];
  const last = state.last_seq;
  const first = Math.max(state.first_seq, last - count + 1);
  const consumer = await c.js.consumers.get(link.stream, {
    filter_subjects: `${link.subjectPrefix}.>`,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: first,
  });
  const out: Buffer[] = [];
  const messages = await consumer.consume({ max_messages: Math.min(count, 1024) });
  // Nothing under the prefix in that range (another subject last, or expired meanwhile): stop waiting.
  let idle = setTimeout(() => void messages.close(), RECENT_IDLE_MS);
  try {
    for await (const m of messages) {
      clearTimeout(idle);
      idle = setTimeout(() => void messages.close(), RECENT_IDLE_MS);
      if (m.seq > last) break;
      if (!accept || accept(m.subject)) out.push(bytesOf(m));
      if (m.seq === last || m.info.pending === 0) break;
    }
  } finally {
    clearTimeout(idle);
    await messages.close().catch(() => {});
  }
  return out;
}
