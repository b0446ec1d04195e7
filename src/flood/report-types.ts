// The shape of a flood's results: what `flood --json` prints, what `npm run bench` compares,
// and what the HTML report draws.

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** One sample per interval (default 250 ms) while the flood runs and flushes. */
export interface FloodSeries {
  /** Seconds since the flood started, at the end of each interval. */
  tSec: number[];
  /** Alerts emit() accepted, per second, over the interval. */
  emittedPerSec: number[];
  /** Alerts acknowledged by the receiver, per second, over the interval. */
  ackedPerSec: number[];
  /** Alerts dropped (any reason), per second, over the interval. */
  droppedPerSec: number[];
  /** Fraction of the transmitter's buffer in use at the sample, 0..1 (0 for peers without one). */
  ringFill: number[];
  /** Resident set size of the flooding process at the sample, MB. */
  rssMB: number[];
  /** emit() p99 over the interval, microseconds. */
  emitP99Us: number[];
}

export interface FloodReport {
  /** Which transmitter produced this ("falco-grpc-output", "grpc-js main thread", "pino transport"). */
  peer: string;
  /** Scenario label, e.g. "max rate", "20k/s, receiver stalled 5 s". */
  scenario: string;
  emitted: number;
  acked: number;
  dropped: number;
  /** By reason; unacked_at_close: accepted, but not acknowledged when the flood closed the transmitter. */
  drops: { full: number; too_large: number; invalid: number; rejected: number; unacked_at_close?: number };
  durationSec: number;
  throughputPerSec: number;
  emitUs: Percentiles;
  /** How late the main thread's timers fired (monitorEventLoopDelay, its 10 ms interval taken out), ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /**
   * Main-thread CPU from the first emit to the end of the final flush, per alert emitted,
   * minus the flood loop's own cost (floodLoopCpuUsPerAlert), microseconds.
   */
  mainCpuUsPerAlert: number;
  /** The flood loop's own main-thread CPU per alert (making and timing it), measured with a no-op emit. */
  floodLoopCpuUsPerAlert: number;
  /**
   * The flooding process's CPU, every thread (the transmitter's worker included; the receiver is
   * another process), over the same span, per alert, minus the flood loop's cost: what the host pays.
   */
  processCpuUsPerAlert: number;
  /** emit() to acknowledgement, milliseconds (sampled alerts); NaN (null in JSON) when the peer cannot see acks. */
  deliveryMs: { p50: number; p99: number };
  rssMaxMB: number;
  resent: number;
  reconnects: number;
  /** The transmitter's buffer (ring) size in bytes; 0 for peers without one. */
  bufferBytes?: number;
  /** True when every accepted alert was acknowledged before the flood ended. */
  flushed: boolean;
  /** The emit() latency distribution: [percentile 0..100, microseconds], ascending. */
  emitDistribution: Array<[number, number]>;
  series: FloodSeries;
}
