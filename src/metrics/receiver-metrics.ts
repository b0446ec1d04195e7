// The receiver's metrics: what producers sent it, and how its subscribers keep up.

import type { Registry } from 'prom-client';
import type { ReceiverStats } from '../receiver/receiver.js';
import type { SubscriberStats } from '../receiver/subscriptions.js';
import { addMirroredCounter, addMirroredGauge, METRIC_PREFIX, oncePerScrape, type Sample } from './registry.js';

/** What the metrics read from a receiver (a Receiver is one). */
export interface ReceiverStatsSource {
  stats(): ReceiverStats;
  subscriberStats(): SubscriberStats[];
}

/** The numeric counts of ReceiverStats. */
type Count = { [K in keyof ReceiverStats]-?: ReceiverStats[K] extends number ? K : never }[keyof ReceiverStats];

const PREFIX = `${METRIC_PREFIX}receiver_`;

const COUNTERS: ReadonlyArray<readonly [name: string, help: string, count: Count]> = [
  ['alerts_accepted_total', 'Alerts the sink accepted (written, or counted with --discard).', 'accepted'],
  ['alerts_filtered_total', 'Alerts acknowledged but not passed on: less severe than --min-priority.', 'filtered'],
  ['alerts_duplicates_skipped_total', 'Alerts skipped because they were already handled (resent after a reconnect).', 'duplicates'],
  ['alerts_missing_total', 'Sequence numbers a producer skipped: alerts that will never arrive.', 'gaps'],
  ['publish_requests_total', 'PublishRequests received.', 'requests'],
  ['rejected_streams_total', 'Publish streams ended because of a malformed or invalid message.', 'rejectedStreams'],
  ['sink_failures_total', 'Sink writes that failed (ENOSPC, ...): their alerts were not acknowledged and are resent.', 'sinkFailures'],
  ['connections_refused_total', 'Connections refused for a limit (--max-connections, its unauthenticated half, --max-connections-per-peer).', 'refusedConnections'],
  ['tls_handshakes_failed_total', 'TLS handshakes that failed or timed out (no certificate, another CA, not TLS).', 'failedHandshakes'],
  ['connections_not_http2_total', 'Connections closed for not opening with HTTP/2 within --first-frame-timeout.', 'notHttp2'],
  ['producers_evicted_total', 'Producers forgotten because the table was full (--max-producers), least recently seen first.', 'evictedProducers'],
  ['subscribers_refused_total', 'Subscription streams refused because --max-subscribers were open.', 'refusedSubscribers'],
  ['subscriber_alerts_dropped_total', "Alerts dropped from subscribers' queues (oldest first), every subscriber so far.", 'subscriberDrops'],
];

const GAUGES: ReadonlyArray<readonly [name: string, help: string, count: Count]> = [
  ['streams', 'Publish streams open now.', 'activeStreams'],
  ['connections', 'Connections open now, over every listener.', 'connections'],
  ['producers', 'Producers (transmitters) the receiver keeps sequence state for.', 'producers'],
  ['subscribers', "Clients subscribed now through Falco's subscription API (falco.outputs.service/sub).", 'subscribers'],
];

export function registerReceiverMetrics(registry: Registry, receiver: ReceiverStatsSource): void {
  const stats = oncePerScrape(() => receiver.stats());
  addMirroredGauge(registry, { name: `${PREFIX}sink_failing`, help: 'Whether the sink is failing now (1): nothing is acknowledged until a write succeeds.', samples: () => [[{}, stats().sinkError === null ? 0 : 1]] });
  const subscribers = oncePerScrape(() => receiver.subscriberStats());
  for (const [name, help, count] of COUNTERS) {
    addMirroredCounter(registry, { name: PREFIX + name, help, samples: () => [[{}, stats()[count]]] });
  }
  for (const [name, help, count] of GAUGES) {
    addMirroredGauge(registry, { name: PREFIX + name, help, samples: () => [[{}, stats()[count]]] });
  }
  // With --nats only (no samples without a bus): a receiver whose bus is not ready acks nothing.
  const bus = (pick: (b: NonNullable<ReceiverStats['bus']>) => number) => (): Sample[] => {
    const b = stats().bus;
    return b ? [[{ stream: b.stream }, pick(b)]] : [];
  };
  const labelNames = ['stream'];
  addMirroredGauge(registry, { name: `${PREFIX}bus_ready`, help: 'With --nats: 1 while alerts can be made durable on the bus, else 0.', labelNames, samples: bus((b) => (b.state === 'ready' ? 1 : 0)) });
  addMirroredGauge(registry, { name: `${PREFIX}bus_publishes_outstanding`, help: 'With --nats: alerts published and waiting for their PubAck.', labelNames, samples: bus((b) => b.outstanding) });
  const perPeer = (pick: (s: SubscriberStats) => number) => (): Sample[] => subscribers().map((s) => [{ peer: s.peer }, pick(s)]);
  const peerLabel = ['peer'];
  addMirroredGauge(registry, {
    name: `${PREFIX}subscription_queued_alerts`,
    help: "Alerts waiting in a current subscriber's own queue.",
    labelNames: peerLabel,
    samples: perPeer((s) => s.queued),
  });
  addMirroredCounter(registry, {
    name: `${PREFIX}subscription_alerts_sent_total`,
    help: 'Alerts written to a current subscriber.',
    labelNames: peerLabel,
    samples: perPeer((s) => s.sent),
  });
  addMirroredCounter(registry, {
    name: `${PREFIX}subscription_alerts_dropped_total`,
    help: 'Alerts a current subscriber lost because it fell more than --subscriber-queue behind.',
    labelNames: peerLabel,
    samples: perPeer((s) => s.dropped),
  });
}
