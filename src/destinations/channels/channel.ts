// The worker-side half of a classic output (stdout, file, syslog, program, http): it receives
// alerts already decoded and formatted, and does the I/O. It runs on the output's own worker
// thread, so it may block that thread's event loop briefly but never the host's.
// The ring-and-worker machinery around it (src/outputs/) reads the ring, formats each alert,
// calls deliver() with a batch, and frees ring space once deliver() resolves.

import type { response as FalcoAlert } from '../../gen/falco/outputs/outputs.js';

export interface ChannelItem {
  /**
   * The alert's fields (priority for syslog's severity, ...), decoded only for a channel that sets
   * `wantsFields`: the others get null, and the worker saves a decode per alert.
   */
  alert: FalcoAlert | null;
  /** The alert formatted as configured (Falco JSON or Falco's text line), without a trailing newline. */
  line: string;
}

export interface DeliveryReport {
  /** Items that reached the channel (written, sent, accepted with a 2xx). */
  delivered: number;
  /** Items given up on, after the channel's own retries. delivered + failed = items.length. */
  failed: number;
  /** When failed > 0: why the last one was given up, saying what and where (e.g. "POST http://x: 503 after 5 attempts"). */
  error?: string;
}

export interface Channel {
  /** True when deliver() reads `item.alert`; otherwise items carry only their line. */
  readonly wantsFields?: boolean;
  /**
   * Delivers a batch, in order. Resolves once every item is delivered or given up; never rejects.
   * Retries and backoff happen inside. When `signal` aborts (the host is closing and its timeout
   * passed), stop retrying and count what is left as failed.
   */
  deliver(items: readonly ChannelItem[], signal: AbortSignal): Promise<DeliveryReport>;
  /** Reopen whatever can be reopened (files after SIGHUP). Optional. */
  reopen?(): void;
  /** Flush and release everything (files, sockets, child processes). Idempotent. */
  close(): Promise<void>;
}
