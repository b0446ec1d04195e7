// The one interface every output implements, gRPC and classic alike: emit() is cheap and never
// does I/O; flush/close are bounded; stats() counts every alert: emitted = acked + pending + dropped.

import type { AlertInput } from '../codec/alert.js';
import type { ConnectionState } from '../ring/ring.js';
import type { LogFn } from '../common/log.js';
import type { SpoolOptions } from '../spool/options.js';

export interface DropCounts {
  /** The output's ring had no room (its channel is slow, stalled or down). */
  full: number;
  /** The alert encoded to more than maxAlertBytes. */
  too_large: number;
  /** emit() threw a TypeError for it. */
  invalid: number;
  /** gRPC: the receiver refused it on its own (for example, over its message size limit). */
  rejected: number;
  /** Classic outputs: the channel gave up on it after its own retries (lastError says why). */
  failed: number;
  /** Spool: it was full (maxBytes) and whenFull gave this alert up. */
  spool_full: number;
  /** Spool: the alert was damaged on disk (bad checksum, truncated or unreadable segment). */
  corrupt: number;
  /**
   * Still waiting for its ack or delivery when close() gave up on it (the destination was down or
   * slow). With a spool, alerts already on disk are not counted here: they stay pending in the
   * spool for the next process (close() says so); only those that never reached it are.
   */
  unacked_at_close: number;
}

/** An output's spool (null without one). */
export interface SpoolStats {
  dir: string;
  /** 'open'; 'opening' before the worker opened it; 'failed' when it could not be (lastError says why; the ring alone carries on). */
  state: 'opening' | 'open' | 'failed';
  /** Alerts in the spool, not yet acknowledged. */
  alerts: number;
  /** Bytes of the spool's segment files. */
  bytes: number;
  maxBytes: number;
  /** How long ago the oldest unacknowledged alert was spooled, in ms; 0 when none is. */
  oldestUnackedAgeMs: number;
  /** Alerts found unacknowledged in the spool at start (stats().replayed), and how many of them are settled. */
  replayTotal: number;
  replayDone: number;
  /** Failed reads and writes of spool files (lastError says the last one). */
  diskErrors: number;
}

export interface OutputStats {
  /** Every emit() call: emitted + replayed = acked + pending + dropped (after close() without a spool, pending is 0). */
  emitted: number;
  /** Alerts an earlier process left in the spool, sent by this one (0 without a spool). */
  replayed: number;
  /** Acknowledged by the receiver (gRPC) or delivered by the channel (classic outputs). */
  acked: number;
  /** Not yet acknowledged or delivered: in the ring, or in the spool. */
  pending: number;
  pendingBytes: number;
  /** Sum of `drops`. */
  dropped: number;
  drops: DropCounts;
  /** Alerts handed to the network or channel, resends included. */
  sent: number;
  /** gRPC: alerts sent again after a reconnect. */
  resent: number;
  /** gRPC reconnects; classic outputs: times the channel went from failing back to working. */
  reconnects: number;
  /** Times the worker thread died and was replaced; after 8 deaths in a row without progress it is not, and lastError says why. */
  workerRestarts: number;
  connection: ConnectionState;
  /** The last failure (gRPC status and details, or the channel's error), or null if none. */
  lastError: string | null;
  /** Ring capacity in bytes. */
  bufferBytes: number;
  spool: SpoolStats | null;
}

export interface FlushResult {
  /** True when everything emitted before the call was acknowledged. */
  flushed: boolean;
  /** Alerts still waiting for an ack when the call returned. */
  pending: number;
}

export interface Output {
  /** What it writes to, for messages and metrics: "grpc localhost:50051", "file /var/log/falco.json". */
  readonly name: string;
  /** Queues one alert; false when it was dropped (counted in stats().drops). Never does I/O. */
  emit(alert: AlertInput): boolean;
  /** Resolves when alerts emitted before the call are acknowledged, or at the timeout. */
  flush(timeoutMs?: number): Promise<FlushResult>;
  /** Flushes, ends the channel, stops the worker. Idempotent. */
  close(timeoutMs?: number): Promise<FlushResult>;
  stats(): OutputStats;
}

/** Options every output shares: its own ring, and what emit() does when the ring is full. */
export interface QueueOptions {
  /** Ring size in bytes (rounded up to a power of two). Default 8 MiB. */
  bufferBytes?: number;
  /** Largest encoded alert; larger ones are dropped as `too_large`. Default 1 MiB (and at most half the ring). */
  maxAlertBytes?: number;
  /** What emit() does when the ring is full. Default 'drop'; 'block' is for batch tools only. */
  onFull?: 'drop' | 'block';
  /** With onFull 'block': how long emit() may block the calling thread. Default 5000 ms. */
  blockTimeoutMs?: number;
  /** How long the process-exit hook waits for pending alerts. Default 2000 ms. */
  exitFlushMs?: number;
  /** Where the output's lines go (a worker that failed, alerts lost at close). Default: stderr. */
  log?: LogFn;
  /** A directory where alerts wait on disk for the destination, across outages and restarts (docs/spool.md). */
  spool?: SpoolOptions;
}
