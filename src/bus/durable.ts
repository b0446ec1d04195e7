// A durable pull consumer on the stream, for `consume`: a batch is fetched, handed on, and acked
// only once whoever took it says it is done with it. Several processes with one durable name
// share its messages; a restart resumes at the first unacked one. Stopping finishes the batch in
// hand and waits for the server to confirm its acks, so nothing taken is delivered again.

import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type Consumer, type ConsumerMessages, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
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

const FETCH_EXPIRES_MS = 5000;
/** How long a batch may go without a new message before it is handed on. */
const BATCH_IDLE_MS = 50;

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
  private stopping = false;
  private wakeUp: (() => void) | null = null;
  private fetching: ConsumerMessages | null = null;

  constructor(
    private readonly link: BusLink,
    private readonly opts: DurableOptions,
  ) {
    this.settings = {
      durable: checkDurableName(opts.durable),
      batch: opts.batch ?? DURABLE_DEFAULTS.batch,
      ackWaitMs: opts.ackWaitMs ?? DURABLE_DEFAULTS.ackWaitMs,
    };
  }

  /**
   * Fetches and hands on batches until stop(). `deliver` resolves once the batch is taken: only
   * then are its messages acked. While it works, the messages' ack deadlines are pushed back.
   */
  async run(deliver: (batch: DurableBatch) => Promise<void>): Promise<void> {
    let consumer: Consumer | null = null;
    let boundTo = -1;
    while (!this.stopping) {
      const c = this.link.connection;
      if (!c || this.link.state !== 'ready') {
        await this.pause(500);
        continue;
      }
      try {
        if (!consumer || boundTo !== this.link.connectionGeneration) {
          await ensureDurable(c.jsm, this.link.stream, this.link.subjectPrefix, this.settings);
          consumer = await c.js.consumers.get(this.link.stream, this.settings.durable);
          boundTo = this.link.connectionGeneration;
        }
        const messages = await this.fetch(consumer);
        if (messages.length === 0) continue;
        await this.hand(messages, deliver);
      } catch (err) {
        if (this.stopping) break;
        // A pull that found nothing for a while: not a problem with the consumer.
        if ((err as Error).message?.includes('heartbeats missed')) continue;
        this.opts.log(`falco-grpc-output consume: ${errorText(err)}; retrying`);
        consumer = null;
        await this.pause(1000);
      }
    }
    // Acks of the batch before the last went out without a reply: a round trip makes sure the server has them.
    await this.link.connection?.nc.flush().catch(() => {});
  }

  private async fetch(consumer: Consumer): Promise<JsMsg[]> {
    const out: JsMsg[] = [];
    // A pull waits up to FETCH_EXPIRES_MS for a full batch; nats.js's idle heartbeat is half of
    // that, so a shorter pull races its own heartbeat check and fails as "heartbeats missed".
    const iter = await consumer.fetch({ max_messages: this.settings.batch, expires: FETCH_EXPIRES_MS });
    this.fetching = iter;
    // The ack deadline of what arrived runs while the pull waits for more: push it back.
    const keepAlive = this.keepAlive(out);
    // A batch that stops growing is handed on at once rather than when the pull expires: with
    // several processes on one durable, nats-server splits the messages between their pulls.
    let idle: NodeJS.Timeout | undefined;
    try {
      // stop() closes the pull: what arrived until then is delivered and acked.
      for await (const m of iter) {
        out.push(m);
        clearTimeout(idle);
        idle = setTimeout(() => void iter.close(), BATCH_IDLE_MS);
      }
    } finally {
      clearTimeout(idle);
      clearInterval(keepAlive);
      this.fetching = null;
    }
    return out;
  }

  private async hand(messages: JsMsg[], deliver: (batch: DurableBatch) => Promise<void>): Promise<void> {
    const batch: DurableBatch = {
      alerts: messages.map((m) => Buffer.from(m.data.buffer, m.data.byteOffset, m.data.length)),
      seqs: messages.map((m) => m.seq),
      redelivered: messages.filter((m) => m.redelivered).length,
    };
    const keepAlive = this.keepAlive(messages);
    try {
      await deliver(batch);
    } finally {
      clearInterval(keepAlive);
    }
    if (this.stopping) {
      // The last batch: wait until nats-server confirms every ack, so a restart sees none of it again.
      await Promise.all(messages.map((m) => m.ackAck()));
    } else {
      for (const m of messages) m.ack();
    }
  }

  /** Tells nats-server every third of the ack wait that these messages are still being worked on. */
  private keepAlive(messages: readonly JsMsg[]): NodeJS.Timeout {
    return setInterval(() => {
      for (const m of messages) m.working();
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

  /** Finish the batch in hand (delivered and acked), then run() returns. */
  stop(): void {
    this.stopping = true;
    this.wakeUp?.();
    // A pull still waiting for messages ends now with what it has.
    void this.fetching?.close();
  }
}
