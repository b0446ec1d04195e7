// One receiver's link to the bus: the NATS connection, the stream checked or created, and the
// windowed publisher, with a state that says whether alerts can be made durable right now.
// An unreachable bus is retried forever (the receiver says NOT_SERVING meanwhile); credentials
// refused, JetStream missing or a stream that conflicts are permanent and fail start().

import { jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { RetryBackoff } from '../common/backoff.js';
import { errorText } from '../common/errors.js';
import { stderrLog, type LogFn } from '../common/log.js';
import { checkConnectOptions, connectBus, describeConnectError, isPermanentConnectError, type BusConnectOptions } from './connection.js';
import { WindowedPublisher } from './publisher.js';
import { checkStreamSettings, ensureStream, StreamConflictError, type StreamSettings } from './stream.js';
import { checkStreamName, checkSubjectPrefix, DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX } from './subjects.js';

export interface BusOptions extends BusConnectOptions, Omit<StreamSettings, 'name' | 'subjectPrefix'> {
  /** JetStream stream name. Default FALCO_ALERTS. */
  stream?: string;
  /** Alerts go to <prefix>.<priority>. Default falco.alerts. */
  subjectPrefix?: string;
  /** Publishes waiting for their PubAck at once. Default 4096. */
  publishWindow?: number;
  /** A publish without a PubAck after this long has failed. Default 5000 ms. */
  ackTimeoutMs?: number;
  log?: LogFn;
}

export const BUS_DEFAULTS = { publishWindow: 4096, ackTimeoutMs: 5000 } as const;

export type BusState = 'connecting' | 'ready' | 'down' | 'failed';

/** A problem no retry can fix: wrong credentials, no JetStream, a conflicting stream. */
export class BusSetupError extends Error {
  override name = 'BusSetupError';
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

/** Whether nats.js's connection is up this instant (internal field; events arrive a tick later). */
function transportUp(nc: NatsConnection): boolean {
  const protocol = (nc as unknown as { protocol?: { connected?: unknown } }).protocol;
  return typeof protocol?.connected === 'boolean' ? protocol.connected : !nc.isClosed();
}

export class BusLink {
  readonly stream: string;
  readonly subjectPrefix: string;
  private readonly settings: StreamSettings;
  private readonly log: LogFn;
  private readonly listeners = new Set<(state: BusState, reason: string) => void>();
  private readonly retry = new RetryBackoff(RETRY_MIN_MS, RETRY_MAX_MS);
  private readonly stop = new AbortController();
  private nc: NatsConnection | null = null;
  private jsm: JetStreamManager | null = null;
  private pub: WindowedPublisher | null = null;
  private up = false;
  private current: BusState = 'connecting';
  private reason = 'connecting';
  private generation = 0;

  constructor(private readonly opts: BusOptions) {
    checkConnectOptions(opts, 'bus');
    this.stream = checkStreamName(opts.stream ?? DEFAULT_STREAM);
    this.subjectPrefix = checkSubjectPrefix(opts.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX);
    this.settings = {
      name: this.stream,
      subjectPrefix: this.subjectPrefix,
      replicas: opts.replicas,
      maxAgeMs: opts.maxAgeMs,
      maxBytes: opts.maxBytes,
      duplicateWindowMs: opts.duplicateWindowMs,
    };
    checkStreamSettings(this.settings);
    this.log = opts.log ?? stderrLog;
  }

  get state(): BusState {
    return this.current;
  }

  /** Why the state is what it is (the last error while not ready). */
  get stateReason(): string {
    return this.reason;
  }

  /** Bumped on every new connection: readers bound to an older one start again. */
  get connectionGeneration(): number {
    return this.generation;
  }

  onState(listener: (state: BusState, reason: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The publisher while the bus is ready, else null. */
  get publisher(): WindowedPublisher | null {
    return this.current === 'ready' ? this.pub : null;
  }

  /** The connection and JetStream handles, once connected (readers use them). */
  get connection(): { nc: NatsConnection; jsm: JetStreamManager; js: JetStreamClient } | null {
    return this.nc && this.jsm ? { nc: this.nc, jsm: this.jsm, js: this.jsm.jetstream() } : null;
  }

  /**
   * Makes the first attempt. Resolves when the bus is ready, or when it is unreachable for now
   * (state 'down', retried in the background); rejects with a BusSetupError for what no retry fixes.
   */
  async start(): Promise<void> {
    const ok = await this.attempt();
    if (ok === 'permanent') throw new BusSetupError(this.reason);
    if (ok === 'retry') void this.retryLoop();
  }

  private setState(state: BusState, reason: string): void {
    if (state === this.current && reason === this.reason) return;
    const was = this.current;
    this.current = state;
    this.reason = reason;
    if (state !== was) {
      if (state === 'ready') this.log(`falco-grpc-output bus: NATS ${this.nc?.getServer() ?? ''} ready, stream ${this.stream}`);
      else if (state !== 'connecting' && !this.stop.signal.aborted) this.log(`falco-grpc-output bus: ${state}: ${reason}`);
    }
    for (const l of this.listeners) l(state, reason);
  }

  /** One connect + stream check. */
  private async attempt(): Promise<'ready' | 'retry' | 'permanent'> {
    let nc: NatsConnection;
    try {
      nc = await connectBus(this.opts);
    } catch (err) {
      const permanent = isPermanentConnectError(err);
      this.setState(permanent ? 'failed' : 'down', describeConnectError(err, this.opts.servers));
      return permanent ? 'permanent' : 'retry';
    }
    if (this.stop.signal.aborted) {
      await nc.close();
      return 'permanent';
    }
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStream(jsm, this.settings);
      this.adopt(nc, jsm);
      return 'ready';
    } catch (err) {
      await nc.close().catch(() => {});
      if (err instanceof StreamConflictError) {
        this.setState('failed', err.message);
        return 'permanent';
      }
      if ((err as Error).name === 'JetStreamNotEnabled') {
        this.setState('failed', `JetStream is not enabled on NATS ${this.opts.servers.join(', ')}: start nats-server with -js (or a jetstream {} block)`);
        return 'permanent';
      }
      this.setState('down', `NATS ${this.opts.servers.join(', ')}: checking stream ${this.stream} failed: ${errorText(err)}`);
      return 'retry';
    }
  }

  private async retryLoop(): Promise<void> {
    while (!this.stop.signal.aborted) {
      this.retry.failed();
      if (!(await this.retry.ready(this.stop.signal))) return;
      const outcome = await this.attempt();
      if (outcome !== 'retry') return;
    }
  }

  private adopt(nc: NatsConnection, jsm: JetStreamManager): void {
    this.nc = nc;
    this.jsm = jsm;
    this.generation++;
    this.up = true;
    this.retry.reset();
    this.pub = new WindowedPublisher(nc, {
      stream: this.stream,
      subjectPrefix: this.subjectPrefix,
      window: this.opts.publishWindow ?? BUS_DEFAULTS.publishWindow,
      ackTimeoutMs: this.opts.ackTimeoutMs ?? BUS_DEFAULTS.ackTimeoutMs,
      isUp: () => this.up && transportUp(nc),
    });
    const pub = this.pub;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.up = false;
          pub.failAll('the NATS connection was lost');
          this.setState('down', `lost the connection to NATS ${s.server}; reconnecting`);
        } else if (s.type === 'reconnect') {
          this.up = true;
          this.setState('ready', 'reconnected');
        } else if (s.type === 'ldm') {
          this.log(`falco-grpc-output bus: NATS ${nc.getServer()} is entering lame duck mode; nats.js will move to another server`);
        }
      }
    })();
    void nc.closed().then((err) => {
      pub.close();
      if (this.stop.signal.aborted || this.nc !== nc) return;
      // nats.js gave up (e.g. credentials refused on reconnect): start over with a new connection.
      this.up = false;
      this.nc = null;
      this.jsm = null;
      this.setState('down', `NATS connection closed${err ? `: ${describeConnectError(err, this.opts.servers)}` : ''}`);
      void this.retryLoop();
    });
    this.setState('ready', 'connected');
  }

  /** Waits for the publishes in flight, then closes the connection. */
  async close(): Promise<void> {
    if (this.stop.signal.aborted) return;
    this.stop.abort();
    const nc = this.nc;
    this.nc = null;
    this.pub?.close();
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
    this.setState('down', 'closed');
  }
}
