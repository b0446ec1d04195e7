// createReceiver(): serves Transmitter/Publish (plus health and reflection) on TCP with mTLS
// or on unix sockets, hands each producer's alerts to the sink in order and exactly once,
// and acknowledges what the sink made durable. The parts: server.ts (listeners, TLS, health,
// shutdown), publish-stream.ts (one Publish stream: window, acks), ingest.ts (dedupe and order
// per producer, min-priority, sink and followers), subscriptions.ts (Falco's subscription API),
// bus-relay.ts (with `nats`: the JetStream sink, and subscribers fed from the stream).

import type { TlsOptions } from '../tls/pem.js';
import type { LogFn } from '../common/log.js';
import type { BusOptions, BusState } from '../bus/link.js';
import type { Sink, SinkStatus } from './sinks.js';
import type { SubscriberStats, SubscriptionOptions } from './subscriptions.js';
import type { ProducerStats } from './producers.js';
import type { AlertListener } from './ingest.js';
import type { ConnectionLimits } from './listeners.js';
import { ReceiverServer } from './server.js';

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
  /**
   * Producers without an open stream whose sequence state is kept; beyond, the least recently
   * seen is forgotten. Producers an open stream publishes for are always kept. Default 100,000.
   */
  maxProducers?: number;
  /**
   * Connection limits: maxConnections (default ~80% of the open-file soft limit, at most
   * 10,000), maxConnectionsPerPeer (64, per remote address), handshakeTimeoutMs and
   * firstFrameTimeoutMs (10 s each). Connections still in their handshake or before their first
   * HTTP/2 frame may take at most half of maxConnections.
   */
  connections?: Partial<ConnectionLimits>;
  /** Where to report protocol problems. Default stderr. */
  log?: LogFn;
  /**
   * Scale-out: a stateless relay on NATS JetStream. Every fresh alert is published to the
   * stream and acknowledged to its producer only once JetStream stored it; `sub` and `get` are
   * served from the stream (minPriority then picks subjects for them; the bus gets everything).
   * Not with `sink`. Health is NOT_SERVING, and Publish refused, while the bus is not ready.
   */
  nats?: BusOptions;
  /**
   * Connections older than this are asked to go (GOAWAY) and closed 30 s later, so long-lived
   * Publish streams spread again over replicas that came back. Default 5 minutes with `nats`,
   * never without.
   */
  maxConnectionAgeMs?: number;
}

export interface ReceiverStats {
  /** Alerts the sink made durable. */
  accepted: number;
  /** Alerts acknowledged but not passed on, being less severe than minPriority. */
  filtered: number;
  /** Alerts skipped because they were already handled (resends). */
  duplicates: number;
  /** Sequence numbers that never arrived (a producer skipped them). */
  gaps: number;
  /** Sink writes that failed (each withheld its ack; the producer resends). */
  sinkFailures: number;
  /** Why the sink is failing now, or null while it writes. */
  sinkError: string | null;
  /** PublishRequests received. */
  requests: number;
  /** Streams ended because of a malformed or invalid message. */
  rejectedStreams: number;
  activeStreams: number;
  /** Connections open now (every listener). */
  connections: number;
  /** Connections refused for a limit: total, unauthenticated (half the total), per peer. */
  refusedConnections: number;
  /** TLS handshakes that failed or timed out. */
  failedHandshakes: number;
  /** Connections closed for not opening with HTTP/2 in time. */
  notHttp2: number;
  producers: number;
  /** Producers forgotten because the table was full (--max-producers), least recently seen first. */
  evictedProducers: number;
  /** Clients subscribed through falco.outputs.service/sub. */
  subscribers: number;
  /** Alerts dropped from subscribers' own queues (a slow subscriber loses its oldest). */
  subscriberDrops: number;
  /** With `nats`: whether alerts can be made durable now, and publishes waiting for their PubAck. */
  bus?: { stream: string; state: BusState; reason: string; outstanding: number };
  /** Subscription streams (sub, get) refused because --max-subscribers were open. */
  refusedSubscribers: number;
}

export interface Receiver extends ReceiverView {
  /** Binds every listener; resolves with the bound addresses (a `:0` port resolved). */
  start(): Promise<string[]>;
  /** Stops accepting, finishes and acks what is in hand, flushes the sink. Idempotent. */
  close(): Promise<void>;
}

// --- read-only view, for the web console (src/console) and metrics -------------------------

export type { AlertListener } from './ingest.js';
export type { ProducerStats } from './producers.js';
export type { SinkStatus } from './sinks.js';

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
  /**
   * Copies of the newest alerts kept for `get` (at most `limit`), oldest first; the last one is
   * the stats().accepted-th alert. Empty without the subscription API.
   */
  recentAlerts(limit?: number): Buffer[];
  sinkState(): SinkState;
  /** Adds a listener of each durable run; returns the function that removes it. With none, alerts cost nothing extra. */
  onAlerts(listener: AlertListener): () => void;
}

export function createReceiver(options: ReceiverOptions): Receiver {
  return new ReceiverServer(options);
}
