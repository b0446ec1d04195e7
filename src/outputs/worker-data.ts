// What an output's worker thread is started with: the ring, and which kind of sink drains it.
// Plain data, cloned across threads.

import type { SenderConfig } from '../transmitter/options.js';
import type { ChannelConfig } from './channels/index.js';
import type { FormatOptions } from './types.js';

export type OutputWorkerData =
  | { buffer: SharedArrayBuffer; kind: 'grpc'; config: SenderConfig }
  | { buffer: SharedArrayBuffer; kind: 'channel'; channel: ChannelConfig; format: FormatOptions; batchAlerts: number };

/** Tasks the host runs on its output's worker. */
export type OutputWorkerTask = { kind: 'stop' } | { kind: 'reopen' };

/** What a worker tells the host besides the ring counters. */
export interface WorkerReport {
  kind: 'error';
  /** The last failure: a gRPC status and details, or a channel's error. */
  error: string;
}
