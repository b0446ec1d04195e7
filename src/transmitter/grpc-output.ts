// createGrpcOutput(): the host-side half of the transmitter. emit() encodes on the calling
// thread into the shared ring and returns; a piscina-hosted worker does all network I/O.

import { Piscina } from 'piscina';
import { AlertEncoder, AlertTooLargeError, type AlertInput, type Utf8Buffer } from '../codec/alert.js';
import { createRingBuffer, RingProducer, type ConnectionState } from '../ring/ring.js';
import { resolveOptions, type GrpcOutputOptions, type ResolvedOptions } from './options.js';
import type { WorkerData, WorkerTask } from '../../workers/transmitter.js';
import type { SenderReport } from './sender.js';

const WORKER_FILE = new URL('../../workers/transmitter.js', import.meta.url).href;
/** The least time close() gives the worker to end its stream, even after a flush timed out. */
const STOP_GRACE_MS = 1500;

export interface DropCounts {
  /** The ring had no room (the receiver is slow, stalled or down). */
  full: number;
  /** The alert encoded to more than maxAlertBytes. */
  too_large: number;
  /** emit() threw a TypeError for it. */
  invalid: number;
  /** The receiver refused it on its own (for example, over its message size limit). */
  rejected: number;
}

export interface OutputStats {
  /** Every emit() call: emitted = acked + pending + dropped. */
  emitted: number;
  acked: number;
  /** In the ring, not yet acknowledged. */
  pending: number;
  pendingBytes: number;
  /** Sum of `drops`. */
  dropped: number;
  drops: DropCounts;
  /** Alerts written to the network, resends included. */
  sent: number;
  /** Alerts sent again after a reconnect. */
  resent: number;
  reconnects: number;
  workerRestarts: number;
  connection: ConnectionState;
  /** How the last stream failed (gRPC status and details), or null if none has. */
  lastError: string | null;
  /** Ring capacity in bytes. */
  bufferBytes: number;
}

export interface FlushResult {
  /** True when everything emitted before the call was acknowledged. */
  flushed: boolean;
  /** Alerts still waiting for an ack when the call returned. */
  pending: number;
}

export interface GrpcOutput {
  /** Queues one alert; false when it was dropped (counted in stats().drops). Never does I/O. */
  emit(alert: AlertInput): boolean;
  /** Resolves when alerts emitted before the call are acknowledged, or at the timeout. */
  flush(timeoutMs?: number): Promise<FlushResult>;
  /** Flushes, ends the stream, stops the worker. Idempotent. */
  close(timeoutMs?: number): Promise<FlushResult>;
  stats(): OutputStats;
}

let warnedInsecure = false;

class GrpcOutputImpl implements GrpcOutput {
  private readonly encoder: AlertEncoder;
  private readonly ring: RingProducer;
  private readonly ringBytes: Utf8Buffer;
  /** The largest alert encoded in place in the ring; larger ones are encoded in scratch and copied. */
  private readonly inPlaceWindow: number;
  private readonly pool: Piscina<WorkerTask, void>;
  private emitted = 0;
  private written = 0;
  private readonly drops: Omit<DropCounts, 'rejected'> = { full: 0, too_large: 0, invalid: 0 };
  private workerStarts = 0;
  private lastError: string | null = null;
  private closing: Promise<FlushResult> | null = null;
  private readonly onExit = (): void => this.exitFlush();

  constructor(private readonly opts: ResolvedOptions) {
    this.encoder = new AlertEncoder(opts.maxAlertBytes);
    const buffer = createRingBuffer(opts.capacity);
    this.ring = new RingProducer(buffer);
    this.ringBytes = this.ring.bytes as Utf8Buffer;
    this.inPlaceWindow = Math.min(opts.maxAlertBytes, 64 * 1024, opts.capacity / 4);
    this.pool = new Piscina<WorkerTask, void>({
      filename: WORKER_FILE,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Infinity,
      // The worker's event loop must never be parked in a synchronous Atomics.wait.
      atomics: 'disabled',
      workerData: { buffer, config: opts.sender } satisfies WorkerData,
    });
    // Each thread starts its sender from workerData as it loads (see workers/transmitter.ts);
    // this only counts them, a replacement after a crash being a restart.
    this.pool.on('workerCreate', () => {
      this.workerStarts++;
    });
    this.pool.on('message', (report: SenderReport) => {
      if (report?.kind === 'stream-error') this.lastError = report.error;
    });
    this.pool.on('error', (err: unknown) => {
      process.stderr.write(`falco-grpc-output: transmitter worker failed: ${String(err)}\n`);
    });
    process.on('exit', this.onExit);
    if (opts.warnInsecure && !warnedInsecure) {
      warnedInsecure = true;
      process.emitWarning(`sending alerts to ${opts.sender.target} in plaintext (insecure: true)`, {
        code: 'FALCO_GRPC_OUTPUT_INSECURE',
      });
    }
  }

  emit(alert: AlertInput): boolean {
    if (this.closing) throw new Error('falco-grpc-output: emit() called after close()');
    this.emitted++;
    let length: number;
    try {
      // Usual case: encode straight into the ring, no copy. An alert larger than the
      // in-place window, or a ring without that much room, goes through scratch below.
      const at = this.ring.reserve(this.inPlaceWindow);
      if (at >= 0) {
        try {
          length = this.encoder.encodeInto(alert, this.ringBytes, at, this.inPlaceWindow);
          this.ring.commit(length);
          this.written++;
          return true;
        } catch (err) {
          if (!(err instanceof AlertTooLargeError) || this.inPlaceWindow >= this.opts.maxAlertBytes) throw err;
        }
      }
      length = this.encoder.encode(alert);
    } catch (err) {
      if (err instanceof AlertTooLargeError) {
        this.drops.too_large++;
        return false;
      }
      this.drops.invalid++;
      throw err;
    }
    if (this.ring.tryWrite(this.encoder.scratch, length)) {
      this.written++;
      return true;
    }
    if (this.opts.onFull === 'block' && this.ring.waitForRoom(length, this.opts.blockTimeoutMs)) {
      if (this.ring.tryWrite(this.encoder.scratch, length)) {
        this.written++;
        return true;
      }
    }
    this.drops.full++;
    return false;
  }

  async flush(timeoutMs = 30_000): Promise<FlushResult> {
    const target = this.written;
    const deadline = performance.now() + timeoutMs;
    let interval = 1;
    for (;;) {
      const acked = this.ring.ackedSeq();
      if (acked >= target) return { flushed: true, pending: 0 };
      if (performance.now() >= deadline) return { flushed: false, pending: target - acked };
      await new Promise((resolve) => setTimeout(resolve, Math.min(interval, Math.max(1, deadline - performance.now()))));
      interval = Math.min(interval * 2, 20);
    }
  }

  close(timeoutMs = 10_000): Promise<FlushResult> {
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<FlushResult> {
    const started = performance.now();
    await this.flush(timeoutMs);
    this.ring.requestClose();
    // The worker ends its stream (a moment for the last acks); a worker that cannot, e.g.
    // wedged on a dead peer, is terminated by destroy() once the time is up.
    const left = Math.max(STOP_GRACE_MS, timeoutMs - (performance.now() - started));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.pool.run({ kind: 'stop' }).catch(() => {}),
      new Promise((resolve) => (timer = setTimeout(resolve, left))),
    ]);
    clearTimeout(timer);
    await this.pool.destroy();
    process.off('exit', this.onExit);
    const pending = this.written - this.ring.ackedSeq();
    const result: FlushResult = { flushed: pending === 0, pending };
    if (!result.flushed) {
      process.stderr.write(
        `falco-grpc-output: closed with ${result.pending} alert(s) not acknowledged by ${this.opts.sender.target}\n`,
      );
    }
    return result;
  }

  /** Process exit: give the worker a bounded time to deliver, then say what was lost. */
  private exitFlush(): void {
    if (this.ring.ackedSeq() < this.written) this.ring.waitForAck(this.written, this.opts.exitFlushMs);
    const lost = this.written - this.ring.ackedSeq();
    if (lost > 0) {
      process.stderr.write(
        `falco-grpc-output: process exiting with ${lost} alert(s) not acknowledged by ${this.opts.sender.target}; they are lost\n`,
      );
    }
  }

  stats(): OutputStats {
    const ackedSeq = this.ring.ackedSeq();
    const counters = this.ring.counters();
    const drops: DropCounts = { ...this.drops, rejected: counters.givenUp };
    return {
      emitted: this.emitted,
      acked: ackedSeq - counters.givenUp,
      pending: this.written - ackedSeq,
      pendingBytes: this.ring.usedBytes(),
      dropped: drops.full + drops.too_large + drops.invalid + drops.rejected,
      drops,
      sent: counters.sent,
      resent: counters.resent,
      reconnects: counters.reconnects,
      workerRestarts: Math.max(0, this.workerStarts - 1),
      connection: this.ring.connectionState(),
      lastError: this.lastError,
      bufferBytes: this.ring.capacity,
    };
  }

  /** For tests: the pool's threads, so a crash can be injected from outside. */
  workerThreads(): readonly import('node:worker_threads').Worker[] {
    return this.pool.threads;
  }
}

export function createGrpcOutput(options: GrpcOutputOptions): GrpcOutput {
  return new GrpcOutputImpl(resolveOptions(options));
}
