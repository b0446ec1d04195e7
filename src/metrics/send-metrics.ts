// The metrics of a process that sends alerts: each output's counts (labelled by the output's
// name, so one scrape covers gRPC and classic outputs alike) and what `send` read.

import type { Registry } from 'prom-client';
import type { OutputStats, SpoolStats } from '../host/output.js';
import type { SendCounters } from '../input/counters.js';
import { addMirroredCounter, addMirroredGauge, METRIC_PREFIX, oncePerScrape, type Sample } from './registry.js';

/** An output as the metrics see it (every Output is one). */
export interface NamedStatsSource {
  readonly name: string;
  stats(): OutputStats;
}

type PerOutput = ReadonlyArray<readonly [name: string, help: string, pick: (s: OutputStats) => number]>;

const OUTPUT_COUNTERS: PerOutput = [
  ['alerts_emitted_total', 'Alerts handed to the output (emit() calls); emitted + replayed = acked + pending + dropped (pending is 0 once closed, except what a spool keeps).', (s) => s.emitted],
  ['alerts_replayed_total', "Alerts an earlier process left in the output's spool, sent by this one.", (s) => s.replayed ?? 0],
  ['alerts_acked_total', 'Alerts the receiver acknowledged (gRPC) or the channel delivered (classic outputs).', (s) => s.acked],
  ['alerts_sent_total', 'Alerts handed to the network or channel, resends included.', (s) => s.sent],
  ['alerts_resent_total', 'gRPC: alerts sent again after a reconnect.', (s) => s.resent],
  ['reconnects_total', 'gRPC reconnects; classic outputs: times the channel went from failing back to working.', (s) => s.reconnects],
  ['worker_restarts_total', "Times the output's worker thread died and was replaced (after 8 deaths in a row without progress it is not).", (s) => s.workerRestarts],
];

const OUTPUT_GAUGES: PerOutput = [
  ['alerts_pending', "Alerts in the output's ring or spool, not yet acknowledged or delivered.", (s) => s.pending],
  ['ring_used_bytes', "Bytes of the output's ring in use: pending alerts.", (s) => s.pendingBytes],
  ['ring_capacity_bytes', "Size of the output's ring; alerts are dropped (reason full) when it is used up.", (s) => s.bufferBytes],
  ['connected', '1 while the gRPC connection is ready, else 0.', (s) => (s.connection === 'ready' ? 1 : 0)],
];

/** Only for outputs with a spool. */
const SPOOL_GAUGES: ReadonlyArray<readonly [name: string, help: string, pick: (s: SpoolStats) => number]> = [
  ['spool_alerts', "Alerts in the output's spool, not yet acknowledged or delivered.", (s) => s.alerts],
  ['spool_bytes', "Bytes of the output's spool files; alerts are given up (reason spool_full) at spool_max_bytes.", (s) => s.bytes],
  ['spool_max_bytes', "The spool's maxBytes.", (s) => s.maxBytes],
  ['spool_oldest_unacked_age_seconds', 'How long ago the oldest alert not yet acknowledged was spooled; 0 when none is.', (s) => s.oldestUnackedAgeMs / 1000],
  ['spool_replay_alerts', 'Alerts an earlier process left in the spool, found at start.', (s) => s.replayTotal],
  ['spool_replay_done_alerts', 'Of the alerts found at start, those acknowledged or given up so far: replay progress.', (s) => s.replayDone],
];

export function registerOutputMetrics(registry: Registry, outputs: readonly NamedStatsSource[]): void {
  const reads = outputs.map((output) => ({ name: output.name, stats: oncePerScrape(() => output.stats()) }));
  const perOutput = (pick: (s: OutputStats) => number) => (): Sample[] => reads.map((o) => [{ output: o.name }, pick(o.stats())]);
  const labelNames = ['output'];
  for (const [name, help, pick] of OUTPUT_COUNTERS) {
    addMirroredCounter(registry, { name: METRIC_PREFIX + name, help, labelNames, samples: perOutput(pick) });
  }
  for (const [name, help, pick] of OUTPUT_GAUGES) {
    addMirroredGauge(registry, { name: METRIC_PREFIX + name, help, labelNames, samples: perOutput(pick) });
  }
  const perSpool = (pick: (s: SpoolStats) => number) => (): Sample[] =>
    reads.flatMap((o) => {
      const spool = o.stats().spool ?? null;
      return spool === null ? [] : [[{ output: o.name }, pick(spool)] as Sample];
    });
  for (const [name, help, pick] of SPOOL_GAUGES) {
    addMirroredGauge(registry, { name: METRIC_PREFIX + name, help, labelNames, samples: perSpool(pick) });
  }
  addMirroredCounter(registry, {
    name: `${METRIC_PREFIX}spool_disk_errors_total`,
    help: 'Failed reads and writes of spool files (the output keeps going; lastError says the last one).',
    labelNames,
    samples: perSpool((s) => s.diskErrors),
  });
  addMirroredCounter(registry, {
    name: `${METRIC_PREFIX}alerts_dropped_total`,
    help: 'Alerts dropped, by reason: full (ring had no room), too_large, invalid, rejected (by the receiver), failed (channel gave up), unacked_at_close (still unacknowledged when the output closed; with a spool, only those not on disk), spool_full, corrupt (damaged on disk).',
    labelNames: ['output', 'reason'],
    samples: () =>
      reads.flatMap((o) => {
        // The spool's reasons only where there is a spool.
        const entries = Object.entries(o.stats().drops).filter(([reason]) => (o.stats().spool ?? null) !== null || (reason !== 'spool_full' && reason !== 'corrupt'));
        return entries.map(([reason, n]): Sample => [{ output: o.name, reason }, n]);
      }),
  });
}

/** What `send` read: lines or HTTP requests, the malformed among them, and the HTTP answers. */
export function registerInputMetrics(registry: Registry, counters: SendCounters): void {
  const prefix = `${METRIC_PREFIX}send_`;
  addMirroredCounter(registry, {
    name: `${prefix}inputs_read_total`,
    help: 'Alert lines (blank lines aside) or HTTP requests read.',
    samples: () => [[{}, counters.read]],
  });
  addMirroredCounter(registry, {
    name: `${prefix}inputs_malformed_total`,
    help: 'Inputs refused as not a valid Falco JSON alert (over HTTP: every 4xx answer).',
    samples: () => [[{}, counters.malformed]],
  });
  addMirroredCounter(registry, {
    name: `${prefix}http_responses_total`,
    help: 'Answers to http_output POSTs by status: 204 accepted, 4xx refused, 503 dropped for a full ring.',
    labelNames: ['code'],
    samples: () => Object.entries(counters.httpResponses).map(([code, n]): Sample => [{ code }, n]),
  });
  addMirroredCounter(registry, {
    name: `${prefix}http_refused_connections_total`,
    help: 'http_output connections closed on arrival because --http-max-connections were open.',
    samples: () => [[{}, counters.refusedConnections]],
  });
}
