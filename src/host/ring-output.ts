// The host-side half of every output: emit() encodes on the calling thread into the output's
// own SharedArrayBuffer ring and returns; a worker thread (src/host/output-thread.ts) does all
// the I/O (a gRPC stream, or a classic channel), so a slow destination never reaches the host.

import type { Worker } from 'node:worker_threads';
import { AlertEncoder, AlertTooLargeError, type AlertInput, type Utf8Buffer } from '../codec/alert.js';
import { createRingBuffer, RingProducer } from '../ring/ring.js';
import type { DropCounts, FlushResult, Output, OutputStats } from './output.js';
import type { ResolvedQueue } from './queue-options.js';
import type { OutputWorkerData, WorkerReport } from '../worker/contract.js';
import { OutputThread } from './output-thread.js';
import { SpoolAccount } from './spool-account.js';

const WORKER_FILE = new URL('../worker/output-worker.js', import.meta.url);
/** The least time close() gives the worker to end its stream, even after a flush timed out. */
const STOP_GRACE_MS = 1500;

/** When the exit hooks of this process stop waiting (set by the first one that runs). */
let exitDeadline: number | undefined;

type WorkerSpec = OutputWorkerData extends infer T ? (T extends unknown ? Omit<T, 'buffer' | 'spool'> : never) : never;

export class RingOutput implements Output {
  private readonly encoder: AlertEncoder;
  private readonly ring: RingProducer;
  private readonly ringBytes: Utf8Buffer;
  /** The largest alert encoded in place in the ring; larger ones are encoded in scratch and copied. */
  private readonly inPlaceWindow: number;
  private readonly thread: OutputThread;
  private emitted = 0;
  private written = 0;
  private readonly drops: Omit<DropCounts, 'rejected' | 'failed' | 'spool_full' | 'corrupt'> = { full: 0, too_large: 0, invalid: 0, unacked_at_close: 0 };
  private lastError: string | null = null;
  private closing: Promise<FlushResult> | null = null;
  private readonly onExit = (): void => this.exitFlush();
  /** The worker counts what it gave up on in one place; gRPC calls that a rejection, a channel a failure. */
  private readonly givenUpAs: 'rejected' | 'failed';
  /** How loss is worded: "not acknowledged by unix:///x.sock" (gRPC), "not delivered to file /x" (channels). */
  private readonly notDone: string;
  /** The spool behind the ring (src/spool/), or null. */
  private readonly spool: SpoolAccount | null;

  constructor(
    readonly name: string,
    private readonly queue: ResolvedQueue,
    worker: WorkerSpec,
  ) {
    this.givenUpAs = worker.kind === 'grpc' ? 'rejected' : 'failed';
    this.notDone = worker.kind === 'grpc' ? `not acknowledged by ${worker.config.target}` : `not delivered to ${name}`;
    this.encoder = new AlertEncoder(queue.maxAlertBytes);
    const buffer = createRingBuffer(queue.capacity);
    this.ring = new RingProducer(buffer);
    this.ringBytes = this.ring.bytes as Utf8Buffer;
    this.inPlaceWindow = Math.min(queue.maxAlertBytes, 64 * 1024, queue.capacity / 4);
    // --- spool: its directory is locked here, so that a second process is refused by this constructor.
    this.spool = queue.spool ? new SpoolAccount(this.ring, queue.spool, `falco-grpc-output: ${name}`, queue.log) : null;
    this.thread = new OutputThread(WORKER_FILE, { ...worker, buffer, spool: queue.spool } as OutputWorkerData, () => this.progress(), {
      report: (report: WorkerReport) => {
        if (report.kind === 'error') this.lastError = report.error;
        else if (report.kind === 'log') queue.log(report.line);
      },
      died: (why, next) => {
        if ('gaveUp' in next) {
          this.lastError = this.thread.gaveUp;
          queue.log(`falco-grpc-output: ${name}: ${this.thread.gaveUp}; alerts stay in its ring and are counted at close`);
        } else {
          queue.log(`falco-grpc-output: ${name}: worker thread died (${why}); ${next.restartInMs === 0 ? 'restarting it' : `restarting it in ${next.restartInMs} ms`}`);
        }
      },
    });
    process.on('exit', this.onExit);
  }

  emit(alert: AlertInput): boolean {
    this.checkOpen();
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
          if (!(err instanceof AlertTooLargeError) || this.inPlaceWindow >= this.queue.maxAlertBytes) throw err;
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
    return this.write(this.encoder.scratch, length);
  }

  /** Fan-out: one alert already encoded by the caller, copied into this output's ring. */
  emitEncoded(bytes: Uint8Array, length: number): boolean {
    this.checkOpen();
    this.emitted++;
    if (length > this.queue.maxAlertBytes) {
      this.drops.too_large++;
      return false;
    }
    return this.write(bytes, length);
  }

  /** Fan-out: the caller could not encode an alert; it counts here as emitted and dropped. */
  countUnencodable(reason: 'invalid' | 'too_large'): void {
    this.checkOpen();
    this.emitted++;
    this.drops[reason]++;
  }

  private write(bytes: Uint8Array, length: number): boolean {
    if (this.ring.tryWrite(bytes, length)) {
      this.written++;
      return true;
    }
    if (this.queue.onFull === 'block' && this.ring.waitForRoom(length, this.queue.blockTimeoutMs)) {
      if (this.ring.tryWrite(bytes, length)) {
        this.written++;
        return true;
      }
    }
    this.drops.full++;
    return false;
  }

  /** Bytes free in the ring now: a caller that would rather wait than drop can await room without blocking. */
  freeBytes(): number {
    return this.ring.capacity - this.ring.usedBytes();
  }

  /** The largest encoded alert this output takes. */
  get maxAlertBytes(): number {
    return this.queue.maxAlertBytes;
  }

  /** True once close() was called: emit() would throw. */
  get closed(): boolean {
    return this.closing !== null;
  }

  private checkOpen(): void {
    if (this.closing) throw new Error(`falco-grpc-output: ${this.name}: emit() called after close()`);
  }

  async flush(timeoutMs = 30_000): Promise<FlushResult> {
    const written = this.written;
    const deadline = performance.now() + timeoutMs;
    let interval = 1;
    for (;;) {
      // With a spool, what to wait for is known once the worker has taken these records (and the backlog).
      const target = this.spool ? this.spool.flushTarget(written) : written;
      const acked = this.ring.settled().ackedSeq; // the pair stats() reads, so a flushed output's stats are final
      if (target !== null && acked >= target) return { flushed: true, pending: 0 };
      if (performance.now() >= deadline) return { flushed: false, pending: this.spool ? this.stats().pending : written - acked };
      await new Promise((resolve) => setTimeout(resolve, Math.min(interval, Math.max(1, deadline - performance.now()))));
      interval = Math.min(interval * 2, 20);
    }
  }

  /** Asks the channel to reopen what it can (files, after logrotate's SIGHUP). */
  async reopen(): Promise<void> {
    if (!this.closing) await this.thread.request({ kind: 'reopen' });
  }

  /** Grows while the worker gets anything done: what tells a crash loop from a crash. */
  private progress(): number {
    return this.ring.ackedSeq() + this.ring.counters().sent;
  }

  close(timeoutMs = 10_000): Promise<FlushResult> {
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<FlushResult> {
    const started = performance.now();
    await this.flush(timeoutMs);
    this.ring.requestClose();
    // The worker ends its stream or channel (a moment for the last acks); a worker that cannot,
    // e.g. wedged on a dead peer, is terminated by destroy() once the time is up.
    const left = Math.max(STOP_GRACE_MS, timeoutMs - (performance.now() - started));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.thread.request({ kind: 'stop' }).catch(() => {}),
      new Promise((resolve) => (timer = setTimeout(resolve, left))),
    ]);
    clearTimeout(timer);
    await this.thread.stop();
    process.off('exit', this.onExit);
    // The worker is gone: what it did not deliver never will be, and counts as dropped from now on;
    // except, with a spool, what is on disk: that waits for the next process, still pending.
    const pending = this.stats().pending;
    this.drops.unacked_at_close = this.spool ? this.spool.notOnDisk(this.written, pending) : pending;
    const result: FlushResult = { flushed: pending === 0, pending };
    if (!result.flushed) {
      const what = this.spool
        ? `pending: ${this.spool.leftBehind(this.written, pending, this.notDone, ' (counted as dropped: unacked_at_close)')}`
        : `${this.notDone} (counted as dropped: unacked_at_close)`;
      this.queue.log(`falco-grpc-output: closed with ${pending} alert(s) ${what}`);
    }
    this.spool?.release();
    return result;
  }

  /**
   * Process exit: give the worker a bounded time to deliver, then say what was lost. The outputs
   * of one process share one deadline, so six dead destinations do not wait six times over.
   */
  private exitFlush(): void {
    exitDeadline ??= performance.now() + this.queue.exitFlushMs;
    const left = Math.max(0, exitDeadline - performance.now());
    if (this.spool) return this.exitWithSpool(left);
    if (this.ring.ackedSeq() < this.written && left > 0) this.ring.waitForAck(this.written, left);
    const lost = this.written - this.ring.ackedSeq();
    if (lost > 0) this.queue.log(`falco-grpc-output: process exiting with ${lost} alert(s) ${this.notDone}; they are lost`);
  }

  /** Exit with a spool: alerts on disk are not lost, so only their move out of the ring is waited for. */
  private exitWithSpool(left: number): void {
    const spool = this.spool!;
    if (!spool.safe(this.written) && left > 0) this.ring.waitUntil(() => spool.safe(this.written), left);
    const pending = this.stats().pending;
    if (pending > 0) this.queue.log(`falco-grpc-output: process exiting: ${spool.leftBehind(this.written, pending, this.notDone)}`);
    spool.release();
  }

  stats(): OutputStats {
    const { ackedSeq, givenUp } = this.ring.settled();
    const counters = this.ring.counters();
    const drops: DropCounts = { ...this.drops, rejected: 0, failed: 0, spool_full: 0, corrupt: 0 };
    drops[this.givenUpAs] = givenUp;
    // With an open spool, its counts (sequence numbers continue across processes); else the ring's.
    const spooled = this.spool?.counts(this.written, givenUp) ?? null;
    if (spooled) {
      drops.spool_full = spooled.spool_full;
      drops.corrupt = spooled.corrupt;
    }
    return {
      emitted: this.emitted,
      replayed: spooled?.replayed ?? 0,
      acked: spooled?.acked ?? ackedSeq - givenUp,
      pending: (spooled?.pending ?? this.written - ackedSeq) - drops.unacked_at_close,
      pendingBytes: drops.unacked_at_close > 0 ? 0 : this.ring.usedBytes(),
      dropped: drops.full + drops.too_large + drops.invalid + drops.rejected + drops.failed + drops.spool_full + drops.corrupt + drops.unacked_at_close,
      drops,
      sent: counters.sent,
      resent: counters.resent,
      reconnects: counters.reconnects,
      workerRestarts: Math.max(0, this.thread.starts - 1),
      // A dead worker left its last state in the ring; between threads there is no connection.
      connection: this.thread.alive || this.closing ? this.ring.connectionState() : this.thread.gaveUp ? 'closed' : 'backoff',
      lastError: this.lastError,
      bufferBytes: this.ring.capacity,
      spool: this.spool?.stats() ?? null,
    };
  }

  /** For tests: the output's live worker thread, so a crash can be injected from outside. */
  workerThreads(): readonly Worker[] {
    return this.thread.threads;
  }
}
