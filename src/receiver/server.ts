// The receiver's server: the gRPC server and its listeners (TCP with mTLS, unix sockets), the
// health and reflection services, and shutdown. Each Publish call becomes a PublishStream that
// feeds ingest; Falco's subscription API is served by the SubscriptionHub.

import type { Http2Session } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation, protoPath as HEALTH_PROTO } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { fileURLToPath } from 'node:url';
import { loadTls } from '../tls/pem.js';
import { stderrLog, type LogFn } from '../common/log.js';
import { PRIORITY_NAMES, priorityFromName } from '../codec/alert.js';
import { JsonLinesSink } from './sinks.js';
import { Ingest } from './ingest.js';
import { PublishStream, type PublishCall, type StreamContext } from './publish-stream.js';
import { http2SessionOf } from './grpc-internals.js';
import { RateLimitedLog } from '../common/rate-limited-log.js';
import { Listeners, type ConnectionLimits } from './listeners.js';
import { defaultMaxConnections } from './fd-limit.js';
import { SubscriptionHub, type SubscriberStats } from './subscriptions.js';
import { BusRelay } from './bus-relay.js';
import type { AlertListener } from './ingest.js';
import type { ProducerStats } from './producers.js';
import type { Sink, SinkStatus } from './sinks.js';
import type { Receiver, ReceiverOptions, ReceiverStats, SinkState } from './receiver.js';

export const PROTO_DIR = fileURLToPath(new URL('../../../proto', import.meta.url));
const PROTO_FILES = ['falco/transmit/v1/transmit.proto', 'falco/outputs/outputs.proto', 'falco/version/version.proto'];
const TRANSMITTER_SERVICE = 'falco.transmit.v1.Transmitter';
/** Per-stream HTTP/2 receive window the receiver grants (the default is 64 KiB). */
const FLOW_CONTROL_WINDOW = 4 * 1024 * 1024;
/** With a bus: connections are asked to go after this long, so streams spread over replicas again. */
const DEFAULT_MAX_CONNECTION_AGE_MS = 5 * 60_000;
/** How long a connection asked to go may finish its calls. */
const MAX_CONNECTION_AGE_GRACE_MS = 30_000;
/** Connections without any call are closed after this long. */
const IDLE_CONNECTION_MS = 5 * 60 * 1000;
/** How long close() waits for the sink to finish the requests in hand. */
const SHUTDOWN_GRACE_MS = 10_000;
/** How long close() lets closed HTTP/2 sessions flush their last acks before destroying their sockets. */
const SHUTDOWN_FLUSH_MS = 2000;

export class ReceiverServer implements Receiver {
  private readonly server: grpc.Server;
  private readonly ingest: Ingest;
  private readonly streams = new Set<PublishStream>();
  private readonly health = new HealthImplementation({ '': 'SERVING', [TRANSMITTER_SERVICE]: 'SERVING' });
  private readonly log: LogFn;
  private readonly logLimited: RateLimitedLog;
  private readonly counts = { requests: 0, rejectedStreams: 0 };
  private bound: string[] = [];
  private started = false;
  private listeners: Listeners | null = null;
  private readonly limits: ConnectionLimits;
  private stopping = false;
  private readonly widened = new WeakSet<Http2Session>();
  private readonly hub: SubscriptionHub;
  private readonly sink: Sink;
  private warnedNoSession = false;
  private closed: Promise<void> | null = null;
  private readonly streamContext: StreamContext;
  private readonly relay: BusRelay | null = null;

  constructor(private readonly opts: ReceiverOptions) {
    if (!opts.listen || opts.listen.length === 0) throw new TypeError('createReceiver: listen needs at least one address');
    for (const addr of opts.listen) {
      if (!addr.startsWith('unix:') && !opts.tls && !opts.insecure) {
        throw new Error(`createReceiver: ${addr} is a TCP address: give tls { cert, key, ca } for mTLS, or insecure: true`);
      }
    }
    this.log = opts.log ?? stderrLog;
    this.logLimited = new RateLimitedLog(this.log);
    this.limits = resolveLimits(opts.connections);
    if (opts.maxProducers !== undefined && (!Number.isInteger(opts.maxProducers) || opts.maxProducers < 1)) {
      throw new RangeError(`createReceiver: maxProducers must be a whole number >= 1, got ${String(opts.maxProducers)}`);
    }
    const minPriority = resolveMinPriority(opts.minPriority);
    const subscriptions = { log: (line: string) => this.logLimited.say('subscriber-refused', line), ...(opts.subscriptions || {}) };
    if (opts.nats && opts.sink) throw new TypeError('createReceiver: nats and sink do not go together: with nats, the stream is the sink');
    // With a bus, `get` reads the stream's retained alerts (as many as the hub's history) instead of the hub's own log.
    this.hub = new SubscriptionHub(subscriptions, opts.nats ? () => this.relay!.recent() : undefined);
    if (opts.nats) {
      const relay = new BusRelay(opts.nats, minPriority, this.hub.historyAlerts, this.log);
      this.relay = relay;
      if (opts.subscriptions !== false) relay.follow(this.hub);
      relay.link.onState((state) => this.setHealth(state === 'ready' && !this.stopping));
      this.setHealth(false);
    }
    this.sink = this.relay?.sink ?? opts.sink ?? new JsonLinesSink();
    this.ingest = new Ingest({
      sink: this.sink,
      // With a bus, subscribers read the stream; and the bus takes every alert, minPriority picking what they get.
      followers: this.relay || opts.subscriptions === false ? [] : [this.hub],
      minPriority: this.relay ? 7 : minPriority,
      log: this.log,
      sinkState: (error) => this.sinkChanged(error),
      maxProducers: opts.maxProducers,
    });
    this.streamContext = {
      ingest: this.ingest,
      log: this.log,
      counts: this.counts,
      stopping: () => this.stopping,
      ended: (stream) => this.streams.delete(stream),
    };
    const maxAge = opts.maxConnectionAgeMs ?? (opts.nats ? DEFAULT_MAX_CONNECTION_AGE_MS : undefined);
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': opts.maxMessageBytes ?? 16 * 1024 * 1024,
      'grpc.keepalive_permit_without_calls': 1,
      // A connection with no call for this long is closed (GOAWAY); transmitters and subscribers keep a call open.
      'grpc.max_connection_idle_ms': IDLE_CONNECTION_MS,
      'grpc.http2.min_ping_interval_without_data_ms': 5000,
      ...(maxAge !== undefined && { 'grpc.max_connection_age_ms': maxAge, 'grpc.max_connection_age_grace_ms': MAX_CONNECTION_AGE_GRACE_MS }),
    });
    this.server.addService(
      {
        Publish: {
          path: `/${TRANSMITTER_SERVICE}/Publish`,
          requestStream: true,
          responseStream: true,
          // Raw bytes in: decoding happens in the stream so a malformed message gets a clear status.
          requestDeserialize: (bytes: Buffer) => bytes,
          requestSerialize: (bytes: Buffer) => bytes,
          responseSerialize: (bytes: Buffer) => bytes,
          responseDeserialize: (bytes: Buffer) => bytes,
        },
      },
      { Publish: (call: PublishCall) => this.publish(call) },
    );
    this.hub.addToServer(this.server, { outputs: opts.subscriptions !== false });
    this.health.addToServer(this.server);
    const definition = protoLoader.loadSync([...PROTO_FILES, HEALTH_PROTO], { includeDirs: [PROTO_DIR], keepCase: true });
    new ReflectionService(definition).addToServer(this.server);
  }

  private setHealth(serving: boolean): void {
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', status);
    this.health.setStatus(TRANSMITTER_SERVICE, status);
  }

  async start(): Promise<string[]> {
    if (this.started) throw new Error('createReceiver: start() was already called');
    this.started = true;
    // A bus that refuses us (credentials, a conflicting stream) stops the receiver before it listens.
    await this.relay?.start();
    const credentials = this.opts.tls ? loadTls(this.opts.tls) : null;
    // Connections reach grpc-js already through TLS (done by Listeners), so its side is plaintext HTTP/2.
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.listeners = new Listeners(this.limits, credentials, injector, this.logLimited);
    try {
      for (const addr of this.opts.listen) {
        const isUnix = addr.startsWith('unix:');
        this.bound.push(await this.listeners.listen(addr, !isUnix && credentials !== null));
      }
    } catch (err) {
      this.listeners.destroy();
      throw err;
    }
    return [...this.bound];
  }

  private publish(call: PublishCall): void {
    if (this.stopping) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'receiver is shutting down' });
      return;
    }
    if (this.relay && this.relay.link.state !== 'ready') {
      // Nothing could be acked: the producer keeps its alerts and tries again, here or elsewhere.
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: `receiver's bus is not ready: ${this.relay.link.stateReason}` });
      return;
    }
    this.widenFlowControl(call);
    this.streams.add(new PublishStream(call, this.streamContext));
  }

  /**
   * HTTP/2's default 64 KiB stream window lets a transmitter send only ~100 alerts per window
   * update; grpc-js has no server option for it, so the receiver raises it on each new
   * connection through the call's HTTP/2 session.
   */
  private widenFlowControl(call: PublishCall): void {
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

  /**
   * A failing sink is reported once per change (rate-limited should it flap) and turns health
   * NOT_SERVING: nothing is acked until a write succeeds again.
   */
  private sinkChanged(error: string | null): void {
    if (this.stopping) return;
    const status = error === null ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', status);
    this.health.setStatus(TRANSMITTER_SERVICE, status);
    this.logLimited.say(
      error === null ? 'sink-ok' : 'sink-failed',
      error === null
        ? 'falco-grpc-output receive: sink writing again; acknowledging'
        : `falco-grpc-output receive: sink failed: ${error}; nothing is acknowledged until a write succeeds (producers keep their alerts and retry)`,
    );
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.setHealth(false);
    for (const addr of this.bound) this.server.unbind(addr);
    // Finish what each stream has in hand (its acks go out), then end it.
    const inHand = Promise.all([...this.streams].map((s) => s.done));
    for (const stream of [...this.streams]) stream.drain();
    // A sink that never finishes must not keep the receiver from stopping.
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = await Promise.race([
      inHand.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), SHUTDOWN_GRACE_MS))),
    ]);
    clearTimeout(timer);
    if (gaveUp) this.log(`falco-grpc-output receive: requests still in hand after ${SHUTDOWN_GRACE_MS} ms; stopping without their acks`);
    await this.ingest.close();
    await this.relay?.close();
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
    await this.listeners?.settled(SHUTDOWN_FLUSH_MS);
    this.listeners?.destroy();
  }

  subscriberStats(): SubscriberStats[] {
    return this.hub.subscriberStats();
  }

  producerStats(limit = 1000): ProducerStats[] {
    return this.ingest.producerStats(limit);
  }

  recentAlerts(limit?: number): Buffer[] {
    return this.opts.subscriptions === false ? [] : this.hub.recent(limit);
  }

  sinkState(): SinkState {
    let sink: SinkStatus;
    try {
      sink = this.sink.status?.() ?? { kind: 'custom' };
    } catch (err) {
      sink = { kind: 'custom', statusFailed: String(err) }; // a reader must not fail with it
    }
    const last = this.ingest.lastSinkFailure;
    return { sink, failures: this.ingest.counts.sinkFailures, ...(last ? { lastFailure: { ...last } } : {}) };
  }

  onAlerts(listener: AlertListener): () => void {
    return this.ingest.onAlerts(listener);
  }

  stats(): ReceiverStats {
    return {
      ...this.ingest.counts,
      ...this.counts,
      activeStreams: this.streams.size,
      connections: this.listeners?.open ?? 0,
      refusedConnections: this.listeners?.counts.refusedConnections ?? 0,
      failedHandshakes: this.listeners?.counts.failedHandshakes ?? 0,
      notHttp2: this.listeners?.counts.notHttp2 ?? 0,
      producers: this.ingest.producerCount,
      evictedProducers: this.ingest.evictedProducers,
      sinkError: this.ingest.sinkError,
      ...this.hub.stats(),
      ...(this.relay && {
        bus: { stream: this.relay.link.stream, state: this.relay.link.state, reason: this.relay.link.stateReason, outstanding: this.relay.link.publisher?.outstanding ?? 0 },
      }),
    };
  }
}

export const CONNECTION_DEFAULTS = {
  maxConnectionsPerPeer: 64,
  handshakeTimeoutMs: 10_000,
  firstFrameTimeoutMs: 10_000,
} as const;

function resolveLimits(given: Partial<ConnectionLimits> = {}): ConnectionLimits {
  const limits: ConnectionLimits = {
    maxConnections: given.maxConnections ?? defaultMaxConnections(),
    maxConnectionsPerPeer: given.maxConnectionsPerPeer ?? CONNECTION_DEFAULTS.maxConnectionsPerPeer,
    handshakeTimeoutMs: given.handshakeTimeoutMs ?? CONNECTION_DEFAULTS.handshakeTimeoutMs,
    firstFrameTimeoutMs: given.firstFrameTimeoutMs ?? CONNECTION_DEFAULTS.firstFrameTimeoutMs,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`createReceiver: connections.${name} must be a whole number >= 1, got ${String(value)}`);
  }
  return limits;
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
