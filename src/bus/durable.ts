// A durable pull consumer on the stream, for `consume`: a batch is fetched, handed on, and acked
// only once whoever took it says it is done with it. Several processes with one durable name
// share its messages; a restart resumes at the first unacked one. Stopping finishes the batch in
// hand and waits for the server to confirm its acks, so nothing taken is delivered again.
//
// Every pull request is read until nats-server itself ends it (batch full, no more messages, or
// its expiry): a pull that the client walks away from while the server still holds it makes
// nats-server 2.9 (Debian's 2.9.10) hand out a message twice. When it picks a redelivery for such
// a pull and finds nobody listening, it steps its new-message pointer back instead of requeueing
// the redelivery, so the newest message goes out again with delivery count 1 (fixed upstream in
// nats-server 2.10.15, nats-io/nats-server#5305). So pulls ask for what is there now (no_wait),
// and only when there is nothing does one wait, briefly, for a first message.

import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { createInbox, nanos, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { errorText } from '../common/errors.js';
import type { LogFn } from '../common/log.js';
import type { BusLink } from './link.js';

export interface DurableOptions {
  /** The consumer's durable name, shared by every process that splits the work. */
  durable: string;
  /** Messages fetched per batch. Default 1000. */
  batch?: number;
  /** How long nats-server waits for an ack before it delivers a message again (to a process that is still alive). Default 30 s. */
  ackWaitMs?: number;
  log: LogFn;
}

export const DURABLE_DEFAULTS = { batch: 1000, ackWaitMs: 30_000 } as const;

/**
 * How long a pull waits for a first message when the consumer has none. It bounds how long SIGTERM
 * waits for the pull in hand, and it is kept under the ack wait: a pull left behind by a killed
 * process has then expired before that process's unacked messages come back for redelivery, so
 * nats-server never picks one of them for a pull nobody reads (see the top of this file).
 */
const LONG_POLL_MS = 1000;
/** How long past its expiry a pull may go unanswered before it counts as lost with the connection. */
const ANSWER_GRACE_MS = 5000;
/** How long the last batch's acks may wait for nats-server's confirmation. */
const ACK_CONFIRM_MS = 5000;

/** One delivered message: its bytes, where its ack goes, and its place in the stream. */
interface Delivery {
  data: Uint8Array;
  reply: string;
  seq: number;
  redelivered: boolean;
}

/**
 * Reads a delivery's ack subject: $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>,
 * or, from servers with domains, $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<stream seq>....
 */
export function parseDelivery(m: Pick<Msg, 'reply' | 'data'>): Delivery {
  const t = (m.reply ?? '').split('.');
  const at = t.length === 9 ? 4 : t.length >= 11 ? 6 : -1;
  const delivered = Number(t[at]);
  const seq = Number(t[at + 1]);
  if (at < 0 || t[0] !== '$JS' || t[1] !== 'ACK' || !Number.isInteger(delivered) || !Number.isInteger(seq)) {
    throw new Error(`not a JetStream delivery: reply subject ${JSON.stringify(m.reply ?? '')}`);
  }
  return { data: m.data, reply: m.reply!, seq, redelivered: delivered > 1 };
}

/** One fetched batch: the alerts' bytes and their stream sequence numbers. */
export interface DurableBatch {
  alerts: Buffer[];
  seqs: number[];
  /** How many of them were delivered before (to a process that died, or whose ack was lost). */
  redelivered: number;
}

export function checkDurableName(name: string): string {
  if (!/^[^.*>\s/\\]+$/.test(name)) throw new RangeError(`durable name must not contain spaces, ., *, >, / or \\, got ${JSON.stringify(name)}`);
  return name;
}

/** The durable consumer, created when missing; one that exists must be a pull consumer with explicit acks. */
export async function ensureDurable(jsm: JetStreamManager, stream: string, subjectPrefix: string, o: Required<Omit<DurableOptions, 'log'>>): Promise<void> {
  try {
    const info = await jsm.consumers.info(stream, o.durable);
    const problems: string[] = [];
    if (info.config.ack_policy !== AckPolicy.Explicit) problems.push(`ack_policy is ${info.config.ack_policy}, needs explicit`);
    if (info.config.deliver_subject) problems.push('it is a push consumer, needs pull');
    if (problems.length > 0) throw new Error(`consumer ${o.durable} on stream ${stream} cannot be used: ${problems.join('; ')}`);
    return;
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
  }
  await jsm.consumers.add(stream, {
    durable_name: o.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(o.ackWaitMs),
    max_ack_pending: 10 * o.batch,
    filter_subject: `${subjectPrefix}.>`,
  });
}

export class DurableConsumer {
  private readonly settings: Required<Omit<DurableOptions, 'log'>>;
  private readonly longPollMs: number;
  private stopping = false;
  private wakeUp: (() => void) | null = null;

  constructor(
    private readonly link: BusLink,
    private readonly opts: DurableOptions,
  ) {
    this.settings = {
      durable: checkDurableName(opts.durable),
      batch: opts.batch ?? DURABLE_DEFAULTS.batch,
      ackWaitMs: opts.ackWaitMs ?? DURABLE_DEFAULTS.ackWaitMs,
    };
    this.longPollMs = Math.max(50, Math.min(LONG_POLL_MS, Math.floor(this.settings.ackWaitMs / 2)));
  }

  /**
   * Fetches and hands on batches until stop(). `deliver` resolves once the batch is taken: only
   * then are its messages acked. While it works, the messages' ack deadlines are pushed back.
   */
  async run(deliver: (batch: DurableBatch) => Promise<void>): Promise<void> {
    let boundTo = -1;
    while (!this.stopping) {
      const c = this.link.connection;
      if (!c || this.link.state !== 'ready') {
        await this.pause(500);
        continue;
      }
      try {
        if (boundTo !== this.link.connectionGeneration) {
          await ensureDurable(c.jsm, this.link.stream, this.link.subjectPrefix, this.settings);
          boundTo = this.link.connectionGeneration;
        }
        const messages = await this.fetch(c.nc);
        if (messages.length === 0) continue;
        await this.hand(c.nc, messages, deliver);
      } catch (err) {
        if (this.stopping) break;
        this.opts.log(`falco-grpc-output consume: ${errorText(err)}; retrying`);
        boundTo = -1;
        await this.pause(1000);
      }
    }
    // Acks of the batch before the last went out without a reply: a round trip makes sure the server has them.
    await this.link.connection?.nc.flush().catch(() => {});
  }

  /** The next batch: what the consumer has now, or else the first message within the long poll and what followed it. */
  private async fetch(nc: NatsConnection): Promise<Delivery[]> {
    const now = await this.pull(nc, this.settings.batch, 0);
    if (now.length > 0 || this.stopping) return now;
    const first = await this.pull(nc, 1, this.longPollMs);
    if (first.length === 0 || this.settings.batch === 1) return first;
    return first.concat(await this.pull(nc, this.settings.batch - 1, 0));
  }

  /**
   * One pull request, read until nats-server ends it: the batch is full, or a status says there is
   * no more (404 none, 408 fewer than asked or expired). `waitMs` 0 asks for what is there now.
   */
  private async pull(nc: NatsConnection, batch: number, waitMs: number): Promise<Delivery[]> {
    const inbox = createInbox();
    const sub = nc.subscribe(inbox);
    const out: Delivery[] = [];
    let unanswered = false;
    const guard = setTimeout(() => {
      unanswered = true;
      sub.unsubscribe();
    }, waitMs + ANSWER_GRACE_MS);
    // The ack deadline of what arrived runs while the pull goes on (the server may spread it over
    // several consume processes' pulls, a message at a time): push it back.
    const keepAlive = this.keepAlive(nc, out);
    try {
      const request = waitMs > 0 ? { batch, expires: nanos(waitMs) } : { batch, no_wait: true };
      nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.link.stream}.${this.settings.durable}`, JSON.stringify(request), { reply: inbox });
      for await (const m of sub) {
        const code = m.headers?.code ?? 0;
        if (code === 100) continue; // an idle heartbeat (none is asked for)
        if (code === 404 || code === 408) break;
        if (code !== 0) throw new Error(`stream ${this.link.stream}, consumer ${this.settings.durable}: pull refused (${code} ${m.headers?.description ?? ''})`);
        out.push(parseDelivery(m));
        if (out.length === batch) break;
      }
    } finally {
      clearTimeout(guard);
      clearInterval(keepAlive);
      sub.unsubscribe();
    }
    // What arrived is not acked: it comes back after the ack wait, to whoever pulls then.
    if (unanswered) throw new Error(`stream ${this.link.stream}, consumer ${this.settings.durable}: a pull got no answer within ${(waitMs + ANSWER_GRACE_MS) / 1000} s`);
    return out;
  }

  private async hand(nc: NatsConnection, messages: Delivery[], deliver: (batch: DurableBatch) => Promise<void>): Promise<void> {
    const batch: DurableBatch = {
      alerts: messages.map((m) => Buffer.from(m.data.buffer, m.data.byteOffset, m.data.length)),
      seqs: messages.map((m) => m.seq),
      redelivered: messages.filter((m) => m.redelivered).length,
    };
    const keepAlive = this.keepAlive(nc, messages);
    try {
      await deliver(batch);
    } finally {
      clearInterval(keepAlive);
    }
    if (this.stopping) {
      // The last batch: wait until nats-server confirms every ack, so a restart sees none of it again.
      await Promise.all(messages.map((m) => nc.request(m.reply, ACK, { timeout: ACK_CONFIRM_MS })));
    } else {
      for (const m of messages) nc.publish(m.reply, ACK);
    }
  }

  /** Tells nats-server every third of the ack wait that these messages are still being worked on. */
  private keepAlive(nc: NatsConnection, messages: readonly Delivery[]): NodeJS.Timeout {
    return setInterval(() => {
      for (const m of messages) nc.publish(m.reply, WORKING);
    }, Math.max(300, this.settings.ackWaitMs / 3));
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  /** Finish the pull and the batch in hand (delivered and acked), then run() returns. */
  stop(): void {
    this.stopping = true;
    this.wakeUp?.();
  }
}

const ACK = '+ACK';
const WORKING = '+WPI';
