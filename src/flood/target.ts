// What a flood drives: this project's transmitter, or (in the benchmark) another way of
// sending the same alerts, so every peer is measured by the same loop.

import type { AlertInput } from '../codec/alert.js';
import type { TlsOptions } from '../tls/pem.js';

export interface FloodProgress {
  /** Alerts the receiver acknowledged, as far as the sender knows; null when it cannot know. */
  acked: number | null;
  /** Highest sequence number acknowledged (1-based, in emit order), for delivery latency; null if unknown. */
  ackedSeq: number | null;
  dropped: number;
  drops: { full: number; too_large: number; invalid: number; rejected: number; unacked_at_close?: number };
  /** Bytes buffered and not yet acknowledged, and the buffer's bound (0 when unbounded). */
  pendingBytes: number;
  capacityBytes: number;
  resent: number;
  reconnects: number;
}

export interface FloodTarget {
  /** Sends one alert; false when it was dropped. Must not throw for valid alerts. */
  emit(alert: AlertInput): boolean;
  progress(): FloodProgress;
  /** Waits until everything emitted is acknowledged (or sent, for peers without acks); true if it got there. */
  flush(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Where the receiver is, and how to reach it. */
export interface FloodConnection {
  target: string;
  tls?: TlsOptions;
  insecure?: boolean;
}

export type FloodTargetFactory = (connection: FloodConnection) => FloodTarget | Promise<FloodTarget>;

/** The progress of a peer that cannot see acks: what it dropped (counted as `full`) and nothing else. */
export function progressWithoutAcks(dropped = 0): FloodProgress {
  return {
    acked: null,
    ackedSeq: null,
    dropped,
    drops: { full: dropped, too_large: 0, invalid: 0, rejected: 0 },
    pendingBytes: 0,
    capacityBytes: 0,
    resent: 0,
    reconnects: 0,
  };
}
