// createReceiver(): serves Transmitter/Publish (plus health and reflection) on TCP with mTLS
// or on unix sockets, hands each producer's alerts to the sink in order and exactly once,
// and acknowledges what the sink accepted.

import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import type { Http2Session } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation, protoPath as HEALTH_PROTO } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { fileURLToPath } from 'node:url';
import { PublishAck } from '../gen/falco/transmit/v1/transmit.js';
import { readPublishRequest, type PublishEnvelope } from '../codec/publish-request.js';
import { loadTls, type TlsOptions } from '../tls/pem.js';
import { JsonLinesSink, type Sink, type SinkStatus } from './sinks.js';
import { ProducerTable, splitRun, type ProducerRecord, type ProducerStats } from './producers.js';
import { PRIORITY_NAMES, priorityFromName } from '../codec/alert.js';
import { http2SessionOf } from './grpc-internals.js';
import { SubscriptionHub, type SubscriberStats, type SubscriptionOptions } from './subscriptions.js';

export const PROTO_DIR = fileURLToPath(new URL('../../../proto', import.meta.url));
const PROTO_FILES = ['falco/transmit/v1/transmit.proto', 'falco/outputs/outputs.proto', 'falco/version/version.proto'];
const TRANSMITTER_SERVICE = 'falco.transmit.v1.Transmitter';
/** Requests a stream may have in hand before the receiver stops reading it (HTTP/2 then pushes back). */
const MAX_IN_HAND = 8;
/** Per-stream HTTP/2 receive window the receiver grants (the default is 64 KiB). */
const FLOW_CONTROL_WINDOW = 4 * 1024 * 1024;
/** How long close() waits for the sink to finish the requests in hand. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface ReceiverOptions {
  /** Addresses: `host:port` (mTLS unless insecure) or `unix:///path` (plaintext, mode 0660). */
  listen: readonly string[];
  /** Server certificate and key, and the CA that client certificates must chain to. */
  tls?: TlsOptions;
  /** Explicit opt-in to plaintext TCP listeners. */
  insecure?: boolean;
  /** Where accepted alerts go. Default: Falco JSON lines on stdout. */
  sink?: Sink;
  /** Largest PublishRequest accepted; larger ones end their stream with RESOURCE_EXHAUSTED. Default 16 MiB. */
  maxMessageBytes?: number;
  /**
   * Falco's subscription API (falco.outputs.service sub/get): per-subscriber queue and history
   * sizes, default 10,000 alerts each; `false` leaves it out (Falco's grpc_output.enabled: false).
   * falco.version.service is always served.
   */
  subscriptions?: SubscriptionOptions | false;
  /**
   * Least severe priority passed on to the sink and subscribers (Falco's ordering: 0 Emergency ...
   * 7 Debug; a name such as "warning" or its number). Less severe alerts are acknowledged and
   * counted as `filtered`. Default: everything.
   */
  minPriority?: string | number;
  /** Where to report protocol problems. Default stderr. */
  log?: (line: string) => void;
}

export interface ReceiverStats {
  /** Alerts the sink accepted. */
  accepted: number;
  /** Alerts acknowledged but not passed on, being less severe than minPriority. */
  filtered: number;
  /** Alerts skipped because they were already handled (resends). */
  duplicates: number;
  /** Sequence numbers that never arrived (a producer skipped them). */
  gaps: number;
  /** PublishRequests received. */
  requests: number;
  /** Streams ended because of a malformed or invalid message. */
  rejectedStreams: number;
  activeStreams: number;
  producers: number;
  /** Clients subscribed through falco.outputs.service/sub. */
  subscribers: number;
  /** Alerts dropped from subscribers' own queues (a slow subscriber loses its oldest). */
  subscriberDrops: number;
}

export interface Receiver extends ReceiverView {
  /** Binds every listener; resolves with the bound addresses (a `:0` port resolved). */
  start(): Promise<string[]>;
  /** Stops accepting, finishes and acks what is in hand, flushes the sink. Idempotent. */
  close(): Promise<void>;
}

// --- read-only view, for the web console (src/console) and metrics -------------------------

/**
 * Called with each run of alerts the sink accepted, in order, right after the sink accepted
 * them (the same alerts `get` and subscribers see). The buffers are views into their request:
 * copy or decode what must outlive the call. Runs on the receiver's event loop: keep it cheap.
 */
export type AlertListener = (alerts: readonly Buffer[]) => void;

/** The sink as the console shows it: the sink's own status, and how often it refused a run. */
export interface SinkState {
  sink: SinkStatus;
  /** Runs the sink refused (their producers resend them). */
  failures: number;
  lastFailure?: { atMs: number; message: string };
}

/** What a receiver lets a reader see without changing anything. */
export interface ReceiverView {
  stats(): ReceiverStats;
  /** Each current subscriber's own counts (peer, queued, sent, dropped). */
  subscriberStats(): SubscriberStats[];
  /** Producers remembered (at most `limit`, most recently seen first). */
  producerStats(limit?: number): ProducerStats[];
  /** The alerts kept for `get`, oldest first; the last one is the stats().accepted-th alert. */
  recentAlerts(): Buffer[];
  sinkState(): SinkState;
  /** Adds a listener; returns the function that removes it. With none, alerts cost nothing extra. */
  onAlerts(listener: AlertListener): () => void;
}

interface StreamState {
  call: grpc.ServerDuplexStream<Buffer, Buffer>;
  /** The producer whose requests this stream carries, and how to say that it ended. */
  producerId: string;
  disconnect: () => void;
  inHand: number;
  done: Promise<void>;
  finish: () => void;
  ended: boolean;
}

class ReceiverImpl implements Receiver {
  private readonly server: grpc.Server;
  private readonly sink: Sink;
  private readonly producers = new ProducerTable();
  private readonly streams = new Set<StreamState>();
  private readonly health = new HealthImplementation({ '': 'SERVING', [TRANSMITTER_SERVICE]: 'SERVING' });
  private readonly log: (line: string) => void;
  private readonly counts = { accepted: 0, filtered: 0, duplicates: 0, gaps: 0, requests: 0, rejectedStreams: 0 };
  private bound: string[] = [];
  private unixPaths: string[] = [];
  private stopping = false;
  private readonly widened = new WeakSet<Http2Session>();
  private readonly hub: SubscriptionHub;
  private readonly minPriority: number;
  private warnedNoSession = false;
  private closed: Promise<void> | null = null;
  private readonly listeners = new Set<AlertListener>();
  private readonly sinkFailures: { count: number; last?: { atMs: number; message: string } } = { count: 0 };

  constructor(private readonly opts: ReceiverOptions) {
    if (!opts.listen || opts.listen.length === 0) throw new TypeError('createReceiver: listen needs at least one address');
    for (const addr of opts.listen) {
      if (!addr.startsWith('unix:') && !opts.tls && !opts.insecure) {
        throw new Error(`createReceiver: ${addr} is a TCP address: give tls { cert, key, ca } for mTLS, or insecure: true`);
      }
    }
    this.minPriority = resolveMinPriority(opts.minPriority);
    this.sink = opts.sink ?? new JsonLinesSink();
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': opts.maxMessageBytes ?? 16 * 1024 * 1024,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5000,
    });
    this.server.addService(
      {
        Publish: {
          path: `/${TRANSMITTER_SERVICE}/Publish`,
          requestStream: true,
          responseStream: true,
          // Raw bytes in: decoding happens in the handler so a malformed message gets a clear status.
          requestDeserialize: (bytes: Buffer) => bytes,
          requestSerialize: (bytes: Buffer) => bytes,
          responseSerialize: (bytes: Buffer) => bytes,
          responseDeserialize: (bytes: Buffer) => bytes,
        },
      },
      { Publish: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => this.publish(call) },
    );
    this.hub = new SubscriptionHub(opts.subscriptions === false ? {} : opts.subscriptions);
    this.hub.addToServer(this.server, { outputs: opts.subscriptions !== false });
    this.health.addToServer(this.server);
    const definition = protoLoader.loadSync([...PROTO_FILES, HEALTH_PROTO], { includeDirs: [PROTO_DIR], keepCase: true });
    new ReflectionService(definition).addToServer(this.server);
  }

  async start(): Promise<string[]> {
    const tcpCreds = this.opts.tls
      ? (() => {
          const tls = loadTls(this.opts.tls);
          return grpc.ServerCredentials.createSsl(tls.ca, [{ private_key: tls.key, cert_chain: tls.cert }], true);
        })()
      : grpc.ServerCredentials.createInsecure();
    for (const addr of this.opts.listen) {
      const isUnix = addr.startsWith('unix:');
      if (isUnix) this.removeStaleSocket(addr);
      const port = await new Promise<number>((resolve, reject) =>
        this.server.bindAsync(addr, isUnix ? grpc.ServerCredentials.createInsecure() : tcpCreds, (err, p) =>
          err ? reject(new Error(`cannot listen on ${addr}: ${err.message}`)) : resolve(p),
        ),
      );
      if (isUnix) {
        const path = unixPath(addr);
        chmodSync(path, 0o660); // owner and group only: the socket has no TLS
        this.unixPaths.push(path);
        this.bound.push(addr);
      } else {
        this.bound.push(addr.replace(/:0$/, `:${port}`));
      }
    }
    return [...this.bound];
  }

  private removeStaleSocket(addr: string): void {
    const path = unixPath(addr);
    try {
      if (lstatSync(path).isSocket()) unlinkSync(path);
    } catch {
      // absent: nothing to remove
    }
  }

  private publish(call: grpc.ServerDuplexStream<Buffer, Buffer>): void {
    if (this.stopping) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'receiver is shutting down' });
      return;
    }
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const stream: StreamState = { call, producerId: '', disconnect: () => {}, inHand: 0, done, finish, ended: false };
    this.streams.add(stream);
    this.widenFlowControl(call);
    call.sendMetadata(new grpc.Metadata()); // tells the transmitter the stream is up
    const peer = call.getPeer();

    const end = (status?: { code: grpc.status; details: string }): void => {
      if (stream.ended) return;
      stream.ended = true;
      this.streams.delete(stream);
      stream.disconnect();
      call.pause();
      if (status) call.emit('error', status);
      else call.end();
      finish();
    };
    const settle = (): void => {
      stream.inHand--;
      if (stream.ended) return;
      if (stream.inHand < MAX_IN_HAND / 2 && call.isPaused()) call.resume();
      if (stream.inHand === 0 && (this.stopping || call.readableEnded)) end();
    };

    call.on('data', (bytes: Buffer) => {
      if (stream.ended || this.stopping) return;
      let request: PublishEnvelope;
      try {
        request = readPublishRequest(bytes);
      } catch (err) {
        this.counts.rejectedStreams++;
        const details = `malformed PublishRequest (${bytes.length} bytes): ${(err as Error).message}`;
        this.log(`falco-grpc-output receive: ${peer}: ${details}`);
        end({ code: grpc.status.INVALID_ARGUMENT, details });
        return;
      }
      this.counts.requests++;
      if (request.producerId !== stream.producerId) {
        stream.disconnect();
        stream.producerId = request.producerId;
        stream.disconnect = this.producers.connect(request.producerId, peer);
      }
      stream.inHand++;
      if (stream.inHand >= MAX_IN_HAND) call.pause();
      this.producers
        .enqueue(request.producerId, (state) =>
          // A stream that ended (its sink failed) must not deliver what it still had queued.
          stream.ended ? Promise.reject(new Error('stream ended')) : this.deliver(state, request),
        )
        .then(
          (ackedThrough) => {
            if (!stream.ended) call.write(Buffer.from(PublishAck.encode({ ackedThrough: BigInt(ackedThrough) }).finish()));
            settle();
          },
          (err: unknown) => {
            // The sink refused: no ack, so the producer will resend after reconnecting.
            if (!stream.ended) {
              this.sinkFailures.count++;
              this.sinkFailures.last = { atMs: Date.now(), message: String(err) };
              this.log(`falco-grpc-output receive: sink failed: ${String(err)}`);
              end({ code: grpc.status.UNAVAILABLE, details: `receiver sink failed: ${String(err)}` });
            }
            settle();
          },
        );
    });
    call.on('end', () => {
      if (stream.inHand === 0) end();
    });
    call.on('error', () => end()); // client went away
    call.on('cancelled', () => end());
  }

  /**
   * HTTP/2's default 64 KiB stream window lets a transmitter send only ~100 alerts per window
   * update; grpc-js has no server option for it, so the receiver raises it on each new
   * connection through the call's HTTP/2 session.
   */
  private widenFlowControl(call: grpc.ServerDuplexStream<Buffer, Buffer>): void {
    const session = http2SessionOf(call);
    if (!session) {
      if (!this.warnedNoSession) this.log('falco-grpc-output receive: cannot reach the HTTP/2 session to widen its flow-control window; throughput is limited');
      this.warnedNoSession = true;
      return;
    }
    if (this.widened.has(session)) return;
    this.widened.add(session);
    try {
      session.setLocalWindowSize(FLOW_CONTROL_WINDOW * 4);
      session.settings({ initialWindowSize: FLOW_CONTROL_WINDOW });
    } catch {
      // a session already closing: nothing to widen
    }
  }

  private async deliver(state: ProducerRecord, request: PublishEnvelope): Promise<number> {
    const { firstSeq } = request;
    if (state.mustResume && firstSeq > state.handledThrough + 1) {
      // Queued behind a run the sink refused: taking it would turn the refused alerts into a gap.
      throw new Error(`resend from #${state.handledThrough + 1}: the sink refused earlier alerts`);
    }
    const run = splitRun(state, firstSeq, this.minPriority < 7 ? this.severeEnough(request) : request.alerts);
    if (run.gap > 0) {
      this.counts.gaps += run.gap;
      state.counts.gaps += run.gap;
      this.log(`falco-grpc-output receive: producer ${request.producerId} skipped ${run.gap} sequence number(s) before #${firstSeq}`);
    }
    this.counts.duplicates += run.duplicates;
    state.counts.duplicates += run.duplicates;
    const fresh = run.fresh.filter((alert): alert is Buffer => alert !== null);
    this.counts.filtered += run.fresh.length - fresh.length;
    state.counts.filtered += run.fresh.length - fresh.length;
    if (fresh.length > 0) {
      try {
        await this.sink.write(fresh, request.producerId);
      } catch (err) {
        state.mustResume = true;
        throw err;
      }
      this.counts.accepted += fresh.length;
      state.counts.accepted += fresh.length;
      this.hub.publish(fresh);
      if (this.listeners.size > 0) this.notify(fresh);
    }
    state.mustResume = false;
    state.handledThrough = Math.max(state.handledThrough, firstSeq + request.alerts.length - 1);
    return state.handledThrough;
  }

  /** A listener that throws must not turn accepted alerts into a refused run. */
  private notify(alerts: readonly Buffer[]): void {
    for (const listener of this.listeners) {
      try {
        listener(alerts);
      } catch (err) {
        this.log(`falco-grpc-output receive: an alert listener failed: ${String(err)}`);
      }
    }
  }

  /**
   * The request's alerts with the less severe ones replaced by null: they keep their sequence
   * numbers (so they are acknowledged, never seen as gaps) but reach no sink or subscriber.
   */
  private severeEnough(request: PublishEnvelope): Array<Buffer | null> {
    return request.alerts.map((alert, i) => (request.priorities[i]! <= this.minPriority ? alert : null));
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.health.setStatus('', 'NOT_SERVING');
    this.health.setStatus(TRANSMITTER_SERVICE, 'NOT_SERVING');
    for (const addr of this.bound) this.server.unbind(addr);
    // Finish what each stream has in hand (its acks go out), then end it.
    for (const stream of [...this.streams]) {
      stream.call.pause();
      if (stream.inHand === 0) {
        stream.ended = true;
        this.streams.delete(stream);
        stream.disconnect();
        stream.call.end();
        stream.finish();
      }
    }
    // A sink that never finishes must not keep the receiver from stopping.
    const inHand = Promise.all([...this.streams].map((s) => s.done));
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = await Promise.race([
      inHand.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), SHUTDOWN_GRACE_MS))),
    ]);
    clearTimeout(timer);
    if (gaveUp) this.log(`falco-grpc-output receive: requests still in hand after ${SHUTDOWN_GRACE_MS} ms; stopping without their acks`);
    await this.sink.close?.();
    this.hub.closeAll();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    for (const path of this.unixPaths) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  }

  subscriberStats(): SubscriberStats[] {
    return this.hub.subscriberStats();
  }

  producerStats(limit = 1000): ProducerStats[] {
    return this.producers.snapshot(limit);
  }

  recentAlerts(): Buffer[] {
    return this.hub.recent();
  }

  sinkState(): SinkState {
    const { count, last } = this.sinkFailures;
    let sink: SinkStatus;
    try {
      sink = this.sink.status?.() ?? { kind: 'custom' };
    } catch (err) {
      sink = { kind: 'custom', statusFailed: String(err) }; // a reader must not fail with it
    }
    return { sink, failures: count, ...(last ? { lastFailure: { ...last } } : {}) };
  }

  onAlerts(listener: AlertListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  stats(): ReceiverStats {
    return { ...this.counts, activeStreams: this.streams.size, producers: this.producers.size, ...this.hub.stats() };
  }
}

/** The HTTP/2 session under a grpc-js server call (grpc-js keeps it in internal fields). */
function unixPath(addr: string): string {
  return addr.replace(/^unix:(\/\/)?/, '');
}

export function createReceiver(options: ReceiverOptions): Receiver {
  return new ReceiverImpl(options);
}

/** A priority name or number as Falco's enum value; the least severe (7, Debug) when absent. */
function resolveMinPriority(value: string | number | undefined): number {
  if (value === undefined) return 7;
  const n = typeof value === 'number' ? value : priorityFromName(value);
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 7) {
    throw new RangeError(`createReceiver: minPriority must be one of ${PRIORITY_NAMES.join(', ')} (or 0-7), got ${String(value)}`);
  }
  return n;
}
