// What an output's worker thread is started with: the ring, the spool behind it if any, and
// which kind of sink drains it. Plain data, cloned across threads.

import type { SenderConfig } from '../destinations/grpc/config.js';
import type { ChannelConfig } from '../destinations/channels/registry.js';
import type { FormatOptions } from '../codec/format.js';
import type { SpoolConfig } from '../spool/options.js';

interface Common {
  buffer: SharedArrayBuffer;
  spool: SpoolConfig | null;
}

export type OutputWorkerData =
  | (Common & {
      kind: 'grpc';
      config: SenderConfig;
      /** The producerId option as given (the spool directory keeps the id it was created with). */
      requestedProducerId: string | null;
    })
  | (Common & { kind: 'channel'; channel: ChannelConfig; format: FormatOptions; batchAlerts: number });

/** Tasks the host runs on its output's worker. */
export type OutputWorkerTask = { kind: 'stop' } | { kind: 'reopen' };

/** A task as posted to the worker; the worker answers with a `done` report of the same id. */
export interface WorkerRequest {
  id: number;
  task: OutputWorkerTask;
}

/** What a worker tells the host besides the ring counters. */
export type WorkerReport =
  /** The last failure: a gRPC status and details, or a channel's error (stats().lastError). */
  | { kind: 'error'; error: string }
  /** A line for the host's log hook. */
  | { kind: 'log'; line: string }
  /** The task of this request id finished (with `error` when it failed). */
  | { kind: 'done'; id: number; error?: string };
