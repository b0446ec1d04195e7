// The console's picture of the receiver, as one JSON-ready object: counters, counts by priority
// and rule, drops by reason, alerts per second, producers, subscribers and the sink. Sent to each
// page once a second and served at /api/state. Lists are capped so a receiver with thousands of
// producers still sends a bounded state.

import type { ReceiverView } from '../receiver/receiver.js';
import type { AlertFeed } from './feed.js';

/** Rows of the producer and subscriber tables, and bars of the top-rules chart. */
export const STATE_LIMITS = { producers: 200, subscribers: 200, rules: 10 } as const;

export interface StateSource {
  view: ReceiverView;
  feed: AlertFeed;
  instance: string;
  version: string;
  startedAtMs: number;
  /** The receiver's gRPC addresses, as the page shows them. */
  addresses: readonly string[];
}

export function consoleState(src: StateSource) {
  const { view, feed } = src;
  const stats = view.stats();
  const subscribers = view.subscriberStats();
  return {
    instance: src.instance,
    version: src.version,
    startedAtMs: src.startedAtMs,
    nowMs: Date.now(),
    addresses: src.addresses,
    stats,
    byPriority: feed.byPriority,
    topRules: feed.topRules(STATE_LIMITS.rules),
    rulesCounted: feed.rulesCounted,
    // Why alerts did not go everywhere: each reason is a different promise broken (or kept).
    drops: [
      { reason: 'missing', count: stats.gaps, about: 'sequence numbers a producer skipped: lost before the receiver' },
      { reason: 'filtered', count: stats.filtered, about: 'less severe than --min-priority: acknowledged, not passed on' },
      { reason: 'subscriber queues', count: stats.subscriberDrops, about: "oldest alerts dropped from slow subscribers' own queues" },
      { reason: 'duplicates', count: stats.duplicates, about: 'resent alerts already handled: skipped, not lost' },
    ],
    rate: feed.rateSeries(),
    producers: view.producerStats(STATE_LIMITS.producers),
    subscribers: subscribers.slice(0, STATE_LIMITS.subscribers),
    sink: view.sinkState(),
  };
}

export type ConsoleState = ReturnType<typeof consoleState>;
